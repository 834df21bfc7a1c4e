#include "runtime/config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file.h"

namespace enarx::runtime {
namespace {

std::string error_code_of(std::string_view toml) {
  try {
    parse_config(toml);
  } catch (const Error& e) {
    return e.code();
  }
  return "";
}

std::string error_message_of(std::string_view toml) {
  try {
    parse_config(toml);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultIsStdio) {
  Config c = default_config();
  ASSERT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.files[0].kind, FileKind::Stdin);
  EXPECT_EQ(c.files[2].name, "stderr");
  EXPECT_FALSE(c.steward);
  auto env = workload_environment(c);
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0], "FD_COUNT=3");
  EXPECT_EQ(env[1], "FD_NAMES=stdin:stdout:stderr");
}

TEST(Config, FullEnarxExample) {
  Config c = parse_config(R"(
steward = "https://attest.profian.com"
args = ["--argument1", "--argument2=foo"]
[env]
VAR1 = "var1"
FD_COUNT = "ignored"
[[files]]
kind = "null"
[[files]]
kind = "stdout"
name = "out"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "tls"
name = "ingest"
[[files]]
kind = "listen"
prot = "tcp"
name = "plain"
addr = "127.0.0.1"
port = 0
[[files]]
kind = "connect"
prot = "tls"
host = "example.com"
[[files]]
kind = "connect"
prot = "tcp"
host = "db"
name = "database"
port = 5432
)");
  EXPECT_EQ(*c.steward, "https://attest.profian.com");
  ASSERT_EQ(c.args.size(), 2u);
  ASSERT_EQ(c.files.size(), 7u);
  EXPECT_EQ(c.files[0].name, "null");
  EXPECT_EQ(c.files[1].name, "out");
  EXPECT_EQ(c.files[3].addr, "::");
  EXPECT_EQ(c.files[3].port, 443);
  EXPECT_EQ(c.files[4].port, 0);
  EXPECT_EQ(c.files[4].prot, Protocol::Tcp);
  EXPECT_EQ(c.files[5].name, "example.com");
  EXPECT_EQ(c.files[5].port, 443);
  EXPECT_EQ(c.files[6].port, 5432);
  auto env = workload_environment(c);
  ASSERT_EQ(env.size(), 3u);
  EXPECT_EQ(env[0], "FD_COUNT=7");
  EXPECT_EQ(env[1], "FD_NAMES=null:out:stderr:ingest:plain:example.com:database");
  EXPECT_EQ(env[2], "VAR1=var1");
}

// [[dirs]] (our extension): the preopens, in order, with names and tmpfs sizes.
TEST(Config, Dirs) {
  Config c = parse_config(
      "[[dirs]]\nkind = \"tmpfs\"\nname = \"/tmp\"\nsize = \"16MiB\"\n"
      "[[dirs]]\nkind = \"assets\"\nname = \"/app\"\n"
      "[[dirs]]\nkind = \"tmpfs\"\nname = \"cache\"\nsize = 4096\n"
      "[[dirs]]\nkind = \"tmpfs\"\nname = \"/var\"\n");
  ASSERT_TRUE(c.dirs.has_value());
  ASSERT_EQ(c.dirs->size(), 4u);
  EXPECT_EQ((*c.dirs)[0].kind, DirKind::Tmpfs);
  EXPECT_EQ((*c.dirs)[0].name, "/tmp");
  EXPECT_EQ((*c.dirs)[0].size, 16u << 20);
  EXPECT_EQ((*c.dirs)[1].kind, DirKind::Assets);
  EXPECT_EQ((*c.dirs)[1].name, "/app");
  EXPECT_EQ((*c.dirs)[2].size, 4096u);
  EXPECT_EQ((*c.dirs)[3].size, 0u);  // the default, kDefaultTmpfsBytes
  EXPECT_EQ(parse_config("[[dirs]]\nkind = \"assets\"\n").dirs->at(0).name, "/");
  EXPECT_FALSE(parse_config("").dirs.has_value());
  EXPECT_EQ(parse_size("512K"), 512u << 10);
  EXPECT_EQ(parse_size("1G"), 1u << 30);
  EXPECT_EQ(parse_size("12"), 12u);
  EXPECT_FALSE(parse_size("12T").has_value());
  EXPECT_FALSE(parse_size("M").has_value());
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
}

