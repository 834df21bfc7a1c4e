// `enarx repo share|unshare|grants` and `enarx group …` (apps/enarx/cmd_share.cc): the enarx
// binary against an in-process drawbridge over HTTPS; what it changes is checked through the
// registry itself, exit codes as documented in docs/drawbridge.md "Sharing".
#include <gtest/gtest.h>

#include <fstream>

#include "support/https_registry.h"
#include "support/process.h"
#include "client/registry_client.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/auth.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

class ShareCli : public ::testing::Test {
 protected:
  void SetUp() override {
    registry = std::make_unique<support::HttpsRegistry>(open_sqlite_store((tmp.path() / "data").string()), issuer);
    host = registry->host();
    ca_file = (tmp.path() / "ca.pem").string();
    std::ofstream(ca_file) << registry->ca_pem();
    alice = token("alice");
    bob = token("bob");
    client("alice")->put_user("alice", "alice");
    client("bob")->put_user("bob", "bob");
    client("alice")->put_repo("alice", "secret", false);
  }
  std::string token(const std::string& sub) {
    return issuer.mint(sub, all_manage_scopes(), std::chrono::hours(1), std::chrono::system_clock::now());
  }
  std::unique_ptr<client::RegistryClient> client(const std::string& sub) {
    return std::make_unique<client::RegistryClient>(registry->api_url(), registry->client_options(), token(sub));
  }
  // Runs `enarx <args>` with the test CA and `tok`; stdout and stderr together.
  // With `raw`, `args` is the whole command line (e.g. `env VAR=… enarx …`) and an empty `tok`
  // gives no --token.
  support::ShellRun enarx(const std::string& args, const std::string& tok, bool raw = false) {
    const std::string bin = std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx";
    std::string cmd = raw ? args : bin + " " + args;
    if (args.find("--help") == std::string::npos) cmd += " --ca-bundle " + ca_file + (tok.empty() ? "" : " --token " + tok);
    return support::run_shell(cmd + " 2>&1");
  }
  // Can `sub` read alice/secret's tag list?
  bool reads(const std::string& sub) {
    try {
      client(sub)->list_tags("alice", "secret");
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "registry.not_found");
      return false;
    }
  }

  TempDir tmp{"share-cli"};
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  std::unique_ptr<support::HttpsRegistry> registry;
  std::string host, ca_file, alice, bob;
};

TEST_F(ShareCli, SharesWithUsersAndGroupsAndRevokes) {
  const std::string repo = host + "/alice/secret", team = host + "/alice/team";
  EXPECT_FALSE(reads("bob"));

  auto r = enarx("repo share " + repo + " --user bob --access read", alice);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("shared alice/secret with user bob: read"), std::string::npos) << r.out;
  EXPECT_TRUE(reads("bob"));
  r = enarx("repo grants " + repo, alice);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"bob\": \"read\""), std::string::npos) << r.out;
  r = enarx("repo unshare " + repo + " --user bob", alice);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(reads("bob"));

  // Groups.
  EXPECT_EQ(enarx("group create " + team, alice).exit_code, 0);
  r = enarx("group add " + team + " bob", alice);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = enarx("group list " + team, alice);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "bob\n");
  r = enarx("group list " + host + "/alice", alice);
  EXPECT_EQ(r.out, "team\n");
  EXPECT_EQ(enarx("repo share " + repo + " --group team --access write", alice).exit_code, 0);
  EXPECT_TRUE(reads("bob"));
  EXPECT_EQ(enarx("group remove " + team + " bob", alice).exit_code, 0);
  EXPECT_FALSE(reads("bob"));
  EXPECT_EQ(enarx("group add " + team + " bob", alice).exit_code, 0);
  EXPECT_TRUE(reads("bob"));
  EXPECT_EQ(enarx("group delete " + team, alice).exit_code, 0);
  EXPECT_FALSE(reads("bob"));
}

TEST_F(ShareCli, ExitCodes) {
  const std::string repo = host + "/alice/secret";
  // 2: usage.
  EXPECT_EQ(enarx("repo share " + repo + " --user bob --group team --access read", alice).exit_code, 2);
  EXPECT_EQ(enarx("repo share " + repo + " --access read", alice).exit_code, 2);
  EXPECT_EQ(enarx("repo share " + repo + " --user bob --access admin", alice).exit_code, 2);
  // 3: a malformed name.
  EXPECT_EQ(enarx("group create " + host + "/alice/bad_name", alice).exit_code, 3);
  EXPECT_EQ(enarx("repo share " + repo + " --user ../x --access read", alice).exit_code, 3);
  // 6: not the owner.
  auto r = enarx("repo share " + repo + " --user bob --access read", bob);
  EXPECT_EQ(r.exit_code, 6) << r.out;
  EXPECT_NE(r.out.find("drawbridge.auth.not_owner"), std::string::npos) << r.out;
  // 7: nothing to revoke, no such user or group.
  EXPECT_EQ(enarx("repo unshare " + repo + " --user bob", alice).exit_code, 7);
  EXPECT_EQ(enarx("repo share " + repo + " --user ghost --access read", alice).exit_code, 7);
  EXPECT_EQ(enarx("group add " + host + "/alice/nope bob", alice).exit_code, 7);
  EXPECT_EQ(enarx("repo grants " + host + "/alice/nothere", alice).exit_code, 7);
  // --help on each command.
  for (const char* cmd : {"repo share", "repo unshare", "repo grants", "group create", "group delete", "group add",
                          "group remove", "group list"}) {
    r = enarx(std::string(cmd) + " --help", "");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace

namespace {

// Finding (e2e): the subcommands of a group share one set of registry flags, and CLI11 filled a
// sibling's unused --token from ENARX_TOKEN into that shared storage, over the --token given to
// the subcommand that ran: bob's `package info --token B` went out as alice's token and read
// her private repository. A flag given on the command line wins over its variable.
TEST_F(ShareCli, AFlagWinsOverItsEnvironmentVariable) {
  const std::string repo = host + "/alice/secret";
  for (const char* cmd : {"repo info ", "repo grants ", "repo share "}) {
    std::string args = cmd + repo + (std::string(cmd) == "repo share " ? " --user bob --access read" : "");
    // Bob's flag with alice's token in the environment: bob's token is sent, and refused.
    auto r = enarx("env ENARX_TOKEN=" + alice + " " + std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx " + args,
                   bob, true);
    EXPECT_NE(r.exit_code, 0) << cmd << r.out;
  }
  // The variable alone still works.
  EXPECT_EQ(enarx("env ENARX_TOKEN=" + alice + " " + std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx repo grants " +
                      repo,
                  "", true)
                .exit_code,
            0);
}

}  // namespace
