#include "runtime/config.h"

#include <toml++/toml.h>

#include <set>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "core/file.h"

namespace enarx::runtime {
namespace {

[[noreturn]] void fail(std::string_view code, std::string_view source, const std::string& msg) {
  throw ConfigError(code == "too_large" ? ErrorKind::kTooLarge : ErrorKind::kInvalidInput,
                    std::string("runtime.config.") + std::string(code),
              std::string(source) + ": " + msg);
}

std::string string_field(const toml::node& n, const std::string& where, std::string_view src) {
  const auto* s = n.as_string();
  if (!s) fail("type", src, where + " must be a string");
  return s->get();
}

FileKind parse_kind(const std::string& s, const std::string& where, std::string_view src) {
  if (s == "null") return FileKind::Null;
  if (s == "stdin") return FileKind::Stdin;
  if (s == "stdout") return FileKind::Stdout;
  if (s == "stderr") return FileKind::Stderr;
  if (s == "listen") return FileKind::Listen;
  if (s == "connect") return FileKind::Connect;
  fail("value", src, where + " must be one of null, stdin, stdout, stderr, listen, connect (got '" +
                         s + "')");
}

FileEntry parse_file(const toml::table& t, std::size_t index, std::string_view src) {
  std::string at = "files[" + std::to_string(index) + "]";
  FileEntry f;
  const toml::node* kind = t.get("kind");
  if (!kind) fail("missing", src, at + ".kind is required");
  f.kind = parse_kind(string_field(*kind, at + ".kind", src), at + ".kind", src);
  bool net = f.kind == FileKind::Listen || f.kind == FileKind::Connect;

  std::set<std::string> allowed = {"kind", "name"};
  if (net) allowed.insert({"prot", "port"});
  if (f.kind == FileKind::Listen) allowed.insert("addr");
  if (f.kind == FileKind::Connect) allowed.insert("host");
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (!allowed.count(key)) {
      static const std::set<std::string> known = {"kind", "name", "prot", "port", "addr", "host"};
      fail("unknown_key", src,
           at + "." + key +
               (known.count(key) ? " is not allowed for kind '" + std::string(to_string(f.kind)) + "'"
                                 : " is not a known key"));
    }
  }