TEST(Config, DirsErrorsNameTheField) {
  auto message_of = [](std::string_view toml) {
    try {
      parse_config(toml);
    } catch (const Error& e) {
      return e.code() + " " + e.what();
    }
    return std::string();
  };
  EXPECT_NE(message_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\nsze = 1").find(
                "runtime.config.unknown_key Enarx.toml: dirs[0].sze is not a known key"),
            std::string::npos);
  EXPECT_NE(message_of("[[dirs]]\nkind = \"assets\"\nsize = 1").find("dirs[0].size is not allowed"),
            std::string::npos);
  EXPECT_EQ(error_code_of("dirs = 1"), "runtime.config.type");
  EXPECT_EQ(error_code_of("[[dirs]]\nname = \"/t\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"hostdir\"\nname = \"/t\""), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"\""), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\nsize = 0"), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\nsize = \"5G\""), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\nsize = -1"), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\nsize = true"), "runtime.config.type");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\"\n[[dirs]]\nkind = \"tmpfs\"\nname = \"/t\""),
            "runtime.config.value");
  EXPECT_EQ(error_code_of("[[dirs]]\nkind = \"assets\"\n[[dirs]]\nkind = \"assets\"\nname = \"/b\""),
            "runtime.config.value");
  std::string many;
  for (std::size_t i = 0; i <= kMaxDirs; ++i)
    many += "[[dirs]]\nkind = \"tmpfs\"\nname = \"/d" + std::to_string(i) + "\"\n";
  EXPECT_EQ(error_code_of(many), "runtime.config.too_large");
}

TEST(Config, TcpDefaultPortIs80) {
  Config c = parse_config("[[files]]\nkind=\"listen\"\nprot=\"tcp\"\nname=\"x\"\n");
  EXPECT_EQ(c.files[0].port, 80);
}

TEST(Config, Errors) {
  EXPECT_EQ(error_code_of("args = ["), "runtime.config.syntax");
  EXPECT_EQ(error_code_of("argz = []"), "runtime.config.unknown_key");
  EXPECT_EQ(error_code_of("args = \"x\""), "runtime.config.type");
  EXPECT_EQ(error_code_of("args = [1]"), "runtime.config.type");
  EXPECT_EQ(error_code_of("steward = 3"), "runtime.config.type");
  EXPECT_EQ(error_code_of("steward = \"ftp://x\""), "runtime.config.value");
  EXPECT_EQ(error_code_of("env = 1"), "runtime.config.type");
  EXPECT_EQ(error_code_of("[env]\nX = 1"), "runtime.config.type");
  EXPECT_EQ(error_code_of("files = 1"), "runtime.config.type");
  EXPECT_EQ(error_code_of("[[files]]\nname = \"x\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"socket\""), "runtime.config.value");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"stdin\"\nport = 1"), "runtime.config.unknown_key");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nname = \"a\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nprot = \"tls\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nprot = \"udp\"\nname = \"a\""),
            "runtime.config.value");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nprot = \"tls\"\nname = \"a\"\nport = 70000"),
            "runtime.config.value");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nprot = \"tls\"\nname = \"a\"\nport = \"1\""),
            "runtime.config.type");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"listen\"\nprot = \"tls\"\nname = \"a\"\nhost = \"h\""),
            "runtime.config.unknown_key");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"connect\"\nprot = \"tls\""), "runtime.config.missing");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"connect\"\nprot = \"tls\"\nhost = \"h\"\naddr = \"::\""),
            "runtime.config.unknown_key");
  EXPECT_EQ(error_code_of("[[files]]\nkind = \"stdout\"\nname = \"a:b\""), "runtime.config.value");
}

