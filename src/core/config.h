// Typed configuration: flags > environment > TOML file > defaults.
//
// A component declares each key once (dotted TOML name, type, default, environment variable,
// command-line flag, help). The Loader then merges, lowest precedence first:
//   1. the declared default,
//   2. the TOML file (key "server.listen" is `[server] listen = ...`),
//   3. the environment variable (if the key names one),
//   4. the command-line flag (if the key names one and the flag was given).
//
//   config::Loader loader;
//   loader.add({.name = "server.port", .type = config::Type::Integer, .default_value = 8443,
//               .env = "STEWARD_PORT", .flag = "--port", .help = "TCP port to listen on"});
//   CLI::App app;
//   loader.bind(app);             // adds --port (and every other key's flag) to the CLI
//   app.parse(argc, argv);
//   config::Config cfg = loader.load(config_file_path);   // or load_string(toml_text)
//   auto port = cfg.get_int("server.port");
//
// Errors (enarx::Error codes):
//   config.unknown_key  a TOML key (or table) nobody declared; the message names the dotted key
//   config.type         a value of the wrong type (file, env or flag); the message names the key
//   config.parse        TOML syntax error (message has line/column)
//   config.missing      a `required` key has no value from any source
//   config.io           the file cannot be read
//   config.no_such_key  get_*() of an undeclared key, or of a key with no value (a bug)
//   config.duplicate    the same key declared twice, or set in a file under its name and a
//                       former name
//
// Text forms (environment variables and flags are text):
//   String: as is. Integer: decimal, optional sign. Boolean: true/false/1/0/yes/no/on/off.
//   Float: decimal. Duration: "250ms", "10s", "5m", "1h" or a bare integer of seconds; in TOML
//   either such a string or an integer (seconds). StringList: comma-separated; in TOML an array
//   of strings.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace CLI {
class App;
}

namespace enarx::config {

enum class Type { String, Integer, Boolean, Float, Duration, StringList };
std::string_view to_string(Type type);

using Duration = std::chrono::milliseconds;
using Value = std::variant<std::string, std::int64_t, bool, double, Duration,
                           std::vector<std::string>>;

// Parses a duration text ("250ms", "10s", "5m", "1h", "30" = seconds). Throws
// Error("config.type") naming `key` on malformed input.
Duration parse_duration(std::string_view text, std::string_view key = "duration");

enum class Source { Unset, Default, File, Env, Flag };
std::string_view to_string(Source source);

struct Key {
  std::string name{};                    // dotted TOML path, e.g. "server.listen"
  Type type = Type::String;
  std::optional<Value> default_value{};  // must match `type` (Integer accepts int; see below)
  std::string env{};                     // environment variable, e.g. "STEWARD_LISTEN"; "" = none
  std::string flag{};                    // long flag, e.g. "--listen" (CLI11 syntax, may be
                                         // "-l,--listen"); "" = none
  std::string help{};
  bool required = false;                 // load() throws config.missing when no source sets it
  bool secret = false;                   // value never shown by Config::dump()
  // Dotted names the key had before (a file written for an older release still loads; the
  // use is listed in Config::renamed() for a warning). Setting both names is config.duplicate.
  std::vector<std::string> former_names{};
};

// The resolved values. Cheap to copy.
class Config {
 public:
  bool has(std::string_view name) const;  // declared and has a value from some source
  Source source(std::string_view name) const;
  const Value& get(std::string_view name) const;

  std::string get_string(std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  double get_float(std::string_view name) const;
  Duration get_duration(std::string_view name) const;
  std::vector<std::string> get_list(std::string_view name) const;
  // Convenience: the value if set, otherwise std::nullopt.
  std::optional<std::string> find_string(std::string_view name) const;

  // "name = value (source)" lines, secrets shown as "<redacted>"; for --print-config and logs.
  std::string dump() const;

  // Keys the file set under a former name: {former, current}, sorted by former name.
  const std::vector<std::pair<std::string, std::string>>& renamed() const { return renamed_; }

 private:
  friend class Loader;
  struct Entry {
    Type type;
    Source source = Source::Unset;
    std::optional<Value> value;
    bool secret = false;
  };
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::pair<std::string, std::string>> renamed_;
};

// Logs a warning ("config.renamed_key") for each key the file set under a former name.
void warn_renamed(const Config& config);

// Looks up an environment variable; injectable for tests. Default: std::getenv.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

class Loader {
 public:
  Loader();
  ~Loader();
  Loader(Loader&&) noexcept;
  Loader& operator=(Loader&&) noexcept;

  // Declares a key. Throws config.duplicate, or config.type if the default has the wrong type
  // (an int default for a Float key and an int default for a Duration key (seconds) are
  // converted).
  Loader& add(Key key);
  // TOML tables below this dotted prefix are not validated and not loaded (another component
  // parses them, e.g. the steward's [snp] policy table).
  Loader& ignore_table(std::string prefix);
  const std::vector<Key>& keys() const;

  // Registers every key that has a flag as a CLI11 option (string-valued; converted at load()).
  // `app` must outlive load(). Boolean keys become flags that also accept "=false".
  void bind(CLI::App& app);
  // Sets a flag value directly (what bind() does for a parsed option); for callers not using
  // CLI11 and for tests.
  void set_flag_value(std::string_view name, std::string text);

  // Merges defaults < TOML < env < flags. `file` empty = no file.
  Config load(const std::optional<std::filesystem::path>& file,
               const EnvLookup& env = process_env()) const;
  // Same with the TOML document given as text (`origin` names it in error messages).
  Config load_string(std::string_view toml_text, const EnvLookup& env = process_env(),
                     std::string_view origin = "config") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace enarx::config
