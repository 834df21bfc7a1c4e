#include "runtime/runtime.h"

#include <csignal>

#include "core/crypto.h"
#include "core/error.h"
#include "runtime/config.h"
#include "runtime/vfs.h"
#include "runtime/wasi.h"

namespace enarx::runtime {
namespace {

RunResult fail(RunResult::Status s, int code, std::string error_code, std::string message) {
  RunResult r;
  r.status = s;
  r.exit_code = code;
  r.error_code = std::move(error_code);
  r.message = std::move(message);
  return r;
}

constexpr std::uint64_t kPage = 65536;

// Linear memory the guest needs to hold `list` as wasi-libc lays out argv or environ: the
// strings with their NULs, and a pointer to each plus the terminating null pointer.
std::uint64_t guest_bytes(const std::vector<std::string>& list) {
  std::uint64_t n = 4 * (list.size() + 1);
  for (const auto& s : list) n += s.size() + 1;
  return n;
}

// A guest that asked for the size of its argv (or environ) and then exited without reading it,
// when that much more would not have fit in its memory: its start-up could not allocate them.
bool exited_for_want_of_memory(const Wasi& wasi, std::uint64_t memory_size, std::uint64_t limit,
                               std::uint64_t args_bytes, std::uint64_t env_bytes) {
  const auto& calls = wasi.call_counts();
  auto called = [&](const char* name) { return calls.count(name) > 0; };
  bool args_unread = called("args_sizes_get") && !called("args_get");
  bool env_unread = called("environ_sizes_get") && !called("environ_get");
  return (args_unread && memory_size + args_bytes > limit) ||
         (env_unread && memory_size + env_bytes > limit);
}

}  // namespace

std::string_view to_string(RunResult::Status s) {
  switch (s) {
    case RunResult::Status::Exited: return "exited";
    case RunResult::Status::Trapped: return "trapped";
    case RunResult::Status::TimeLimit: return "time-limit";
    case RunResult::Status::MemoryLimit: return "memory-limit";
    case RunResult::Status::ConfigError: return "config-error";
    case RunResult::Status::ModuleError: return "module-error";
  }
  return "?";
}

RunResult run_workload(const Workload& w, const RunOptions& o) {
  using Status = RunResult::Status;
  // Writes to a peer that went away must be an EPIPE for the guest, not a dead runtime.
  std::signal(SIGPIPE, SIG_IGN);
  auto start = std::chrono::steady_clock::now();
  Deadline deadline;
  if (o.time_limit) deadline = start + *o.time_limit;

  WasiOptions wo;
  wo.args.push_back(o.argv0);
  wo.args.insert(wo.args.end(), w.config.args.begin(), w.config.args.end());
  wo.env = workload_environment(w.config);
  wo.deadline = deadline;
  // parse_config bounded what the file held; the command line after `--` adds to it, and a
  // Config may be built by hand. The bounds are on what the guest gets.
  if (w.config.files.size() > kMaxFiles)
    return fail(Status::ConfigError, kExitConfig, "runtime.config.too_large",
                std::to_string(w.config.files.size()) + " [[files]], more than " +
                    std::to_string(kMaxFiles));
  try {
    check_args_and_env(wo.args, wo.env, "args and environment");
  } catch (const Error& e) {
    return fail(Status::ConfigError, kExitConfig, e.code(), e.what());
  }
  const std::uint64_t args_bytes = guest_bytes(wo.args), env_bytes = guest_bytes(wo.env);

  Bytes limited;
  ByteView wasm = w.wasm;
  std::optional<std::uint32_t> max_pages;
  if (o.max_memory) {
    max_pages = static_cast<std::uint32_t>(std::min<std::uint64_t>(*o.max_memory / kPage, 65536));
    // Otherwise the guest's start-up cannot allocate them and exits on its own (wasi-libc: 70,
    // EX_SOFTWARE), before it could say why.
    if (args_bytes + env_bytes > *max_pages * kPage)
      return fail(Status::MemoryLimit, kExitLimit, "runtime.limit.memory",
                  "the arguments and environment need " + std::to_string(args_bytes + env_bytes) +
                      " bytes of linear memory, more than the memory limit of " +
                      std::to_string(*max_pages * kPage) + " bytes");
    try {
      limited = limit_memory(w.wasm, *max_pages);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kResourceExhausted)
        return fail(Status::MemoryLimit, kExitLimit, e.code(), e.what());
      return fail(Status::ModuleError, kExitConfig, e.code(), e.what());
    }
    wasm = limited;
  }

