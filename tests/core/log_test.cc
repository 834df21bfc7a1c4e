#include "core/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace enarx::log {
namespace {

TEST(Log, JsonLineHasFieldsInOrderAndTypes) {
  const std::string line =
      format_line(Format::Json, Level::Info, "2026-01-02T03:04:05.678Z", "request",
                  {{"method", "GET"}, {"status", 200}, {"ok", true}, {"ratio", 0.5},
                   {"bytes", std::uint64_t{18446744073709551615ull}}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "request");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["ok"], true);
  EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.5);
  EXPECT_EQ(j["bytes"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(line.find("{\"ts\""), 0u);
  EXPECT_LT(line.find("\"method\""), line.find("\"status\""));
}

TEST(Log, JsonEscapesAndCannotForgeReservedKeys) {
  const std::string line = format_line(Format::Json, Level::Warn, "t", "a \"quoted\"\nline",
                                       {{"level", "error"}, {"bad", std::string("\xff\xfe")}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["field.level"], "error");
  EXPECT_EQ(j["msg"], "a \"quoted\"\nline");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, SecretsAreRedacted) {
  for (auto fmt : {Format::Json, Format::Human}) {
    const std::string line =
        format_line(fmt, Level::Info, "t", "login",
                    {{"Authorization", "Bearer abc"}, {"client_secret", "s3"},
                     {"password", "p"}, {"user", "alice"}});
    EXPECT_EQ(line.find("abc"), std::string::npos) << line;
    EXPECT_EQ(line.find("s3"), std::string::npos) << line;
    EXPECT_NE(line.find("alice"), std::string::npos);
    EXPECT_NE(line.find("[redacted]"), std::string::npos);
  }
}

TEST(Log, HumanFormat) {
  const std::string line = format_line(Format::Human, Level::Error, "T", "http.access",
                                       {{"method", "GET"}, {"path", "a b"}, {"status", 500}});
  EXPECT_EQ(line, "T ERROR http.access method=GET path=\"a b\" status=500");
}

TEST(Log, LevelsAndCapture) {
  std::vector<std::string> lines;
  configure({Level::Warn, Format::Json, Target::Stderr});
  set_capture_for_testing([&](std::string_view l) { lines.emplace_back(l); });
  info("dropped");
  warn("kept", {{"n", 1}});
  EXPECT_TRUE(enabled(Level::Error));
  EXPECT_FALSE(enabled(Level::Debug));
  set_capture_for_testing({});
  configure({});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["msg"], "kept");
}

TEST(Log, Parsing) {
  EXPECT_EQ(parse_level("DEBUG"), Level::Debug);
  EXPECT_EQ(parse_level("warning"), Level::Warn);
  EXPECT_EQ(parse_format("json"), Format::Json);
  EXPECT_EQ(parse_target("stdout"), Target::Stdout);
  try {
    parse_level("loud");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "log.bad_level");
  }
  EXPECT_THROW(parse_format("xml"), Error);
}

}  // namespace
}  // namespace enarx::log
