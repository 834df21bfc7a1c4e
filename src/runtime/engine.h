// Engine-neutral WebAssembly interface: compile / validate / instantiate / call an export /
// access linear memory / provide host functions. WASI (wasi.h) and the runtime (runtime.h) only
// talk to this interface, so the engine underneath (V8 today, see v8_engine.cc) can be swapped.
//
// Threading: an Engine and everything created from it must be used from one thread at a time.
// The only cross-thread operation is the time limit, which the engine implements itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace enarx::runtime {

// A bounds-checked view of a linear memory, valid only for the duration of one host call: the
// guest may grow (and so move) the memory on its next instruction.
class MemoryView {
 public:
  MemoryView() = default;
  MemoryView(std::uint8_t* base, std::size_t size) : base_(base), size_(size) {}

  std::size_t size() const { return size_; }
  // The address range [addr, addr + len), or nullptr when any byte of it is outside memory.
  // (len 0 at addr == size is allowed: an empty buffer just past the end.)
  std::uint8_t* ptr(std::uint64_t addr, std::uint64_t len) const {
    if (addr > size_ || len > size_ - addr) return nullptr;
    return base_ + addr;
  }
  template <typename T>
  std::optional<T> load(std::uint64_t addr) const {
    const std::uint8_t* p = ptr(addr, sizeof(T));
    if (!p) return std::nullopt;
    T v;
    std::memcpy(&v, p, sizeof(T));  // wasm is little-endian, as is every host we build for
    return v;
  }
  template <typename T>
  bool store(std::uint64_t addr, T v) const {
    std::uint8_t* p = ptr(addr, sizeof(T));
    if (!p) return false;
    std::memcpy(p, &v, sizeof(T));
    return true;
  }

 private:
  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
};

// What a host function sees of its caller.
class HostCall {
 public:
  virtual ~HostCall() = default;
  virtual std::size_t arg_count() const = 0;
  // The raw bits of argument i: i32 zero-extended, i64 as is. Missing arguments read as 0.
  virtual std::uint64_t arg(std::size_t i) const = 0;
  std::uint32_t u32(std::size_t i) const { return static_cast<std::uint32_t>(arg(i)); }
  // The caller's exported "memory", re-read on every call (an empty view if there is none).
  virtual MemoryView memory() = 0;
  // True once a limit of the running call (CallLimits: time or CPU) has passed. The engine can
  // only stop the guest when a host function returns, so one that computes for long checks
  // this between steps and throws GuestTimeout.
  virtual bool interrupted() const { return false; }
};

// Thrown by a host function to end the guest (WASI proc_exit). The engine unwinds the wasm stack
// and the call reports Outcome::Exited with this code.
struct GuestExit {
  int code;
};
// Thrown by a host function that gave up because the time limit passed while it waited.
struct GuestTimeout {};

enum class ResultType { None, I32, I64 };

struct HostFunction {
  ResultType result = ResultType::I32;
  std::function<std::uint64_t(HostCall&)> fn;
};

// Host functions by (module, name). Imports the table does not have get `fallback` if set (WASI
// uses it to answer ENOSYS to calls it does not know); otherwise instantiation fails.
struct Imports {
  std::map<std::pair<std::string, std::string>, HostFunction> functions;
  std::optional<HostFunction> fallback;
  void add(std::string module, std::string name, HostFunction f) {
    functions[{std::move(module), std::move(name)}] = std::move(f);
  }
};

struct ImportInfo {
  std::string module, name, kind;  // kind: function, memory, table, global
};
struct ExportInfo {
  std::string name, kind;
};

struct EngineOptions {
  // true: the optimising compiler (TurboFan) compiles every function before anything runs.
  // false ("tiered"): the baseline compiler (Liftoff) compiles the module in a fraction of the
  // time and the workload starts at once, while TurboFan compiles every function in the
  // background; each call switches to optimised code once it has landed. V8 10.2 cannot
  // replace a function that is already running, so a loop entered before its function was
  // optimised stays in baseline code until that call returns. Module::serialize() is empty
  // until the background compile has finished. One mode per process (V8 flags are global).
  bool optimize = true;
  // Guard-page bounds checks via a signal handler. Off = explicit bounds checks (slower).
  bool trap_handler = true;
};