  if (const toml::node* n = t.get("name")) {
    f.name = string_field(*n, at + ".name", src);
    if (f.name.find(':') != std::string::npos)
      fail("value", src, at + ".name must not contain ':'");
    if (f.name.empty()) fail("value", src, at + ".name must not be empty");
  }
  if (net) {
    const toml::node* prot = t.get("prot");
    if (!prot) fail("missing", src, at + ".prot is required (\"tcp\" or \"tls\")");
    std::string p = string_field(*prot, at + ".prot", src);
    if (p == "tcp")
      f.prot = Protocol::Tcp;
    else if (p == "tls")
      f.prot = Protocol::Tls;
    else
      fail("value", src, at + ".prot must be \"tcp\" or \"tls\" (got '" + p + "')");
    f.port = f.prot == Protocol::Tls ? 443 : 80;
    if (const toml::node* n = t.get("port")) {
      const auto* i = n->as_integer();
      if (!i) fail("type", src, at + ".port must be an integer");
      if (i->get() < 0 || i->get() > 65535)
        fail("value", src, at + ".port must be in 0..65535");
      f.port = static_cast<std::uint16_t>(i->get());
    }
  }
  if (f.kind == FileKind::Listen) {
    if (f.name.empty()) fail("missing", src, at + ".name is required for kind 'listen'");
    f.addr = "::";
    if (const toml::node* n = t.get("addr")) f.addr = string_field(*n, at + ".addr", src);
  }
  if (f.kind == FileKind::Connect) {
    const toml::node* h = t.get("host");
    if (!h) fail("missing", src, at + ".host is required for kind 'connect'");
    f.host = string_field(*h, at + ".host", src);
    if (f.host.empty()) fail("value", src, at + ".host must not be empty");
    if (f.name.empty()) f.name = f.host;
    if (f.name.find(':') != std::string::npos)
      fail("value", src, at + ".name (defaulted from host) must not contain ':'");
  }
  if (f.name.empty()) f.name = std::string(to_string(f.kind));
  return f;
}

DirEntry parse_dir(const toml::table& t, std::size_t index, std::string_view src) {
  std::string at = "dirs[" + std::to_string(index) + "]";
  DirEntry d;
  const toml::node* kind = t.get("kind");
  if (!kind) fail("missing", src, at + ".kind is required (\"assets\" or \"tmpfs\")");
  std::string k = string_field(*kind, at + ".kind", src);
  if (k == "assets")
    d.kind = DirKind::Assets;
  else if (k == "tmpfs")
    d.kind = DirKind::Tmpfs;
  else
    fail("value", src, at + ".kind must be \"assets\" or \"tmpfs\" (got '" + k + "')");
  for (const auto& [key_, v] : t) {
    std::string key(key_.str());
    if (key == "kind" || key == "name") continue;
    if (key == "size") {
      if (d.kind != DirKind::Tmpfs) fail("unknown_key", src, at + ".size is not allowed for kind 'assets'");
      continue;
    }
    fail("unknown_key", src, at + "." + key + " is not a known key");
  }
  if (const toml::node* n = t.get("name")) {
    d.name = string_field(*n, at + ".name", src);
    if (d.name.empty()) fail("value", src, at + ".name must not be empty");
    if (d.name.size() > 4096) fail("value", src, at + ".name is longer than 4096 bytes");
    if (d.name.find('\0') != std::string::npos) fail("value", src, at + ".name must not contain NUL");
  } else if (d.kind == DirKind::Assets) {
    d.name = "/";
  } else {
    fail("missing", src, at + ".name is required for kind 'tmpfs'");
  }
  if (const toml::node* n = t.get("size")) {
    std::optional<std::uint64_t> bytes;
    if (const auto* i = n->as_integer())
      bytes = i->get() >= 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(i->get())) : std::nullopt;
    else if (const auto* str = n->as_string())
      bytes = parse_size(str->get());
    else
      fail("type", src, at + ".size must be an integer (bytes) or a string such as \"16MiB\"");
    if (!bytes || *bytes == 0 || *bytes > kMaxTmpfsBytes)
      fail("value", src, at + ".size must be between 1 byte and 4GiB (\"512K\", \"16MiB\", \"1G\")");
    d.size = *bytes;
  }
  return d;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view t) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  if (t.empty()) return std::nullopt;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(t[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = t.substr(i);
  int shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "KiB") shift = 10;
  else if (unit == "M" || unit == "MiB") shift = 20;
  else if (unit == "G" || unit == "GiB") shift = 30;
  else return std::nullopt;
  if (n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

std::string_view to_string(DirKind k) { return k == DirKind::Assets ? "assets" : "tmpfs"; }

std::string_view to_string(FileKind k) {
  switch (k) {
    case FileKind::Null: return "null";
    case FileKind::Stdin: return "stdin";
    case FileKind::Stdout: return "stdout";
    case FileKind::Stderr: return "stderr";
    case FileKind::Listen: return "listen";
    case FileKind::Connect: return "connect";
  }
  return "?";
}

std::string_view to_string(Protocol p) { return p == Protocol::Tcp ? "tcp" : "tls"; }

Config default_config() {
  Config c;
  for (FileKind k : {FileKind::Stdin, FileKind::Stdout, FileKind::Stderr}) {
    FileEntry f;
    f.kind = k;
    f.name = std::string(to_string(k));
    c.files.push_back(f);
  }
  return c;
}

Config parse_config(std::string_view text, std::string_view src) {
  // toml++ builds a node per value: a megabyte of `"",` is a third of a million of them.
  if (text.size() > kMaxConfigBytes)
    fail("too_large", src, "larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  toml::table root;
  try {
    root = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e.description() << " at line " << e.source().begin.line << ", column "
        << e.source().begin.column;
    fail("syntax", src, msg.str());
  }
  Config c;
  bool have_files = false;
  for (const auto& [k, v] : root) {
    std::string key(k.str());
    if (key == "steward") {
      c.steward = string_field(v, "steward", src);
      if (c.steward->rfind("https://", 0) != 0 && c.steward->rfind("http://", 0) != 0)
        fail("value", src, "steward must be an http(s) URL");
    } else if (key == "args") {
      const auto* a = v.as_array();
      if (!a) fail("type", src, "args must be an array of strings");
      // argv[0] comes on top.
      if (a->size() + 1 > kMaxArgs)
        fail("too_large", src, "more than " + std::to_string(kMaxArgs - 1) + " args");
      for (std::size_t i = 0; i < a->size(); ++i)
        c.args.push_back(string_field(*a->get(i), "args[" + std::to_string(i) + "]", src));
    } else if (key == "env") {
      const auto* t = v.as_table();
      if (!t) fail("type", src, "env must be a table of strings");
      // FD_COUNT and FD_NAMES come on top.
      if (t->size() + 2 > kMaxEnv)
        fail("too_large", src, "more than " + std::to_string(kMaxEnv - 2) + " env variables");
      for (const auto& [ek, ev] : *t) {
        std::string name(ek.str());
        if (name.empty() || name.find('=') != std::string::npos ||
            name.find('\0') != std::string::npos)
          fail("value", src, "env." + name + ": invalid variable name");
        c.env.emplace_back(name, string_field(ev, "env." + name, src));
      }
    } else if (key == "files") {
      const auto* a = v.as_array();
      if (!a) fail("type", src, "files must be an array of tables ([[files]])");
      have_files = true;
      if (a->size() > kMaxFiles)
        fail("too_large", src, "more than " + std::to_string(kMaxFiles) + " [[files]]");
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto* t = a->get(i)->as_table();
        if (!t) fail("type", src, "files[" + std::to_string(i) + "] must be a table");
        c.files.push_back(parse_file(*t, i, src));
      }
    } else if (key == "dirs") {
      const auto* a = v.as_array();
      if (!a) fail("type", src, "dirs must be an array of tables ([[dirs]])");
      if (a->size() > kMaxDirs)
        fail("too_large", src, "more than " + std::to_string(kMaxDirs) + " [[dirs]]");
      c.dirs.emplace();
      bool assets = false;
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto* t = a->get(i)->as_table();
        if (!t) fail("type", src, "dirs[" + std::to_string(i) + "] must be a table");
        DirEntry d = parse_dir(*t, i, src);
        if (d.kind == DirKind::Assets && std::exchange(assets, true))
          fail("value", src, "dirs[" + std::to_string(i) + "]: the assets can be preopened once");
        for (const DirEntry& e : *c.dirs)
          if (e.name == d.name)
            fail("value", src, "dirs[" + std::to_string(i) + "].name '" + d.name + "' is used twice");
        c.dirs->push_back(std::move(d));
      }
    } else {
      fail("unknown_key", src, key + " is not a known key");
    }
  }
  if (!have_files) c.files = default_config().files;
  std::vector<std::string> argv = {std::string()};  // argv[0] is the runtime's to choose
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  check_args_and_env(argv, workload_environment(c), src);
  return c;
}

Config read_config_file(const std::filesystem::path& path) {
  std::string text;
  try {
    text = read_text_file(path, kMaxConfigBytes);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kTooLarge)
      fail("too_large", path.string(), "larger than " + std::to_string(kMaxConfigBytes) + " bytes");
    throw;
  }
  return parse_config(text, path.string());
}

