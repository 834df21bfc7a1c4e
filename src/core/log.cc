#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace enarx::log {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// spdlog does the I/O and locking; we format every line ourselves so both formats are exact
// and the JSON is always valid.
struct State {
  std::mutex mutex;
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<int> level{static_cast<int>(Level::Info)};
  std::atomic<Format> format{Format::Human};  // resolved: never Auto
  std::function<void(std::string_view)> capture;
  std::atomic<bool> has_capture{false};
};

std::shared_ptr<spdlog::logger> make_logger(Target target) {
  spdlog::sink_ptr sink;
  if (target == Target::Stdout) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("enarx", std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

State& state() {
  // Leaked on purpose: logging from static destructors and detached threads must stay safe.
  static State* s = [] {
    auto* st = new State;
    st->logger = make_logger(Target::Stderr);
    st->format = isatty(STDERR_FILENO) ? Format::Human : Format::Json;
    return st;
  }();
  return *s;
}

bool is_secret_key(std::string_view key) {
  static constexpr std::string_view kSecret[] = {"password", "secret", "token", "authorization",
                                                 "cookie", "private_key"};
  const std::string k = lower(key);
  for (auto s : kSecret) {
    if (k.find(s) != std::string::npos) return true;
  }
  return false;
}

std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buf;
}

nlohmann::ordered_json to_json(const Value& v) {
  return std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v.get());
}

std::string human_value(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          const bool plain = !x.empty() && x.find_first_of(" \t\r\n\"=\\") == std::string::npos;
          if (plain) return x;
          return nlohmann::json(x).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return nlohmann::json(x).dump();
        } else {
          return std::to_string(x);
        }
      },
      v.get());
}

std::string_view upper_name(Level l) {
  switch (l) {
    case Level::Trace: return "TRACE";
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warn: return "WARN";
    case Level::Error: return "ERROR";
    case Level::Off: return "OFF";
  }
  return "?";
}

template <typename FieldRange>
void write_impl(Level level, std::string_view message, const FieldRange& fields) noexcept {
  try {
    if (!enabled(level)) return;
    auto& st = state();
    const std::string ts = timestamp_now();
    Fields copy(fields.begin(), fields.end());
    const Format fmt = st.format.load();
    const std::string line = format_line(fmt, level, ts, message, copy);
    std::shared_ptr<spdlog::logger> logger;
    std::function<void(std::string_view)> capture;
    {
      std::lock_guard lock(st.mutex);
      logger = st.logger;
      if (st.has_capture) capture = st.capture;
    }
    logger->log(spdlog::level::info, line);
    if (capture) {
      capture(fmt == Format::Json ? line : format_line(Format::Json, level, ts, message, copy));
    }
  } catch (...) {
    // Logging must never take the process down.
  }
}

}  // namespace

Level parse_level(std::string_view text) {
  const std::string t = lower(text);
  if (t == "trace") return Level::Trace;
  if (t == "debug") return Level::Debug;
  if (t == "info") return Level::Info;
  if (t == "warn" || t == "warning") return Level::Warn;
  if (t == "error") return Level::Error;
  if (t == "off") return Level::Off;
  throw Error(ErrorKind::kInvalidInput, "log.bad_level", "unknown log level '" + std::string(text) +
                                   "' (expected trace, debug, info, warn, error or off)");
}

std::string_view to_string(Level level) {
  switch (level) {
    case Level::Trace: return "trace";
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    case Level::Off: return "off";
  }
  return "?";
}

Format parse_format(std::string_view text) {
  const std::string t = lower(text);
  if (t == "auto") return Format::Auto;
  if (t == "human" || t == "text") return Format::Human;
  if (t == "json") return Format::Json;
  throw Error(ErrorKind::kInvalidInput, "log.bad_format",
              "unknown log format '" + std::string(text) + "' (expected auto, human or json)");
}

Target parse_target(std::string_view text) {
  const std::string t = lower(text);
  if (t == "stderr") return Target::Stderr;
  if (t == "stdout") return Target::Stdout;
  throw Error(ErrorKind::kInvalidInput, "log.bad_target",
              "unknown log target '" + std::string(text) + "' (expected stderr or stdout)");
}

void configure(const Options& options) {
  auto& st = state();
  Format fmt = options.format;
  if (fmt == Format::Auto) {
    const int fd = options.target == Target::Stdout ? STDOUT_FILENO : STDERR_FILENO;
    fmt = isatty(fd) ? Format::Human : Format::Json;
  }
  auto logger = make_logger(options.target);
  std::lock_guard lock(st.mutex);
  st.logger = std::move(logger);
  st.level = static_cast<int>(options.level);
  st.format = fmt;
}

Options options_from_env(Options base) {
  if (const char* l = std::getenv("ENARX_LOG"); l && *l) base.level = parse_level(l);
  if (const char* f = std::getenv("ENARX_LOG_FORMAT"); f && *f) base.format = parse_format(f);
  return base;
}

bool enabled(Level level) {
  return level != Level::Off && static_cast<int>(level) >= state().level.load();
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  write_impl(level, message, fields);
}

void write(Level level, std::string_view message, const Fields& fields) {
  write_impl(level, message, fields);
}

std::string format_line(Format format, Level level, std::string_view timestamp,
                        std::string_view message, const Fields& fields) {
  if (format == Format::Json) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp;
    j["level"] = to_string(level);
    j["msg"] = message;
    for (const auto& f : fields) {
      std::string key(f.key);
      if (key == "ts" || key == "level" || key == "msg") key = "field." + key;
      j[key] = is_secret_key(f.key) ? nlohmann::ordered_json("[redacted]") : to_json(f.value);
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out;
  out.reserve(64 + message.size());
  out.append(timestamp).append(" ").append(upper_name(level)).append(" ").append(message);
  for (const auto& f : fields) {
    out.append(" ").append(f.key).append("=");
    out.append(is_secret_key(f.key) ? std::string("[redacted]") : human_value(f.value));
  }
  return out;
}

void set_capture_for_testing(std::function<void(std::string_view line)> capture) {
  auto& st = state();
  std::lock_guard lock(st.mutex);
  st.has_capture = static_cast<bool>(capture);
  st.capture = std::move(capture);
}

}  // namespace enarx::log
