// `enarx run`: run a local WebAssembly module (and optional Enarx.toml and asset directory)
// outside any TEE, with a self-signed identity for TLS sockets, as Enarx's `enarx run` does.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "core/error.h"
#include "core/file.h"
#include "exit_codes.h"
#include "runtime/runtime.h"

namespace enarx::cli {
namespace {

static_assert(runtime::kExitTrap == exit_codes::kWorkloadTrap);
static_assert(runtime::kExitLimit == exit_codes::kWorkloadLimit);
static_assert(runtime::kExitConfig == exit_codes::kWorkloadConfig);
static_assert(runtime::kExitFailure == exit_codes::kFailure);

struct RunArgs {
  std::string module;
  std::string wasmcfgfile;
  std::string assets;
  std::string tls_ca;
  std::string identity_cert, identity_key;
  std::string code_cache;
  bool no_code_cache = false;
  double time_limit = 0;
  double cpu_limit = 0;
  std::uint64_t max_memory_mib = 0;
  bool no_trap_handler = false;
  bool no_fd_env = false;
  std::string compile = "tiered";
  std::vector<std::string> dirs;   // HOST[::GUEST]
  std::vector<std::string> envs;   // KEY=VALUE
  std::vector<std::string> tmpfs;  // GUEST[:SIZE]
  std::vector<std::string> args;
};

// The local-development flags, wasmtime's spelling: --dir HOST[::GUEST], --env KEY=VALUE,
// --tmpfs GUEST[:SIZE]. A bad value is a usage error that names it.
bool apply_dev_flags(const RunArgs& a, runtime::Config& config, runtime::RunOptions& o) {
  for (const auto& d : a.dirs) {
    auto sep = d.find("::");
    std::string host = d.substr(0, sep), guest = sep == std::string::npos ? d : d.substr(sep + 2);
    std::error_code ec;
    if (host.empty() || guest.empty() || !std::filesystem::is_directory(host, ec)) {
      std::cerr << "error: --dir " << d << ": " << (host.empty() || guest.empty() ? "expected HOST[::GUEST]" : host + " is not a directory") << "\n";
      return false;
    }
    o.host_dirs.emplace_back(host, guest);
  }
  for (const auto& e : a.envs) {
    auto eq = e.find('=');
    if (eq == 0 || eq == std::string::npos) {
      std::cerr << "error: --env " << e << ": expected KEY=VALUE\n";
      return false;
    }
    std::string key = e.substr(0, eq), value = e.substr(eq + 1);
    auto it = std::find_if(config.env.begin(), config.env.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != config.env.end())
      it->second = value;
    else
      config.env.emplace_back(key, value);
  }
  for (const auto& t : a.tmpfs) {
    runtime::DirEntry d;
    d.kind = runtime::DirKind::Tmpfs;
    auto colon = t.rfind(':');
    d.name = t;
    if (colon != std::string::npos) {
      auto size = runtime::parse_size(std::string_view(t).substr(colon + 1));
      if (!size || *size == 0 || *size > runtime::kMaxTmpfsBytes) {
        std::cerr << "error: --tmpfs " << t << ": SIZE must be 1 byte to 4GiB (e.g. 16M, 1G)\n";
        return false;
      }
      d.size = *size;
      d.name = t.substr(0, colon);
    }
    if (d.name.empty()) {
      std::cerr << "error: --tmpfs " << t << ": expected GUEST[:SIZE]\n";
      return false;
    }
    o.extra_dirs.push_back(std::move(d));
  }
  return true;
}

// Where `enarx run` keeps compiled code when --code-cache is not given, so that a second run of
// the same module skips compilation (as wasmtime's CLI caches by default): $ENARX_CODE_CACHE,
// else $XDG_CACHE_HOME/enarx/code, else $HOME/.cache/enarx/code. Empty: no default.
std::filesystem::path default_code_cache_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (auto dir = env("ENARX_CODE_CACHE"); !dir.empty()) return dir;
  if (auto xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return std::filesystem::path(xdg) / "enarx" / "code";
  if (auto home = env("HOME"); !home.empty()) return std::filesystem::path(home) / ".cache" / "enarx" / "code";
  return {};
}

// The default cache is an optimisation: when it cannot be set up, the module runs uncached.
std::optional<runtime::CodeCache> open_default_code_cache() {
  const auto dir = default_code_cache_dir();
  if (dir.empty()) return std::nullopt;
  try {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    return runtime::CodeCache(dir, runtime::CodeCache::load_or_create_key(dir / "key"));
  } catch (const Error&) {
    return std::nullopt;
  }
}

int run(const RunArgs& a) {
  namespace rt = runtime;
  Bytes wasm;
  rt::Config config = rt::default_config();
  try {
    wasm = read_file(a.module, 1u << 30);
  } catch (const Error& e) {
    return report_error(e);
  }
  try {
    if (!a.wasmcfgfile.empty()) config = rt::read_config_file(a.wasmcfgfile);
  } catch (const rt::ConfigError& e) {
    std::cerr << "error: " << e.describe() << "\n";
    return exit_codes::kWorkloadConfig;  // EX_CONFIG: the workload's configuration is unusable
  } catch (const Error& e) {
    return report_error(e);
  }
  config.args.insert(config.args.end(), a.args.begin(), a.args.end());

  rt::Workload w;
  w.wasm = wasm;
  w.config = config;
  std::optional<rt::AssetTree> assets;
  std::optional<rt::CodeCache> cache;
  rt::RunOptions o;
  if (!apply_dev_flags(a, config, o)) return exit_codes::kUsage;
  config.fd_env = !a.no_fd_env;
  w.config = config;
  try {
    if (!a.assets.empty()) {
      assets = rt::AssetTree::from_directory(a.assets);
      w.assets = &*assets;
    }
    bool needs_identity = false;
    for (const auto& f : config.files)
      if ((f.kind == rt::FileKind::Listen || f.kind == rt::FileKind::Connect) &&
          f.prot == rt::Protocol::Tls)
        needs_identity = true;
    if (!a.identity_cert.empty() || !a.identity_key.empty()) {
      w.identity.cert_chain_pem = read_text_file(a.identity_cert);
      w.identity.key_pem = read_text_file(a.identity_key);
    } else if (needs_identity) {
      w.identity = rt::self_signed_identity();
    }
    if (!a.tls_ca.empty()) o.tls_ca_pem = read_text_file(a.tls_ca);
    if (!a.code_cache.empty())
      cache.emplace(a.code_cache, rt::CodeCache::load_or_create_key(
                                      std::filesystem::path(a.code_cache) / "key"));
    else if (!a.no_code_cache)
      cache = open_default_code_cache();
  } catch (const Error& e) {
    std::cerr << "error: " << e.describe() << "\n";
    return exit_codes::kInput;
  }
  o.time_limit = seconds_limit(a.time_limit);
  o.cpu_time_limit = seconds_limit(a.cpu_limit);
  if (a.max_memory_mib > 0) o.max_memory = a.max_memory_mib << 20;
  if (cache) o.code_cache = &*cache;
  o.engine.trap_handler = !a.no_trap_handler;
  o.engine.optimize = a.compile == "eager";
  o.on_listening = [](const std::vector<rt::ListenInfo>& l) {
    for (const auto& i : l)
      std::cerr << "enarx: " << i.name << " listening on port " << i.port << " ("
                << rt::to_string(i.prot) << ")\n";
  };
  rt::RunResult r = rt::run_workload(w, o);
  // The workload may have filled stderr and left with its reader gone quiet (that may be why
  // the time limit ended it): say why it ended if stderr takes it within a second.
  if (r.status != rt::RunResult::Status::Exited || !r.error_code.empty())
    rt::write_within(2,
                     "enarx: workload " + std::string(rt::to_string(r.status)) + ": " +
                         r.error_code + ": " + r.message + "\n",
                     std::chrono::seconds(1));
  // A tiered compile may still be optimising in V8's worker threads, and a normal exit would
  // join them (up to seconds for a large module) for code nobody will run. Nothing is left to
  // tear down that the kernel does not: the cache entry, if any, is already stored.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(r.exit_code);
}

void register_run(CLI::App& root) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = root.add_subcommand("run", "Run a WebAssembly module locally (no TEE)");
  cmd->add_option("--wasmcfgfile", a->wasmcfgfile, "Enarx.toml for the module")
      ->check(CLI::ExistingFile);
  cmd->add_option("--time-limit", a->time_limit, "Stop the workload after SECS seconds")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cpu-limit", a->cpu_limit,
                  "Stop the workload once its thread has used SECS seconds of CPU time "
                  "(time blocked in I/O does not count)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-memory", a->max_memory_mib, "Maximum linear memory in MiB")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--assets", a->assets, "Directory served read-only to the workload at /")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--dir", a->dirs,
                  "HOST[::GUEST]: preopen the host directory HOST read-write under the name GUEST "
                  "(default HOST); every path stays inside it. Local development only: enarx "
                  "deploy never exposes host directories")
      ->type_name("HOST[::GUEST]")
      ->allow_extra_args(false);
  cmd->add_option("--env", a->envs, "KEY=VALUE: set an environment variable (repeatable; "
                                    "overrides Enarx.toml's env)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--tmpfs", a->tmpfs,
                  "GUEST[:SIZE]: preopen a writable in-memory directory under the name GUEST, "
                  "holding at most SIZE bytes (K/M/G suffixes; default 64M, never above "
                  "--max-memory)")
      ->type_name("GUEST[:SIZE]")
      ->allow_extra_args(false);
  cmd->add_flag("--no-fd-env", a->no_fd_env,
                "Do not start the environment with Enarx's FD_COUNT and FD_NAMES (for programs "
                "that expect exactly the variables they are given)");
  cmd->add_option("--tls-ca", a->tls_ca,
                  "PEM CA bundle trusted for connect+tls (default: the host's trust store)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--identity-cert", a->identity_cert,
                  "PEM certificate chain for TLS (default: a fresh self-signed one)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--identity-key", a->identity_key, "PEM private key for --identity-cert")
      ->check(CLI::ExistingFile);
  auto* cache_opt = cmd->add_option(
      "--code-cache", a->code_cache,
      "Directory for the HMAC-protected compiled-code cache (default: $ENARX_CODE_CACHE, "
      "else $XDG_CACHE_HOME/enarx/code, else ~/.cache/enarx/code)");
  cmd->add_flag("--no-code-cache", a->no_code_cache, "Compile the module afresh; cache nothing")
      ->excludes(cache_opt);
  cmd->add_option("--compile", a->compile,
                  "tiered: start at once on V8's baseline compiler while every function is "
                  "optimised in the background (cached once that is done); eager: optimise the "
                  "whole module before it starts (slower start, full speed from the first "
                  "instruction). Code from the cache is always optimised")
      ->check(CLI::IsMember({"tiered", "eager"}))
      ->capture_default_str();
  cmd->add_flag("--no-trap-handler", a->no_trap_handler,
                "Use explicit bounds checks instead of guard pages");
  cmd->add_option("module", a->module, "The WebAssembly module (wasm32-wasi command)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("args", a->args, "Arguments after --, appended to the Enarx.toml args");
  cmd->callback([a] { set_exit_code(run(*a)); });
}

ENARX_COMMAND(10, register_run);

}  // namespace
}  // namespace enarx::cli