  auto engine = make_v8_engine(o.engine);
  Bytes digest = sha256(wasm);
  std::unique_ptr<Module> module;
  // A tiered compile has nothing to store until its background compile has finished (serialize()
  // is empty until then), so storing is tried after compiling and again after the run.
  bool cache_stored = false;
  auto store_compiled_code = [&] {
    if (!o.code_cache || module->loaded_from_cache() || cache_stored) return;
    Bytes code = module->serialize();
    if (code.empty()) return;
    o.code_cache->store(engine->id(), digest, code);
    cache_stored = true;
  };
  try {
    Bytes cached;
    if (o.code_cache) cached = o.code_cache->load(engine->id(), digest);
    module = engine->compile(wasm, cached);
    store_compiled_code();
  } catch (const Error& e) {
    return fail(Status::ModuleError, kExitConfig, e.code(), e.what());
  }

  bool has_start = false;
  for (const auto& e : module->exports())
    if (e.name == "_start" && e.kind == "function") has_start = true;
  if (!has_start)
    return fail(Status::ModuleError, kExitConfig, "runtime.export.missing",
                "the module has no _start function (not a WASI command)");

  Wasi wasi(std::move(wo));

  std::vector<ListenInfo> listening;
  try {
    std::shared_ptr<SSL_CTX> server_tls, client_tls;
    for (const FileEntry& f : w.config.files) {
      switch (f.kind) {
        case FileKind::Null: wasi.add_null(); break;
        case FileKind::Stdin: wasi.add_host_fd(o.stdin_fd, true, false); break;
        case FileKind::Stdout: wasi.add_host_fd(o.stdout_fd, false, true); break;
        case FileKind::Stderr: wasi.add_host_fd(o.stderr_fd, false, true); break;
        case FileKind::Listen: {
          if (f.prot == Protocol::Tls && !server_tls) server_tls = make_server_tls(w.identity);
          auto l = std::make_shared<Listener>(f.addr, f.port,
                                              f.prot == Protocol::Tls ? server_tls : nullptr);
          listening.push_back({f.name, l->port(), f.prot});
          wasi.add_listener(std::move(l));
          break;
        }
        case FileKind::Connect: {
          if (f.prot == Protocol::Tls && !client_tls)
            client_tls = make_client_tls(w.identity, o.tls_ca_pem);
          auto s = connect_stream(f.host, f.port, f.prot == Protocol::Tls ? client_tls : nullptr,
                                  deadline);
          wasi.add_stream(std::shared_ptr<Stream>(std::move(s)));
          break;
        }
      }
    }
  } catch (const GuestTimeout&) {
    return fail(Status::TimeLimit, kExitLimit, "runtime.limit.time",
                "time limit reached while connecting");
  } catch (const Error& e) {
    return fail(Status::ConfigError, kExitConfig, e.code(), e.what());
  }
  // Preopens, in the order fd_prestat_dir_name reports them: Enarx.toml's [[dirs]] (or the
  // assets at "/"), then --tmpfs, then --dir.
  try {
    std::vector<DirEntry> dirs;
    if (w.config.dirs)
      dirs = *w.config.dirs;
    else if (w.assets)
      dirs.push_back({DirKind::Assets, o.preopen_name, 0});
    dirs.insert(dirs.end(), o.extra_dirs.begin(), o.extra_dirs.end());
    if (dirs.size() + o.host_dirs.size() > kMaxDirs)
      return fail(Status::ConfigError, kExitConfig, "runtime.config.too_large",
                  "more than " + std::to_string(kMaxDirs) + " preopened directories");
    for (const DirEntry& d : dirs) {
      if (d.kind == DirKind::Assets) {
        // A package without assets still has its (empty) tree where the workload expects it.
        static const AssetTree empty;
        wasi.add_preopen((w.assets ? *w.assets : empty).root(), d.name);
        continue;
      }
      // A quota never above the memory limit: what the keep holds in files it cannot also
      // give the workload as linear memory.
      std::uint64_t quota = d.size ? d.size : kDefaultTmpfsBytes;
      if (o.max_memory) quota = std::min(quota, *o.max_memory);
      wasi.add_preopen(vfs::make_memfs(quota), d.name);
    }
    for (const auto& [host, guest] : o.host_dirs) wasi.add_preopen(vfs::open_host_dir(host), guest);
  } catch (const Error& e) {
    return fail(Status::ConfigError, kExitConfig, e.code(), e.what());
  }
  if (o.on_listening) o.on_listening(listening);

