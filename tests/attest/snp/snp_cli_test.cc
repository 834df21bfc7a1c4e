// `enarx evidence verify` for SEV-SNP, end to end through the built binary: exit codes and
// the JSON claims. Skips when the binary or the shared test vectors are absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "snp_test_util.h"
#include "support/process.h"

namespace enarx::attest::snp {
namespace {

using CliRun = support::ShellRun;

CliRun run(const std::string& args) {
  return support::run_shell(std::string(ENARX_BINARY_DIR "/apps/enarx/enarx ") + args + " 2>/dev/null");
}

#define REQUIRE_CLI()                                                          \
  SNP_REQUIRE_VECTORS(tv);                                                     \
  if (!std::filesystem::exists(ENARX_BINARY_DIR "/apps/enarx/enarx"))          \
  GTEST_SKIP() << "enarx binary not built"

TEST(SnpCli, ValidReportPrintsClaims) {
  REQUIRE_CLI();
  const std::string d = (tv / "snp/s04_milan_virtee").string();
  CliRun r = run("evidence verify --platform snp --report " + d + "/report.hex --vcek " + d +
              "/vcek.der --at 2026-01-01T00:00:00Z --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["platform"], "snp");
  EXPECT_EQ(j["snp"]["product"], "Milan");
  EXPECT_EQ(j["verified_at"], "2026-01-01T00:00:00Z");
}

TEST(SnpCli, ExitCodes) {
  REQUIRE_CLI();
  const std::string s = (tv / "snp").string();
  // Policy: debug guest.
  CliRun r = run("evidence verify --platform snp --report " + s + "/s01_milan_gosevguest/report.bin --vcek " +
              s + "/s01_milan_gosevguest/vcek.der --json");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(nlohmann::json::parse(r.out)["failures"][0]["code"], "snp.policy.debug_not_allowed");
  // Verification: tampered VCEK.
  r = run("evidence verify --platform snp --report " + s + "/s01_milan_gosevguest/report.bin --vcek " + s +
          "/n01_tampered_vcek/neg_vcek_tampered_hwid.der --json");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"]["code"], "snp.chain.bad_signature");
  // Verification: stale CRL now.
  r = run("evidence verify --platform snp --report " + s + "/s07_milan_steward/report.bin --vcek " + s +
          "/s07_milan_steward/vcek.der --crl " + s + "/crls/amd_milan_ark_crl_2022-05-09.der --json");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"]["code"], "snp.crl.expired");
  // Input: a certificate is not a report.
  r = run("evidence verify --platform snp --report " + s + "/s01_milan_gosevguest/vcek.der --vcek " + s +
          "/s01_milan_gosevguest/vcek.der --json");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"]["code"], "snp.report.size");
}

TEST(SnpCli, StewardCsr) {
  REQUIRE_CLI();
  const std::string c = (tv / "csr").string();
  CliRun r = run("evidence verify --csr " + c + "/steward_milan_snp.csr --policy " + c +
              "/steward_policy.toml --at 2022-11-15T00:00:00Z --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["measurement"],
            "ff717ae719840c93c1fca3b7db96488454c3c21b43531488eecff51cfed3febcd91da8be87a4cbcbc52a3bae770987c3");
}

}  // namespace
}  // namespace enarx::attest::snp
