// Structured logging on spdlog.
//
// One process-wide logger. Every line is a message plus typed key/value fields:
//
//   log::info("http.access", {{"method", "GET"}, {"status", 200}, {"duration_us", 412}});
//
// Two output formats:
//   * human (default on a TTY):  2026-11-23T09:10:00.123Z INFO http.access method=GET status=200
//   * JSON lines (default when stderr/stdout is not a TTY, or forced):
//       {"ts":"2026-11-23T09:10:00.123Z","level":"info","msg":"http.access","method":"GET","status":200}
//     Field keys are emitted after "ts", "level", "msg" in the order given; a field named like one
//     of those three is prefixed with "field." so a caller can never forge them.
//
// Configuration: configure() (from flags/config), or configure_from_env(): ENARX_LOG (level:
// trace|debug|info|warn|error|off, default info) and ENARX_LOG_FORMAT (auto|human|json).
//
// Secrets: NEVER pass secrets (private keys, tokens, passwords, Authorization / Cookie headers,
// client secrets) as messages or fields. As a seatbelt, a field whose key contains "password",
// "secret", "token", "authorization", "cookie" or "private_key" (case-insensitive) is written as
// "[redacted]" whatever its value. Request bodies and query strings are never logged by src/net.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace enarx::log {

enum class Level { Trace = 0, Debug, Info, Warn, Error, Off };
enum class Format { Auto, Human, Json };
enum class Target { Stderr, Stdout };

// Parses "trace", "debug", "info", "warn"/"warning", "error", "off" (case-insensitive).
// Throws Error("log.bad_level") otherwise.
Level parse_level(std::string_view text);
std::string_view to_string(Level level);
// Parses "auto", "human"/"text", "json". Throws Error("log.bad_format") otherwise.
Format parse_format(std::string_view text);
// Parses "stderr", "stdout". Throws Error("log.bad_target") otherwise.
Target parse_target(std::string_view text);

struct Options {
  Level level = Level::Info;
  Format format = Format::Auto;  // Auto: human if the target is a TTY, else JSON
  Target target = Target::Stderr;
};

// (Re)configures the process-wide logger. Thread-safe; cheap enough to call at start-up only.
void configure(const Options& options);
// Options from ENARX_LOG / ENARX_LOG_FORMAT on top of `base` (invalid values throw, as above).
Options options_from_env(Options base = {});
inline void configure_from_env() { configure(options_from_env()); }

// A field value: string, signed/unsigned integer, floating point or boolean.
class Value {
 public:
  using Storage = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;

  Value(const char* s) : v_(std::string(s ? s : "")) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(bool b) : v_(b) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             std::is_signed_v<T>,
                                         int> = 0>
  Value(T i) : v_(static_cast<std::int64_t>(i)) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             std::is_unsigned_v<T>,
                                         int> = 0>
  Value(T u) : v_(static_cast<std::uint64_t>(u)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Value(T d) : v_(static_cast<double>(d)) {}

  const Storage& get() const { return v_; }

 private:
  Storage v_;
};

struct Field {
  std::string_view key;
  Value value;
};
using Fields = std::vector<Field>;

// True when a message at `level` would be written (skip building expensive fields otherwise).
bool enabled(Level level);

// Writes one line. Never throws (logging failures are swallowed).
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
void write(Level level, std::string_view message, const Fields& fields);

inline void trace(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::Trace, m, f); }
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::Debug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::Info, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::Warn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::Error, m, f); }

// Formats one line exactly as the logger would (without the trailing newline). `timestamp` is
// the RFC 3339 UTC time with milliseconds. Exposed for tests and for tools that write logs.
std::string format_line(Format format, Level level, std::string_view timestamp,
                        std::string_view message, const Fields& fields);

// Test hook: while set, every formatted line (JSON, whatever the configured format) also goes
// to `capture`. Pass an empty function to remove it.
void set_capture_for_testing(std::function<void(std::string_view line)> capture);

}  // namespace enarx::log
