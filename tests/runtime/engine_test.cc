// Engine interface over V8: compile, validate, host functions, traps with locations, time limit,
// memory growth, the memory limit rewrite and the authenticated code cache.
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "runtime/code_cache.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using test::wat_module;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine = make_v8_engine(); }
  std::unique_ptr<Instance> load(const std::string& name, const Imports& imports = {}) {
    wasm = read_file(wat_module(name));
    module = engine->compile(wasm);
    return engine->instantiate(*module, imports);
  }
  std::unique_ptr<Engine> engine;
  Bytes wasm;
  std::unique_ptr<Module> module;
};

TEST_F(EngineTest, CallsAnExport) {
  auto inst = load("traps");
  CallOutcome r = inst->call("add", {40, 2}, {});
  ASSERT_EQ(r.kind, CallOutcome::Kind::Returned);
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0], 42u);
  EXPECT_TRUE(inst->has_export("memory", "memory"));
  EXPECT_FALSE(inst->has_export("nope", "function"));
  EXPECT_THROW(inst->call("nope", {}, {}), Error);
}

TEST_F(EngineTest, ReportsImportsAndExports) {
  auto inst = load("traps");
  bool found = false;
  for (auto& e : module->exports()) found |= e.name == "grow_and_touch" && e.kind == "function";
  EXPECT_TRUE(found);
  wasm = read_file(wat_module("exit"));
  auto m = engine->compile(wasm);
  auto imps = m->imports();
  ASSERT_EQ(imps.size(), 1u);
  EXPECT_EQ(imps[0].module, "wasi_snapshot_preview1");
  EXPECT_EQ(imps[0].name, "proc_exit");
}

struct TrapCase {
  const char* fn;
  const char* message;
  const char* where;
};

TEST_F(EngineTest, TrapsNameTheFunction) {
  auto inst = load("traps");
  for (TrapCase t : {TrapCase{"unreachable", "unreachable", "crash_unreachable"},
                     TrapCase{"oob", "memory access out of bounds", "crash_oob"},
                     TrapCase{"div0", "divide by zero", "crash_div0"},
                     TrapCase{"recurse", "Maximum call stack size exceeded", "recurse"}}) {
    CallOutcome r = inst->call(t.fn, {0}, {});
    ASSERT_EQ(r.kind, CallOutcome::Kind::Trapped) << t.fn;
    EXPECT_NE(r.message.find(t.message), std::string::npos) << r.message;
    EXPECT_NE(r.location.find(t.where), std::string::npos) << r.location;
  }
  // The instance stays usable after a trap.
  EXPECT_EQ(inst->call("add", {1, 2}, {}).results.at(0), 3u);
}

TEST_F(EngineTest, MemoryGrowIsSeenByTheHost) {
  auto inst = load("traps");
  EXPECT_EQ(inst->memory().size(), 65536u);
  CallOutcome r = inst->call("grow_and_touch", {}, {});
  ASSERT_EQ(r.kind, CallOutcome::Kind::Returned) << r.message;
  EXPECT_EQ(r.results.at(0), 42u);
  MemoryView m = inst->memory();
  EXPECT_EQ(m.size(), 2u * 65536);
  EXPECT_EQ(*m.load<std::uint8_t>(2 * 65536 - 1), 42);
  EXPECT_EQ(m.ptr(2 * 65536, 1), nullptr);
  EXPECT_NE(m.ptr(2 * 65536, 0), nullptr);
  EXPECT_EQ(m.ptr(UINT64_MAX, 2), nullptr);
  EXPECT_EQ(m.ptr(1, UINT64_MAX), nullptr);
}

