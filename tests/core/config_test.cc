#include "core/config.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <map>

#include "core/error.h"
#include "core/file.h"

namespace enarx::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Loader make_loader() {
  Loader l;
  l.add({.name = "server.port", .type = Type::Integer, .default_value = std::int64_t{8443},
         .env = "T_PORT", .flag = "--port", .help = "port"});
  l.add({.name = "server.address", .type = Type::String, .default_value = std::string("::"),
         .env = "T_ADDR", .flag = "--addr", .help = "address"});
  l.add({.name = "server.timeout", .type = Type::Duration, .default_value = std::int64_t{10},
         .env = "T_TIMEOUT", .flag = "--timeout"});
  l.add({.name = "debug", .type = Type::Boolean, .default_value = false, .env = "T_DEBUG",
         .flag = "--debug"});
  l.add({.name = "ratio", .type = Type::Float, .default_value = std::int64_t{1}});
  l.add({.name = "sans", .type = Type::StringList, .env = "T_SANS"});
  l.add({.name = "key", .type = Type::String, .env = "T_KEY", .secret = true});
  return l;
}

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code() + "|" + e.what();
  }
  return "no error";
}

TEST(Config, Defaults) {
  auto cfg = make_loader().load_string("", env_of({}));
  EXPECT_EQ(cfg.get_int("server.port"), 8443);
  EXPECT_EQ(cfg.get_string("server.address"), "::");
  EXPECT_EQ(cfg.get_duration("server.timeout"), std::chrono::seconds(10));
  EXPECT_FALSE(cfg.get_bool("debug"));
  EXPECT_DOUBLE_EQ(cfg.get_float("ratio"), 1.0);
  EXPECT_FALSE(cfg.has("sans"));
  EXPECT_EQ(cfg.source("server.port"), Source::Default);
  EXPECT_EQ(cfg.source("sans"), Source::Unset);
  EXPECT_EQ(cfg.find_string("key"), std::nullopt);
}

