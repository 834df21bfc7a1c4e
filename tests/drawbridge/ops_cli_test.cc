// `drawbridge audit`: the operator's view of the registry audit log (docs/drawbridge.md
// "Registry audit log"), run as the release binary against an embedded store.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "drawbridge/store.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

const std::string kBinary = std::string(ENARX_BINARY_DIR) + "/apps/drawbridge/drawbridge";

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& args) {
  Run r;
  FILE* p = ::popen((kBinary + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

std::vector<nlohmann::json> lines_as_json(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace

TEST(DrawbridgeAuditCli, PrintsPagesFiltersAndJson) {
  TempDir dir{"drawbridge-audit-cli"};
  const auto data = (dir.path() / "data").string();
  {
    auto store = open_sqlite_store(data);
    // More than one internal page (1000), two users.
    for (int i = 0; i < 1205; ++i)
      store->append_audit(AuditEvent{"2026-01-02T03:04:05Z", "publish", i % 5 ? "alice" : "bob", "app",
                                     std::to_string(i) + ".0.0", "iss", "sub", ""});
  }
  auto all = run("audit --data-dir " + data + " --json");
  ASSERT_EQ(all.status, 0) << all.out;
  auto events = lines_as_json(all.out);
  ASSERT_EQ(events.size(), 1205u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["seq"], i + 1);
  EXPECT_EQ(events[7]["tag"], "7.0.0");
  EXPECT_EQ(events[7]["actor"]["issuer"], "iss");

  auto bob = lines_as_json(run("audit --data-dir " + data + " --json --user bob").out);
  ASSERT_EQ(bob.size(), 241u);
  for (const auto& e : bob) EXPECT_EQ(e["user"], "bob");

  auto page = lines_as_json(run("audit --data-dir " + data + " --json --user alice --after 10 --limit 3").out);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0]["seq"], 12);  // 11 is bob's
  EXPECT_EQ(page[2]["seq"], 14);

  auto text = run("audit --data-dir " + data + " --after 1204");
  ASSERT_EQ(text.status, 0);
  EXPECT_EQ(text.out, "1205  2026-01-02T03:04:05Z  publish  alice/app:1204.0.0  by iss sub\n");

  auto bad = run("audit --data-dir " + data + " --user 'b@d'");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("drawbridge.name.user"), std::string::npos) << bad.out;
}