TEST(Config, ErrorsNameTheField) {
  std::string m = error_message_of("[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"listen\"\nprto = \"tls\"");
  EXPECT_NE(m.find("files[1].prto"), std::string::npos) << m;
  m = error_message_of("[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"connect\"\nprot = \"tls\"");
  EXPECT_NE(m.find("files[1].host"), std::string::npos) << m;
  m = error_message_of("args = [\n\"a\",");
  EXPECT_NE(m.find("line"), std::string::npos) << m;
}

std::string many(const std::string& item, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += item;
  return s;
}

// Each bound holds exactly: at the bound the file parses, one over it is too_large and the
// message says which bound.
TEST(Config, Bounds) {
  // args: argv[0] is one of kMaxArgs.
  EXPECT_NO_THROW(parse_config("args = [" + many("\"\",", kMaxArgs - 1) + "]"));
  std::string m = error_message_of("args = [" + many("\"\",", kMaxArgs) + "]");
  EXPECT_EQ(error_code_of("args = [" + many("\"\",", kMaxArgs) + "]"), "runtime.config.too_large");
  EXPECT_NE(m.find("args"), std::string::npos) << m;

  // env: FD_COUNT and FD_NAMES are two of kMaxEnv.
  auto env = [](std::size_t n) {
    std::string s = "[env]\n";
    for (std::size_t i = 0; i < n; ++i) s += "V" + std::to_string(i) + " = \"\"\n";
    return s;
  };
  EXPECT_NO_THROW(parse_config(env(kMaxEnv - 2)));
  EXPECT_EQ(error_code_of(env(kMaxEnv - 1)), "runtime.config.too_large");
  EXPECT_NE(error_message_of(env(kMaxEnv - 1)).find("env"), std::string::npos);

  EXPECT_NO_THROW(parse_config(many("[[files]]\nkind = \"null\"\n", kMaxFiles)));
  EXPECT_EQ(error_code_of(many("[[files]]\nkind = \"null\"\n", kMaxFiles + 1)),
            "runtime.config.too_large");

  // Bytes of argv and environ together, NULs included: the default environment is
  // "FD_COUNT=3" and "FD_NAMES=stdin:stdout:stderr" (11 + 29 bytes), argv[0] counts 1 here.
  std::size_t room = kMaxArgEnvBytes - 1 - 11 - 29;
  std::string at = "args = [\"" + std::string(room - 1, 'a') + "\"]";
  std::string over = "args = [\"" + std::string(room, 'a') + "\"]";
  EXPECT_NO_THROW(parse_config(at));
  EXPECT_EQ(error_code_of(over), "runtime.config.too_large");
  EXPECT_NE(error_message_of(over).find("bytes"), std::string::npos);

  // The file itself, before toml++ sees it.
  std::string big = "# " + std::string(kMaxConfigBytes, 'x');
  EXPECT_EQ(error_code_of(big), "runtime.config.too_large");
  TempDir tmp;
  write_file_atomic(tmp.path() / "Enarx.toml", big);
  try {
    read_config_file(tmp.path() / "Enarx.toml");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "runtime.config.too_large");
  }
  write_file_atomic(tmp.path() / "Enarx.toml", std::string_view("args = [\"x\"]"));
  EXPECT_EQ(read_config_file(tmp.path() / "Enarx.toml").args, std::vector<std::string>{"x"});
  EXPECT_THROW(read_config_file(tmp.path() / "missing.toml"), Error);
}

TEST(Config, ExampleFilesParse) {
  for (const char* ex : {"hello", "file-reader", "tls-server", "client"}) {
    std::string path = std::string(ENARX_SOURCE_DIR) + "/examples/" + ex + "/Enarx.toml";
    EXPECT_NO_THROW(parse_config(read_text_file(path), path)) << path;
  }
}

}  // namespace
}  // namespace enarx::runtime