void check_args_and_env(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        std::string_view src) {
  if (args.size() > kMaxArgs)
    fail("too_large", src, std::to_string(args.size()) + " args (argv[0] included), more than " +
                               std::to_string(kMaxArgs));
  if (env.size() > kMaxEnv)
    fail("too_large", src,
         std::to_string(env.size()) +
             " environment variables (FD_COUNT and FD_NAMES included), more than " +
             std::to_string(kMaxEnv));
  std::uint64_t bytes = 0;
  for (const auto& a : args) bytes += a.size() + 1;
  for (const auto& e : env) bytes += e.size() + 1;
  if (bytes > kMaxArgEnvBytes)
    fail("too_large", src, "args and environment are " + std::to_string(bytes) +
                               " bytes (each with its NUL), more than " +
                               std::to_string(kMaxArgEnvBytes));
}

std::vector<std::string> workload_environment(const Config& config) {
  std::vector<std::string> env;
  std::string names;
  for (std::size_t i = 0; i < config.files.size(); ++i) {
    if (i) names += ':';
    names += config.files[i].name;
  }
  if (config.fd_env) {
    env.push_back("FD_COUNT=" + std::to_string(config.files.size()));
    env.push_back("FD_NAMES=" + names);
  }
  for (const auto& [k, v] : config.env)
    if (!config.fd_env || (k != "FD_COUNT" && k != "FD_NAMES")) env.push_back(k + "=" + v);
  return env;
}

}  // namespace enarx::runtime
