// Running a workload: module bytes + Enarx.toml + asset tree + identity -> exit code.
// This is the entry point of both `enarx run` (local files, self-signed identity) and the deploy
// flow (fetched package, steward-issued identity).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "runtime/assets.h"
#include "runtime/code_cache.h"
#include "runtime/config.h"
#include "runtime/engine.h"
#include "runtime/socket.h"

namespace enarx::runtime {

// Same values as apps/enarx/exit_codes.h (checked there with static_assert).
constexpr int kExitFailure = 1;
constexpr int kExitTrap = 134;
constexpr int kExitLimit = 137;
constexpr int kExitConfig = 78;

struct Workload {
  ByteView wasm;
  Config config = default_config();
  const AssetTree* assets = nullptr;  // preopened read-only when set
  Identity identity;                  // needed for prot = "tls"
};

struct ListenInfo {
  std::string name;
  std::uint16_t port;
  Protocol prot;
};

struct RunOptions {
  std::optional<std::chrono::milliseconds> time_limit;  // wall clock, whole run
  // CPU time of the workload's own thread (wasm + its WASI calls; compilation and time spent
  // blocked do not count): bounds the compute of a long-running server without a wall clock.
  std::optional<std::chrono::milliseconds> cpu_time_limit;
  std::optional<std::uint64_t> max_memory;              // bytes of linear memory
  std::string tls_ca_pem;  // trust anchors for connect+tls; empty = the host's trust store
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;  // host descriptors behind stdio kinds
  std::string argv0 = "main.wasm";
  std::string preopen_name = "/";  // the assets directory as the guest sees it (no [[dirs]])
  // In-memory directories added on the command line (enarx run --tmpfs), after Enarx.toml's.
  std::vector<DirEntry> extra_dirs;
  // Host directories preopened read-write (enarx run --dir HOST::GUEST), after those. Local
  // development only: the deploy flow clears them, so a deployed workload never sees the host.
  std::vector<std::pair<std::string, std::string>> host_dirs;
  const CodeCache* code_cache = nullptr;
  EngineOptions engine;
  // Called once every listener is bound, before the guest starts (ports are real even for
  // port = 0, which binds an ephemeral port).
  std::function<void(const std::vector<ListenInfo>&)> on_listening;
};

struct RunResult {
  enum class Status { Exited, Trapped, TimeLimit, MemoryLimit, ConfigError, ModuleError };
  Status status = Status::Exited;
  int exit_code = 0;     // what `enarx` exits with
  std::string message;   // for everything but a normal exit: what happened
  std::string error_code;  // stable code for runtime failures (e.g. "runtime.trap")
  bool code_from_cache = false;
  // This run stored the module's compiled code in RunOptions::code_cache (right after compiling
  // with EngineOptions::optimize; after the run, once the background compile had finished,
  // when tiered).
  bool code_cache_stored = false;
};

std::string_view to_string(RunResult::Status s);

// Runs `_start` and returns how it ended. Never throws for workload or configuration problems
// (they become a RunResult); only for internal failures.
RunResult run_workload(const Workload& workload, const RunOptions& options);

}  // namespace enarx::runtime