// The result of calling an export.
struct CallOutcome {
  enum class Kind {
    Returned,   // the function returned; `results` holds its values
    Exited,     // a host function threw GuestExit (proc_exit); `exit_code` set
    Trapped,    // a wasm trap (or uncaught host error); `message` describes it
    TimedOut,   // a limit of CallLimits passed (`cpu_time_exceeded` says which)
  } kind = Kind::Returned;
  bool cpu_time_exceeded = false;  // TimedOut by CallLimits::cpu_time, not the wall deadline
  int exit_code = 0;
  std::vector<std::uint64_t> results;
  std::string message;   // e.g. "RuntimeError: unreachable"
  std::string location;  // e.g. "at main (wasm://wasm/..:wasm-function[3]:0x56)" when known
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::vector<ImportInfo> imports() const = 0;
  virtual std::vector<ExportInfo> exports() const = 0;
  // Engine-specific native code for the code cache (empty if the engine cannot serialise).
  virtual Bytes serialize() const = 0;
  // Whether compile() used the supplied cached code (false: it compiled from scratch).
  virtual bool loaded_from_cache() const = 0;
};

// Limits on one Instance::call; the engine stops the guest when one is passed.
struct CallLimits {
  std::optional<std::chrono::steady_clock::time_point> deadline;  // wall clock
  // CPU time of the calling thread during the call: wasm code and the host calls it makes, not
  // the engine's background compile threads. Time blocked (poll, accept) does not count.
  std::optional<std::chrono::nanoseconds> cpu_time;
};

class Instance {
 public:
  virtual ~Instance() = default;
  // Calls an exported function with i32/i64 arguments given as raw bits.
  virtual CallOutcome call(const std::string& name, const std::vector<std::uint64_t>& args,
                           const CallLimits& limits) = 0;
  virtual bool has_export(const std::string& name, const std::string& kind) const = 0;
  // The exported "memory" (empty view if none). Only valid until the guest runs again.
  virtual MemoryView memory() = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // A short name + version, part of the code cache binding (e.g. "v8-10.2.154.26").
  virtual std::string id() const = 0;
  // Throws Error("runtime.module.invalid") with the engine's reason.
  virtual void validate(ByteView wasm) = 0;
  // Compiles; `cached` is engine code from Module::serialize() of the same bytes (already
  // authenticated by the caller). Throws Error("runtime.module.invalid").
  virtual std::unique_ptr<Module> compile(ByteView wasm, ByteView cached = {}) = 0;
  // Throws Error("runtime.instantiate") (missing import, start trap, out of memory, ...).
  virtual std::unique_ptr<Instance> instantiate(Module& module, const Imports& imports) = 0;
};

// The V8 engine. The first call fixes process-wide settings (V8 flags and the trap handler can
// only be set once per process); later calls with different options get the first ones.
// The first call also loads the engine plugin (libenarx-v8.so and with it libnode) into the
// process; throws Error("runtime.engine") when it cannot be loaded.
std::unique_ptr<Engine> make_v8_engine(const EngineOptions& options = {});

// Whether this is an AddressSanitizer build (inline: the engine plugin and the executable are
// built with the same flags and must agree).
inline bool address_sanitizer_build() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

// Whether guard-page trap handling is usable in this build (false under AddressSanitizer, whose
// SIGSEGV handling and shadow memory conflict with V8's handler and 10 GiB reservations).
inline bool trap_handler_supported() { return !address_sanitizer_build(); }

// Rewrites the module's own memory declaration so it can never grow past `max_pages` (64 KiB
// pages), by lowering (or adding) the maximum in its limits. Imported memories are left alone.
// Throws Error("runtime.limit.memory") when the initial size is already above the limit and
// Error("runtime.module.invalid") when the section cannot be parsed.
Bytes limit_memory(ByteView wasm, std::uint32_t max_pages);

// A function the module imports, with its type as a signature string: one letter per parameter
// (i = i32, I = i64, f = f32, F = f64, v = v128, r = a reference), ':' and the results the same
// way ("iIi:i" is (i32, i64, i32) -> i32).
struct FunctionImport {
  std::string module, name, signature;
};
// Reads the type and import sections (bounds-checked; Error "runtime.module.invalid" when they
// cannot be parsed). Imports of tables, memories, globals and tags are skipped.
std::vector<FunctionImport> function_imports(ByteView wasm);

}  // namespace enarx::runtime