TEST_F(EngineTest, HostFunctionsExitAndErrors) {
  Imports imports;
  int calls = 0;
  imports.add("wasi_snapshot_preview1", "proc_exit",
              {ResultType::None, [&](HostCall& c) -> std::uint64_t {
                 ++calls;
                 EXPECT_EQ(c.arg_count(), 1u);
                 EXPECT_EQ(c.memory().size(), 65536u);
                 throw GuestExit{static_cast<int>(c.u32(0))};
               }});
  auto inst = load("exit", imports);
  CallOutcome r = inst->call("_start", {}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::Exited);
  EXPECT_EQ(r.exit_code, 300);
  EXPECT_EQ(calls, 1);

  Imports failing;
  failing.add("wasi_snapshot_preview1", "proc_exit",
              {ResultType::None, [](HostCall&) -> std::uint64_t { throw std::runtime_error("boom"); }});
  auto inst2 = engine->instantiate(*module, failing);
  r = inst2->call("_start", {}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::Trapped);
  EXPECT_NE(r.message.find("boom"), std::string::npos);
}

TEST_F(EngineTest, UnresolvedImportFailsInstantiation) {
  wasm = read_file(wat_module("exit"));
  auto m = engine->compile(wasm);
  try {
    engine->instantiate(*m, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "runtime.instantiate");
    EXPECT_NE(std::string(e.what()).find("proc_exit"), std::string::npos);
  }
}

TEST_F(EngineTest, CpuTimeLimitStopsAnEndlessLoop) {
  auto inst = load("spin");
  auto cpu0 = test::thread_cpu_time();
  auto t0 = std::chrono::steady_clock::now();
  CallOutcome r = inst->call("_start", {}, {.deadline = {}, .cpu_time = std::chrono::milliseconds(200)});
  auto took = std::chrono::steady_clock::now() - t0;
  auto cpu_used = test::thread_cpu_time() - cpu0;
  EXPECT_EQ(r.kind, CallOutcome::Kind::TimedOut);
  EXPECT_TRUE(r.cpu_time_exceeded);
  EXPECT_EQ(r.message, "CPU time limit exceeded");
  EXPECT_GE(cpu_used, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(5));
  // With both limits, the one passed first is reported.
  t0 = std::chrono::steady_clock::now();
  r = inst->call("_start", {},
                 {.deadline = t0 + std::chrono::milliseconds(200),
                  .cpu_time = std::chrono::seconds(30)});
  EXPECT_EQ(r.kind, CallOutcome::Kind::TimedOut);
  EXPECT_FALSE(r.cpu_time_exceeded);
}

TEST_F(EngineTest, TimeLimitStopsAnEndlessLoop) {
  auto inst = load("spin");
  auto t0 = std::chrono::steady_clock::now();
  CallOutcome r = inst->call("_start", {}, {.deadline = t0 + std::chrono::milliseconds(300), .cpu_time = {}});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.kind, CallOutcome::Kind::TimedOut);
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::seconds(5));
  // The isolate is usable again afterwards.
  auto inst2 = load("traps");
  EXPECT_EQ(inst2->call("add", {2, 2}, {}).results.at(0), 4u);
}

// The size of the inaccessible (---p) mapping of this process that starts at `addr` (0: none).
std::uint64_t inaccessible_mapping_at(std::uintptr_t addr) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    auto dash = range.find('-');
    if (dash == std::string::npos) continue;
    std::uint64_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    std::uint64_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (lo == addr) return perms == "---p" ? hi - lo : 0;
  }
  return 0;
}

// The default engine uses guard pages, not explicit bounds checks: its id (and so its code
// cache entries) says so, and the instance's linear memory sits in V8's full guard region
// (V8 10.2: 10 GiB reserved; after the memory's pages, inaccessible up to 8 GiB past its
// start), whose inaccessible tail is what turns an out-of-bounds access into a trap. An
// engine that silently fell back to bounds checks (trap handler not enabled, or memory
// allocated without guards) would fail here.
TEST_F(EngineTest, DefaultModeUsesGuardPages) {
  if (!trap_handler_supported()) GTEST_SKIP() << "no trap handler under AddressSanitizer";
  EXPECT_NE(engine->id().find("-traphandler"), std::string::npos) << engine->id();
  auto inst = load("traps");
  MemoryView mem = inst->memory();
  ASSERT_EQ(mem.size(), 65536u);  // one page
  auto end = reinterpret_cast<std::uintptr_t>(mem.ptr(0, 0)) + mem.size();
  EXPECT_GE(inaccessible_mapping_at(end), std::uint64_t{4} << 30);
  // And an access past the end still traps (through the signal handler).
  CallOutcome r = inst->call("oob", {}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::Trapped);
  EXPECT_NE(r.message.find("memory access out of bounds"), std::string::npos) << r.message;
}

