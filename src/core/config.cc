#include "core/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/log.h"
#include "core/file.h"

namespace enarx::config {
namespace {

[[noreturn]] void type_error(std::string_view key, std::string_view expected,
                             std::string_view origin, std::string_view got = {}) {
  std::string msg = "configuration key '" + std::string(key) + "' (" + std::string(origin) +
                    "): expected " + std::string(expected);
  if (!got.empty()) msg += ", got '" + std::string(got) + "'";
  throw Error(ErrorKind::kInvalidInput, "config.type", msg);
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Value from_text(const Key& key, std::string_view raw, std::string_view origin) {
  const std::string text = trim(raw);
  switch (key.type) {
    case Type::String:
      return std::string(raw);
    case Type::Integer: {
      auto v = parse_int(text);
      if (!v) type_error(key.name, "an integer", origin, text);
      return *v;
    }
    case Type::Boolean: {
      std::string t = text;
      std::transform(t.begin(), t.end(), t.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
      if (t == "false" || t == "0" || t == "no" || t == "off") return false;
      type_error(key.name, "a boolean (true/false)", origin, text);
    }
    case Type::Float: {
      try {
        std::size_t used = 0;
        const double d = std::stod(text, &used);
        if (used != text.size()) type_error(key.name, "a number", origin, text);
        return d;
      } catch (const std::logic_error&) {
        type_error(key.name, "a number", origin, text);
      }
    }
    case Type::Duration:
      return parse_duration(text, key.name);
    case Type::StringList: {
      std::vector<std::string> items;
      if (text.empty()) return items;
      std::size_t start = 0;
      while (true) {
        const auto comma = text.find(',', start);
        items.push_back(trim(std::string_view(text).substr(
            start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return items;
    }
  }
  throw Error(ErrorKind::kInvalidInput, "config.type", "unknown type");
}

Value from_toml(const Key& key, const toml::node& node, std::string_view origin) {
  switch (key.type) {
    case Type::String:
      if (auto v = node.value_exact<std::string>()) return *v;
      type_error(key.name, "a string", origin);
    case Type::Integer:
      if (auto v = node.value_exact<std::int64_t>()) return *v;
      type_error(key.name, "an integer", origin);
    case Type::Boolean:
      if (auto v = node.value_exact<bool>()) return *v;
      type_error(key.name, "a boolean", origin);
    case Type::Float:
      if (auto v = node.value_exact<double>()) return *v;
      if (auto v = node.value_exact<std::int64_t>()) return static_cast<double>(*v);
      type_error(key.name, "a number", origin);
    case Type::Duration:
      if (auto v = node.value_exact<std::int64_t>()) return Duration(*v * 1000);
      if (auto v = node.value_exact<std::string>()) return parse_duration(*v, key.name);
      type_error(key.name, "a duration (\"10s\", \"250ms\" or integer seconds)", origin);
    case Type::StringList: {
      const auto* arr = node.as_array();
      if (!arr) type_error(key.name, "an array of strings", origin);
      std::vector<std::string> items;
      for (const auto& el : *arr) {
        auto v = el.value_exact<std::string>();
        if (!v) type_error(key.name, "an array of strings", origin);
        items.push_back(*v);
      }
      return items;
    }
  }
  throw Error(ErrorKind::kInvalidInput, "config.type", "unknown type");
}

bool matches_type(Type t, const Value& v) {
  switch (t) {
    case Type::String: return std::holds_alternative<std::string>(v);
    case Type::Integer: return std::holds_alternative<std::int64_t>(v);
    case Type::Boolean: return std::holds_alternative<bool>(v);
    case Type::Float: return std::holds_alternative<double>(v);
    case Type::Duration: return std::holds_alternative<Duration>(v);
    case Type::StringList: return std::holds_alternative<std::vector<std::string>>(v);
  }
  return false;
}

std::string show(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return "\"" + x + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, Duration>) {
          return std::to_string(x.count()) + "ms";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string out = "[";
          for (std::size_t i = 0; i < x.size(); ++i) out += (i ? ", \"" : "\"") + x[i] + "\"";
          return out + "]";
        } else {
          std::ostringstream os;
          os << x;
          return os.str();
        }
      },
      v);
}

}  // namespace

std::string_view to_string(Type type) {
  switch (type) {
    case Type::String: return "string";
    case Type::Integer: return "integer";
    case Type::Boolean: return "boolean";
    case Type::Float: return "float";
    case Type::Duration: return "duration";
    case Type::StringList: return "string list";
  }
  return "?";
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::Unset: return "unset";
    case Source::Default: return "default";
    case Source::File: return "file";
    case Source::Env: return "env";
    case Source::Flag: return "flag";
  }
  return "?";
}

Duration parse_duration(std::string_view raw, std::string_view key) {
  const std::string text = trim(raw);
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const auto bad = [&]() -> Duration {
    type_error(key, "a duration (\"250ms\", \"10s\", \"5m\", \"1h\" or integer seconds)",
               "duration", text);
  };
  if (digits == 0 || digits > 12) return bad();
  const std::int64_t n = *parse_int(std::string_view(text).substr(0, digits));
  const std::string_view unit = std::string_view(text).substr(digits);
  if (unit.empty() || unit == "s") return Duration(n * 1000);
  if (unit == "ms") return Duration(n);
  if (unit == "m") return Duration(n * 60'000);
  if (unit == "h") return Duration(n * 3'600'000);
  return bad();
}

// ---------------------------------------------------------------------------------------------
// Config

bool Config::has(std::string_view name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.value.has_value();
}

Source Config::source(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? Source::Unset : it->second.source;
}

const Value& Config::get(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw Error(ErrorKind::kInvalidInput, "config.no_such_key", "configuration key '" + std::string(name) + "' is not declared");
  }
  if (!it->second.value) {
    throw Error(ErrorKind::kInvalidInput, "config.no_such_key", "configuration key '" + std::string(name) + "' has no value");
  }
  return *it->second.value;
}

namespace {
template <typename T>
const T& get_as(const Config& c, std::string_view name, std::string_view what) {
  const Value& v = c.get(name);
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw Error(ErrorKind::kInvalidInput, "config.no_such_key",
              "configuration key '" + std::string(name) + "' is not " + std::string(what));
}
}  // namespace

std::string Config::get_string(std::string_view n) const { return get_as<std::string>(*this, n, "a string"); }
std::int64_t Config::get_int(std::string_view n) const { return get_as<std::int64_t>(*this, n, "an integer"); }
bool Config::get_bool(std::string_view n) const { return get_as<bool>(*this, n, "a boolean"); }
double Config::get_float(std::string_view n) const { return get_as<double>(*this, n, "a float"); }
Duration Config::get_duration(std::string_view n) const { return get_as<Duration>(*this, n, "a duration"); }
std::vector<std::string> Config::get_list(std::string_view n) const {
  return get_as<std::vector<std::string>>(*this, n, "a string list");
}

std::optional<std::string> Config::find_string(std::string_view name) const {
  if (!has(name)) return std::nullopt;
  return get_string(name);
}

std::string Config::dump() const {
  std::string out;
  for (const auto& [name, e] : entries_) {
    out += name + " = ";
    if (!e.value) {
      out += "<unset>";
    } else if (e.secret) {
      out += "<redacted>";
    } else {
      out += show(*e.value);
    }
    out += " (" + std::string(to_string(e.source)) + ")\n";
  }
  return out;
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

// ---------------------------------------------------------------------------------------------
// Loader

struct Loader::Impl {
  struct Bound {
    std::string text;
    bool flag = false;
    CLI::Option* option = nullptr;
  };
  std::vector<Key> keys;
  std::vector<std::string> ignored;
  std::map<std::string, std::string, std::less<>> flag_values;
  std::map<std::string, std::unique_ptr<Bound>, std::less<>> bound;

  const Key* find(std::string_view name) const {
    for (const auto& k : keys) {
      if (k.name == name) return &k;
    }
    return nullptr;
  }
  const Key* find_former(std::string_view name) const {
    for (const auto& k : keys) {
      for (const auto& f : k.former_names)
        if (f == name) return &k;
    }
    return nullptr;
  }
  bool is_ignored(std::string_view path) const {
    for (const auto& p : ignored) {
      if (path == p || (path.size() > p.size() && path.substr(0, p.size()) == p &&
                        path[p.size()] == '.')) {
        return true;
      }
    }
    return false;
  }
  bool is_prefix_of_key(std::string_view path) const {
    auto below = [&](std::string_view name) {
      return name.size() > path.size() && name.substr(0, path.size()) == path && name[path.size()] == '.';
    };
    for (const auto& k : keys) {
      if (below(k.name)) return true;
      for (const auto& f : k.former_names)
        if (below(f)) return true;
    }
    return false;
  }

  void walk(const toml::table& table, const std::string& prefix, Config& out,
            std::string_view origin) const {
    for (const auto& [k, node] : table) {
      const std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (is_ignored(path)) continue;
      const Key* key = find(path);
      const Key* renamed = key ? nullptr : find_former(path);
      if (renamed) {
        if (out.entries_.at(renamed->name).source == Source::File ||
            std::any_of(out.renamed_.begin(), out.renamed_.end(),
                        [&](const auto& r) { return r.second == renamed->name; })) {
          throw Error(ErrorKind::kInvalidInput, "config.duplicate",
                      std::string(origin) + ": '" + renamed->name + "' is set twice (also as its former name '" +
                          path + "')");
        }
        out.renamed_.emplace_back(path, renamed->name);
        key = renamed;
      } else if (key && out.entries_.at(key->name).source == Source::File) {
        throw Error(ErrorKind::kInvalidInput, "config.duplicate",
                    std::string(origin) + ": '" + key->name + "' is set twice (also under a former name)");
      }
      if (key) {
        auto& e = out.entries_.at(key->name);
        e.value = from_toml(*key, node, origin);
        e.source = Source::File;
      } else if (node.is_table() && is_prefix_of_key(path)) {
        walk(*node.as_table(), path, out, origin);
      } else {
        throw Error(ErrorKind::kInvalidInput, "config.unknown_key",
                    std::string(origin) + ": unknown configuration key '" + path + "'");
      }
    }
  }
};

Loader::Loader() : impl_(std::make_unique<Impl>()) {}
Loader::~Loader() = default;
Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;

Loader& Loader::add(Key key) {
  if (key.name.empty() || impl_->find(key.name)) {
    throw Error(ErrorKind::kInvalidInput, "config.duplicate", "configuration key '" + key.name + "' declared twice");
  }
  if (key.default_value) {
    auto& d = *key.default_value;
    if (key.type == Type::Float && std::holds_alternative<std::int64_t>(d)) {
      d = static_cast<double>(std::get<std::int64_t>(d));
    } else if (key.type == Type::Duration && std::holds_alternative<std::int64_t>(d)) {
      d = Duration(std::get<std::int64_t>(d) * 1000);
    }
    if (!matches_type(key.type, d)) {
      type_error(key.name, "a default of type " + std::string(to_string(key.type)), "default");
    }
  }
  impl_->keys.push_back(std::move(key));
  return *this;
}

Loader& Loader::ignore_table(std::string prefix) {
  impl_->ignored.push_back(std::move(prefix));
  return *this;
}

const std::vector<Key>& Loader::keys() const { return impl_->keys; }

void Loader::bind(CLI::App& app) {
  for (const auto& key : impl_->keys) {
    if (key.flag.empty()) continue;
    auto b = std::make_unique<Impl::Bound>();
    std::string help = key.help;
    if (!key.env.empty()) help += " [env: " + key.env + "]";
    if (key.type == Type::Boolean) {
      b->flag = true;
      b->option = app.add_flag(key.flag, b->text, help);
    } else {
      b->option = app.add_option(key.flag, b->text, help);
    }
    impl_->bound[key.name] = std::move(b);
  }
}

void Loader::set_flag_value(std::string_view name, std::string text) {
  impl_->flag_values[std::string(name)] = std::move(text);
}

Config Loader::load(const std::optional<std::filesystem::path>& file, const EnvLookup& env) const {
  if (!file || file->empty()) return load_string("", env, "config");
  std::string text;
  try {
    text = read_text_file(*file, 16u << 20);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "config.io", "cannot read configuration file " + file->string() + ": " + e.what());
  }
  return load_string(text, env, file->string());
}

Config Loader::load_string(std::string_view toml_text, const EnvLookup& env,
                           std::string_view origin) const {
  Config out;
  for (const auto& key : impl_->keys) {
    Config::Entry e{key.type, Source::Unset, std::nullopt, key.secret};
    if (key.default_value) {
      e.value = key.default_value;
      e.source = Source::Default;
    }
    out.entries_.emplace(key.name, std::move(e));
  }

  if (!trim(toml_text).empty()) {
    toml::table table;
    try {
      table = toml::parse(toml_text, std::string(origin));
    } catch (const toml::parse_error& err) {
      std::ostringstream msg;
      msg << origin << ":" << err.source().begin.line << ":" << err.source().begin.column << ": "
          << err.description();
      throw Error(ErrorKind::kInvalidInput, "config.parse", msg.str());
    }
    impl_->walk(table, "", out, origin);
  }

  for (const auto& key : impl_->keys) {
    auto& e = out.entries_.at(key.name);
    if (!key.env.empty() && env) {
      if (auto v = env(key.env)) {
        e.value = from_text(key, *v, "environment variable " + key.env);
        e.source = Source::Env;
      }
    }
    std::optional<std::string> flag_text;
    if (auto it = impl_->bound.find(key.name); it != impl_->bound.end() && it->second->option &&
                                               it->second->option->count() > 0) {
      flag_text = it->second->text;
      if (it->second->flag && flag_text->empty()) flag_text = "true";
    }
    if (auto it = impl_->flag_values.find(key.name); it != impl_->flag_values.end()) {
      flag_text = it->second;
    }
    if (flag_text) {
      e.value = from_text(key, *flag_text, "flag " + key.flag);
      e.source = Source::Flag;
    }
    if (key.required && !e.value) {
      std::string how = "set '" + key.name + "' in the configuration file";
      if (!key.env.empty()) how += ", " + key.env + " in the environment";
      if (!key.flag.empty()) how += " or " + key.flag;
      throw Error(ErrorKind::kInvalidInput, "config.missing", "missing required configuration: " + how);
    }
  }
  return out;
}

void warn_renamed(const Config& config) {
  for (const auto& [former, current] : config.renamed())
    log::warn("config.renamed_key", {{"former", former}, {"key", current}});
}

}  // namespace enarx::config