TEST(Config, PrecedenceFlagsOverEnvOverFileOverDefaults) {
  const std::string toml =
      "debug = true\nsans = [\"a\", \"b\"]\n[server]\nport = 1000\naddress = \"10.0.0.1\"\n"
      "timeout = \"250ms\"\n";
  auto loader = make_loader();
  // File only.
  auto cfg = loader.load_string(toml, env_of({}));
  EXPECT_EQ(cfg.get_int("server.port"), 1000);
  EXPECT_EQ(cfg.source("server.port"), Source::File);
  EXPECT_EQ(cfg.get_duration("server.timeout"), std::chrono::milliseconds(250));
  EXPECT_EQ(cfg.get_list("sans"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(cfg.get_bool("debug"));
  // Env beats file.
  cfg = loader.load_string(toml, env_of({{"T_PORT", "2000"}, {"T_SANS", "x, y"}, {"T_DEBUG", "no"}}));
  EXPECT_EQ(cfg.get_int("server.port"), 2000);
  EXPECT_EQ(cfg.source("server.port"), Source::Env);
  EXPECT_EQ(cfg.get_list("sans"), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(cfg.get_bool("debug"));
  EXPECT_EQ(cfg.get_string("server.address"), "10.0.0.1");
  // Flags (through CLI11) beat env.
  CLI::App app;
  loader.bind(app);
  const char* argv[] = {"prog", "--port", "3000", "--debug"};
  app.parse(4, const_cast<char**>(argv));
  cfg = loader.load_string(toml, env_of({{"T_PORT", "2000"}, {"T_DEBUG", "no"}}));
  EXPECT_EQ(cfg.get_int("server.port"), 3000);
  EXPECT_EQ(cfg.source("server.port"), Source::Flag);
  EXPECT_TRUE(cfg.get_bool("debug"));
  EXPECT_EQ(cfg.source("debug"), Source::Flag);
  // A flag that was not given does not override.
  EXPECT_EQ(cfg.get_string("server.address"), "10.0.0.1");
}

TEST(Config, BoolFlagAcceptsFalse) {
  auto loader = make_loader();
  CLI::App app;
  loader.bind(app);
  const char* argv[] = {"prog", "--debug=false"};
  app.parse(2, const_cast<char**>(argv));
  auto cfg = loader.load_string("debug = true", env_of({}));
  EXPECT_FALSE(cfg.get_bool("debug"));
}

TEST(Config, SetFlagValueWithoutCli) {
  auto loader = make_loader();
  loader.set_flag_value("server.timeout", "2m");
  auto cfg = loader.load_string("", env_of({{"T_TIMEOUT", "5"}}));
  EXPECT_EQ(cfg.get_duration("server.timeout"), std::chrono::minutes(2));
}

TEST(Config, UnknownKeysAreErrorsNamingTheKey) {
  auto loader = make_loader();
  EXPECT_EQ(code_of([&] { loader.load_string("[server]\nprot = 1\n", env_of({})); }).substr(0, 19),
            "config.unknown_key|");
  EXPECT_NE(code_of([&] { loader.load_string("[server]\nprot = 1\n", env_of({})); })
                .find("'server.prot'"),
            std::string::npos);
  EXPECT_NE(code_of([&] { loader.load_string("[other]\nx = 1\n", env_of({})); }).find("'other'"),
            std::string::npos);
  // A declared scalar used as a table is a type error, not silently accepted.
  EXPECT_EQ(code_of([&] { loader.load_string("debug = { a = 1 }", env_of({})); }).substr(0, 12),
            "config.type|");
}

TEST(Config, IgnoredTables) {
  auto loader = make_loader();
  loader.ignore_table("snp");
  auto cfg = loader.load_string("[snp]\nabi = \"1.51\"\n[snp.deep]\nx = 1\n", env_of({}));
  EXPECT_EQ(cfg.get_int("server.port"), 8443);
}

TEST(Config, TypeErrorsNameTheKey) {
  auto loader = make_loader();
  auto r = code_of([&] { loader.load_string("[server]\nport = \"x\"\n", env_of({})); });
  EXPECT_EQ(r.substr(0, 12), "config.type|");
  EXPECT_NE(r.find("server.port"), std::string::npos);
  r = code_of([&] { loader.load_string("", env_of({{"T_PORT", "12a"}})); });
  EXPECT_EQ(r.substr(0, 12), "config.type|");
  EXPECT_NE(r.find("T_PORT"), std::string::npos);
  r = code_of([&] { loader.load_string("", env_of({{"T_TIMEOUT", "10 parsecs"}})); });
  EXPECT_EQ(r.substr(0, 12), "config.type|");
  r = code_of([&] { loader.load_string("sans = [1, 2]", env_of({})); });
  EXPECT_NE(r.find("sans"), std::string::npos);
}

TEST(Config, ParseErrorsAndMissing) {
  auto loader = make_loader();
  EXPECT_EQ(code_of([&] { loader.load_string("[server\n", env_of({})); }).substr(0, 13),
            "config.parse|");
  Loader req;
  req.add({.name = "ca.key", .type = Type::String, .env = "CA_KEY", .flag = "--key",
           .required = true});
  auto r = code_of([&] { req.load_string("", env_of({})); });
  EXPECT_EQ(r.substr(0, 15), "config.missing|");
  EXPECT_NE(r.find("--key"), std::string::npos);
  EXPECT_EQ(req.load_string("", env_of({{"CA_KEY", "k.pem"}})).get_string("ca.key"), "k.pem");
  EXPECT_EQ(code_of([&] { req.add({.name = "ca.key"}); }).substr(0, 17), "config.duplicate|");
}

TEST(Config, FileAndDumpRedactsSecrets) {
  TempDir dir;
  write_file_atomic(dir.path() / "c.toml", std::string_view("key = \"hunter2\"\n"));
  auto loader = make_loader();
  auto cfg = loader.load(dir.path() / "c.toml", env_of({}));
  EXPECT_EQ(cfg.get_string("key"), "hunter2");
  EXPECT_EQ(cfg.dump().find("hunter2"), std::string::npos);
  EXPECT_NE(cfg.dump().find("server.port = 8443 (default)"), std::string::npos);
  EXPECT_EQ(code_of([&] { loader.load(dir.path() / "missing.toml", env_of({})); }).substr(0, 10),
            "config.io|");
}

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("3"), std::chrono::seconds(3));
  EXPECT_EQ(parse_duration("1h"), std::chrono::hours(1));
  EXPECT_THROW(parse_duration("-1s"), Error);
  EXPECT_THROW(parse_duration("s"), Error);
}

// A key that moved (drawbridge's [tls] insecure_plain_http became [server] plain_http): files
// written for the old name still load, say so, and cannot set the key twice.
TEST(Config, FormerNamesStillLoadAndAreReported) {
  Loader l;
  l.add({.name = "server.plain_http", .type = Type::Boolean, .default_value = false,
         .former_names = {"tls.insecure_plain_http"}});
  l.add({.name = "server.max_connections", .type = Type::Integer, .default_value = std::int64_t{1024},
         .former_names = {"limits.max_connections"}});
  l.add({.name = "tls.cert", .type = Type::String, .default_value = std::string()});

  auto old = l.load_string("[tls]\ninsecure_plain_http = true\ncert = \"c.pem\"\n[limits]\nmax_connections = 7\n",
                           env_of({}));
  EXPECT_TRUE(old.get_bool("server.plain_http"));
  EXPECT_EQ(old.source("server.plain_http"), Source::File);
  EXPECT_EQ(old.get_int("server.max_connections"), 7);
  EXPECT_EQ(old.get_string("tls.cert"), "c.pem");
  ASSERT_EQ(old.renamed().size(), 2u);
  EXPECT_EQ(old.renamed()[0], (std::pair<std::string, std::string>{"limits.max_connections", "server.max_connections"}));
  EXPECT_EQ(old.renamed()[1], (std::pair<std::string, std::string>{"tls.insecure_plain_http", "server.plain_http"}));

  auto current = l.load_string("[server]\nplain_http = true\n", env_of({}));
  EXPECT_TRUE(current.get_bool("server.plain_http"));
  EXPECT_TRUE(current.renamed().empty());

  for (const char* both : {"[server]\nplain_http = true\n[tls]\ninsecure_plain_http = false\n",
                           "[tls]\ninsecure_plain_http = false\n[server]\nplain_http = true\n"}) {
    EXPECT_EQ(code_of([&] { l.load_string(both, env_of({})); }).substr(0, 17), "config.duplicate|") << both;
  }
  // Only the declared former names: anything else in the old tables is still unknown.
  EXPECT_EQ(code_of([&] { l.load_string("[limits]\nmax_connection = 7\n", env_of({})); }).substr(0, 19),
            "config.unknown_key|");
}

}  // namespace
}  // namespace enarx::config