  // A WASI function imported with another type would be a TypeError (a trap) on its first
  // call; refuse the module before it starts instead, naming the import.
  try {
    if (std::string why = Wasi::check_imports(function_imports(wasm)); !why.empty())
      return fail(Status::ModuleError, kExitConfig, "runtime.module.invalid", why);
  } catch (const Error& e) {
    return fail(Status::ModuleError, kExitConfig, e.code(), e.what());
  }
  Imports imports;
  wasi.add_to(imports);
  std::unique_ptr<Instance> instance;
  try {
    instance = engine->instantiate(*module, imports);
  } catch (const Error& e) {
    const bool oom = e.kind() == ErrorKind::kResourceExhausted;
    return fail(oom ? Status::MemoryLimit : Status::ModuleError, oom ? kExitLimit : kExitConfig,
                e.code(), e.what());
  }

  CallOutcome out =
      instance->call("_start", {}, CallLimits{.deadline = deadline, .cpu_time = o.cpu_time_limit});
  RunResult r;
  r.code_from_cache = module->loaded_from_cache();
  switch (out.kind) {
    case CallOutcome::Kind::Returned: r.exit_code = 0; break;
    case CallOutcome::Kind::Exited:
      if (std::uint64_t used = instance->memory().size();
          out.exit_code != 0 && max_pages &&
          exited_for_want_of_memory(wasi, used, *max_pages * kPage, args_bytes, env_bytes)) {
        r = fail(Status::MemoryLimit, kExitLimit, "runtime.limit.memory",
                 "memory limit reached (" + std::to_string(used >> 10) + " KiB in use, limit " +
                     std::to_string((*max_pages * kPage) >> 10) +
                     " KiB) before the workload could hold its arguments and environment (" +
                     std::to_string(args_bytes + env_bytes) + " bytes); it exited with " +
                     std::to_string(static_cast<unsigned>(out.exit_code)));
      } else if (out.exit_code < 0 || out.exit_code > 255) {
        r = fail(Status::Exited, kExitFailure, "runtime.exit_code",
                 "the workload exited with an out-of-range code " +
                     std::to_string(static_cast<unsigned>(out.exit_code)));
      } else {
        r.exit_code = out.exit_code;
      }
      break;
    case CallOutcome::Kind::TimedOut:
      if (out.cpu_time_exceeded)
        r = fail(Status::TimeLimit, kExitLimit, "runtime.limit.cpu",
                 "the CPU time limit of " + std::to_string(o.cpu_time_limit->count()) +
                     " ms was reached");
      else
        r = fail(Status::TimeLimit, kExitLimit, "runtime.limit.time",
                 "the time limit of " + std::to_string(o.time_limit ? o.time_limit->count() : 0) +
                     " ms was reached");
      break;
    case CallOutcome::Kind::Trapped: {
      std::string msg = out.message + (out.location.empty() ? "" : " " + out.location);
      // A trap right at the memory ceiling is almost always an allocation that could not grow
      // (wasi-libc's malloc returns NULL, the program aborts): report it as the limit.
      std::uint64_t size = instance->memory().size();
      if (max_pages && size + 16 * kPage > std::uint64_t{*max_pages} * kPage)
        r = fail(Status::MemoryLimit, kExitLimit, "runtime.limit.memory",
                 "memory limit reached (" + std::to_string(size >> 20) + " MiB): " + msg);
      else
        r = fail(Status::Trapped, kExitTrap, "runtime.trap", msg);
      break;
    }
  }
  r.code_from_cache = module->loaded_from_cache();
  store_compiled_code();
  r.code_cache_stored = cache_stored;
  return r;
}

}  // namespace enarx::runtime
