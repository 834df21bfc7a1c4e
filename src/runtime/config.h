// Enarx.toml: the workload's arguments, environment, Steward and file descriptors, in Enarx's
// format (crates/enarx-config). Parsed with toml++; every bad or unknown field is an error that
// names it (code "runtime.config.*").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

struct Config {
  std::optional<std::string> steward;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name
  std::vector<FileEntry> files;                           // fd 0, 1, 2, ... in this order
};

// Enarx's default when there is no Enarx.toml: stdin, stdout, stderr; no args, env or Steward.
Config default_config();

// Parses Enarx.toml text. `source` names the input in messages. Errors:
//   runtime.config.syntax       not TOML (message has line:column)
//   runtime.config.unknown_key  a key Enarx does not define (message names it, e.g. files[2].prto)
//   runtime.config.type         a value of the wrong type
//   runtime.config.value        a value out of range or not allowed (bad kind, prot, port, name)
//   runtime.config.missing      a required key is absent (kind; name for listen; host for connect)
Config parse_config(std::string_view toml_text, std::string_view source = "Enarx.toml");

// The environment Enarx gives the workload: FD_COUNT, FD_NAMES, then the configured variables
// (a configured FD_COUNT/FD_NAMES is overridden, as in Enarx).
std::vector<std::string> workload_environment(const Config& config);

}  // namespace enarx::runtime