TEST_F(EngineTest, InvalidModules) {
  Bytes junk = to_bytes("not wasm at all");
  try {
    engine->validate(junk);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "runtime.module.invalid");
  }
  EXPECT_THROW(engine->compile(junk), Error);
  Bytes truncated = read_file(wat_module("traps"));
  truncated.resize(truncated.size() / 2);
  EXPECT_THROW(engine->compile(truncated), Error);
  EXPECT_NO_THROW(engine->validate(read_file(wat_module("traps"))));
}

TEST(LimitMemory, RewritesTheMaximum) {
  auto engine = make_v8_engine();
  Bytes grow = read_file(wat_module("grow"));
  Bytes limited = limit_memory(grow, 4);
  auto m = engine->compile(limited);
  auto inst = engine->instantiate(*m, {});
  CallOutcome r = inst->call("_start", {}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::Trapped);
  EXPECT_EQ(inst->memory().size(), 4u * 65536);

  try {
    limit_memory(read_file(wat_module("big_memory")), 16);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "runtime.limit.memory");
  }
  EXPECT_THROW(limit_memory(to_bytes("\0asm\x02\0\0\0"), 1), Error);
  Bytes bad = grow;
  bad.push_back(5);     // a memory section header...
  bad.push_back(0x7f);  // ...claiming more bytes than remain
  EXPECT_THROW(limit_memory(bad, 4), Error);
}

TEST(CodeCache, RoundTripAndTamper) {
  TempDir dir;
  Bytes key = CodeCache::load_or_create_key(dir.path() / "key");
  EXPECT_EQ(key, CodeCache::load_or_create_key(dir.path() / "key"));
  CodeCache cache(dir.path() / "cache", key);
  auto engine = make_v8_engine();
  Bytes wasm = read_file(wat_module("traps"));
  Bytes digest = sha256(wasm);

  auto m1 = engine->compile(wasm);
  EXPECT_FALSE(m1->loaded_from_cache());
  Bytes code = m1->serialize();
  ASSERT_FALSE(code.empty());
  cache.store(engine->id(), digest, code);
  Bytes loaded = cache.load(engine->id(), digest);
  EXPECT_EQ(loaded, code);
  auto m2 = engine->compile(wasm, loaded);
  EXPECT_TRUE(m2->loaded_from_cache());
  auto inst = engine->instantiate(*m2, {});
  EXPECT_EQ(inst->call("add", {5, 6}, {}).results.at(0), 11u);

  // Another module digest or engine id never matches the entry.
  EXPECT_TRUE(cache.load(engine->id(), sha256(to_bytes("other"))).empty());
  EXPECT_TRUE(cache.load("v8-other", digest).empty());

  // One flipped bit in the stored code: rejected (and removed) before reaching the engine.
  auto path = cache.entry_path(engine->id(), digest);
  Bytes raw = read_file(path);
  raw[raw.size() / 2] ^= 1;
  write_file_atomic(path, ByteView(raw));
  EXPECT_TRUE(cache.load(engine->id(), digest).empty());
  EXPECT_FALSE(std::filesystem::exists(path));

  // A different key cannot authenticate entries made with this one.
  cache.store(engine->id(), digest, code);
  CodeCache other(dir.path() / "cache", Bytes(32, 7));
  EXPECT_TRUE(other.load(engine->id(), digest).empty());
  EXPECT_THROW(CodeCache(dir.path(), Bytes(16, 1)), Error);
}

}  // namespace
}  // namespace enarx::runtime
