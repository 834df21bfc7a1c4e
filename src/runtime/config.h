// Enarx.toml: the workload's arguments, environment, Steward and file descriptors, in Enarx's
// format (crates/enarx-config). Parsed with toml++; every bad or unknown field is an error that
// names it (code "runtime.config.*").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace enarx::runtime {

enum class FileKind { Null, Stdin, Stdout, Stderr, Listen, Connect };
enum class Protocol { Tcp, Tls };

std::string_view to_string(FileKind k);
std::string_view to_string(Protocol p);

struct FileEntry {
  FileKind kind = FileKind::Null;
  std::string name;   // never contains ':'; defaults: the kind, or the host for connect
  Protocol prot = Protocol::Tls;                // listen / connect
  std::string addr;   // listen: bind address, default "::"
  std::string host;   // connect: required
  std::uint16_t port = 0;  // listen / connect: default 443 (tls) or 80 (tcp); 0 = ephemeral
};

// A preopened directory ([[dirs]], an extension of Enarx's format; docs/runtime.md). The guest
// finds them after the [[files]] descriptors, in this order, under these names.
enum class DirKind { Assets, Tmpfs };
std::string_view to_string(DirKind k);

struct DirEntry {
  DirKind kind = DirKind::Tmpfs;
  std::string name;        // what fd_prestat_dir_name reports; assets default "/"
  std::uint64_t size = 0;  // tmpfs: byte quota (0 = kDefaultTmpfsBytes)
};

constexpr std::uint64_t kDefaultTmpfsBytes = 64ull << 20;
// No in-memory directory may hold more than a wasm32 memory could: 4 GiB.
constexpr std::uint64_t kMaxTmpfsBytes = 4ull << 30;
constexpr std::size_t kMaxDirs = 64;

struct Config {
  std::optional<std::string> steward;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name
  std::vector<FileEntry> files;                           // fd 0, 1, 2, ... in this order
  // Preopened directories after the files. Without [[dirs]]: the assets (if any) at "/".
  std::optional<std::vector<DirEntry>> dirs;
  // Whether the guest's environment starts with Enarx's FD_COUNT / FD_NAMES (always from
  // Enarx.toml; `enarx run --no-fd-env` turns it off for programs that check their environment
  // is exactly what they were given, as the WASI test suite does).
  bool fd_env = true;
};

// "64M", "64MiB", "1G", "4096", "512K" (binary units) -> bytes; nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);

// What an Enarx.toml (and the command line after `--`) may expand to on the host. The text is
// bounded before it is parsed, the counts before they are copied; the guest's argv and environ
// are bounded as a whole, as Linux bounds them by ARG_MAX.
constexpr std::size_t kMaxConfigBytes = 1u << 20;   // Enarx.toml itself
constexpr std::size_t kMaxArgs = 4096;              // args, argv[0] included
constexpr std::size_t kMaxEnv = 4096;               // variables, FD_COUNT and FD_NAMES included
constexpr std::size_t kMaxArgEnvBytes = 1u << 20;   // every arg and variable with its NUL
constexpr std::size_t kMaxFiles = 256;              // [[files]] entries (fds 0..255)

// Enarx's default when there is no Enarx.toml: stdin, stdout, stderr; no args, env or Steward.
Config default_config();

// Parses Enarx.toml text. `source` names the input in messages. Errors:
//   runtime.config.syntax       not TOML (message has line:column)
//   runtime.config.unknown_key  a key Enarx does not define (message names it, e.g. files[2].prto)
//   runtime.config.type         a value of the wrong type
//   runtime.config.value        a value out of range or not allowed (bad kind, prot, port, name)
//   runtime.config.missing      a required key is absent (kind; name for listen; host for
//                               connect; name for a tmpfs dir)
//   runtime.config.too_large    over one of the bounds above (message names it)
// What parse_config and read_config_file throw when the configuration itself is wrong
// (runtime.config.*); a file that cannot be read is a plain Error (io.*).
class ConfigError : public Error {
 public:
  using Error::Error;
};

Config parse_config(std::string_view toml_text, std::string_view source = "Enarx.toml");

// Reads and parses an Enarx.toml file; a file over kMaxConfigBytes is runtime.config.too_large
// without being read further. Unreadable: io.read.
Config read_config_file(const std::filesystem::path& path);

// Throws runtime.config.too_large when the guest's argv (argv[0] included) or environment is
// over kMaxArgs, kMaxEnv or, together, kMaxArgEnvBytes.
void check_args_and_env(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        std::string_view source);

// The environment Enarx gives the workload: FD_COUNT, FD_NAMES, then the configured variables
// (a configured FD_COUNT/FD_NAMES is overridden, as in Enarx).
std::vector<std::string> workload_environment(const Config& config);

}  // namespace enarx::runtime
