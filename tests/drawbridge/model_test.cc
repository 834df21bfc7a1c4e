#include <gtest/gtest.h>

#include "core/error.h"
#include "drawbridge/model.h"
#include "identity/names.h"
#include "identity/slug.h"
#include "support/error_code.h"

using namespace enarx;
using namespace enarx::drawbridge;
using namespace enarx::identity;  // names and slugs live in src/identity

namespace {

using support::error_code;

TEST(DrawbridgeNames, UserRepoEntryGrammar) {
  EXPECT_NO_THROW(validate_user_name("alice42"));
  EXPECT_EQ(error_code([] { validate_user_name("al-ice"); }), "drawbridge.name.user");
  EXPECT_EQ(error_code([] { validate_user_name(""); }), "drawbridge.name.user");
  EXPECT_EQ(error_code([] { validate_user_name(std::string(65, 'a')); }), "drawbridge.name.user");
  EXPECT_NO_THROW(validate_repo_name("my-repo"));
  EXPECT_EQ(error_code([] { validate_repo_name("my_repo"); }), "drawbridge.name.repository");
  EXPECT_NO_THROW(validate_entry_name("tEst-file..__.foo.42."));
  EXPECT_NO_THROW(validate_entry_name("a:b"));
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "a/b", "a b", std::string("a\x01"), std::string(256, 'x')})
    EXPECT_EQ(error_code([&] { validate_entry_name(bad); }), "drawbridge.name.entry") << bad;
}

TEST(DrawbridgeNames, SemverTags) {
  EXPECT_NO_THROW(validate_tag_name("1.2.3"));
  EXPECT_NO_THROW(validate_tag_name("1.2.3-test"));
  EXPECT_NO_THROW(validate_tag_name("1.0.0-alpha.1+build.5"));
  for (auto bad : {"v1.2.3", "1.2", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1..3", ""})
    EXPECT_EQ(error_code([&] { validate_tag_name(bad); }), "drawbridge.name.tag") << bad;
  std::vector<std::string> tags = {"1.0.0", "1.0.0-rc.1", "0.9.10", "0.9.9", "1.0.0-alpha",
                                   "1.0.0-alpha.beta", "1.0.0-beta.11", "1.0.0-beta.2", "10.0.0"};
  sort_tags(tags);
  EXPECT_EQ(tags, (std::vector<std::string>{"0.9.9", "0.9.10", "1.0.0-alpha", "1.0.0-alpha.beta",
                                            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
                                            "10.0.0"}));
}

TEST(DrawbridgeNames, TreePaths) {
  EXPECT_TRUE(parse_tree_path("/").empty());
  EXPECT_TRUE(parse_tree_path("").empty());
  EXPECT_EQ(parse_tree_path("/a/b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(error_code([] { parse_tree_path("a//b"); }), "drawbridge.name.path");
  EXPECT_EQ(error_code([] { parse_tree_path("a/../b"); }), "drawbridge.name.path");
  EXPECT_EQ(join_tree_path({"a", "b"}), "a/b");
}

TEST(DrawbridgeSlug, ParseFormat) {
  auto s = parse_slug("store.example.com:8443/alice/app:1.2.3");
  EXPECT_EQ(s.host, "store.example.com:8443");
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.repo, "app");
  EXPECT_EQ(s.tag, "1.2.3");
  EXPECT_EQ(format_slug(s), "store.example.com:8443/alice/app:1.2.3");
  EXPECT_EQ(slug_url(s), "https://store.example.com:8443/api/v0.1.0/alice/app/_tag/1.2.3");

  auto noh = parse_slug("alice/app");
  EXPECT_EQ(noh.host, "");
  EXPECT_FALSE(noh.tag);
  EXPECT_EQ(slug_url(noh), "https://store.profian.com/api/v0.1.0/alice/app");

  auto pinned = parse_slug("h/alice/app:1.0.0@sha-256:" + std::string(64, 'A'));
  EXPECT_EQ(pinned.digest_alg, "sha-256");
  EXPECT_EQ(pinned.digest_hex, std::string(64, 'a'));
  EXPECT_EQ(parse_slug(format_slug(pinned)), pinned);

  for (auto bad : {"alice", "alice/app:v1", "/alice/app", "alice/a_b", "a/b@sha-256:00", "h/a/b@md5:00"})
    EXPECT_EQ(error_code([&] { parse_slug(bad); }), "drawbridge.slug.invalid") << bad;
  EXPECT_EQ(error_code([] { parse_slug("alice/app", true); }), "drawbridge.slug.invalid");
}

TEST(DrawbridgeSlug, UriAndGrants) {
  EXPECT_FALSE(parse_slug_uri("https://example.com/alice/app"));
  auto s = parse_slug_uri("slug://store.example.com/alice/app:1.0.0");
  ASSERT_TRUE(s);
  EXPECT_EQ(format_slug_uri(*s), "slug://store.example.com/alice/app:1.0.0");
  EXPECT_TRUE(slug_grants(*s, "alice", "app", std::string("1.0.0"), "STORE.example.com"));
  EXPECT_FALSE(slug_grants(*s, "alice", "app", std::string("1.0.1"), ""));
  EXPECT_FALSE(slug_grants(*s, "alice", "app", std::nullopt, ""));
  EXPECT_FALSE(slug_grants(*s, "alice", "other", std::string("1.0.0"), ""));
  EXPECT_FALSE(slug_grants(*s, "alice", "app", std::string("1.0.0"), "evil.example.com"));
  auto any = parse_slug_uri("slug://alice/app");
  ASSERT_TRUE(any);
  EXPECT_TRUE(slug_grants(*any, "alice", "app", std::nullopt, "whatever"));
  EXPECT_EQ(error_code([] { parse_slug_uri("slug://nonsense"); }), "drawbridge.slug.invalid");
}

TEST(DrawbridgeModel, DigestHeaderExampleFoo) {
  auto d = ContentDigest::compute(as_bytes("foo"), {DigestAlgorithm::Sha256});
  EXPECT_EQ(d.to_header(), "sha-256=:LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=:");
}

TEST(DrawbridgeModel, CanonicalEntryJson) {
  Entry e{Meta::of(as_bytes("foo"), "text/plain"), {}};
  e.custom["from"] = "myassets:0.1.2";
  auto json = entry_to_json(e);
  EXPECT_EQ(json.rfind("{\"digest\":{\"sha-224\":", 0), 0u) << json;
  EXPECT_NE(json.find("\"sha-256\":\"LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=\""), std::string::npos);
  EXPECT_NE(json.find("},\"length\":3,\"type\":\"text/plain\",\"from\":\"myassets:0.1.2\"}"), std::string::npos) << json;
  auto back = parse_entry(json);
  EXPECT_EQ(back, e);
  EXPECT_EQ(entry_to_json(back), json);
  // Whitespace and key order on input do not matter; output is canonical.
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(entry_to_json(parse_entry(j.dump(2))), json);
}

TEST(DrawbridgeModel, RejectsBadJson) {
  EXPECT_EQ(error_code([] { parse_entry("{\"digest\":{},\"length\":1,\"type\":\"a/b\"}"); }), "drawbridge.json.invalid");
  EXPECT_EQ(error_code([] { parse_entry("{\"digest\":{\"sha-256\":\"AAAA\"},\"length\":1,\"type\":\"a/b\"}"); }), "drawbridge.json.invalid");
  EXPECT_EQ(error_code([] { parse_entry("{\"digest\":{\"md5\":\"AAAA\"},\"length\":1,\"type\":\"a/b\"}"); }), "drawbridge.json.invalid");
  EXPECT_EQ(error_code([] { parse_entry(std::string(1000, '[')); }), "drawbridge.json.invalid");
  EXPECT_EQ(error_code([] { parse_user("{\"subject\":\"x\",\"extra\":1}"); }), "drawbridge.json.invalid");
  EXPECT_EQ(error_code([] { parse_repo("{\"public\":\"yes\"}"); }), "drawbridge.json.invalid");
  EXPECT_EQ(parse_repo("{\"public\":true}").is_public, true);
  EXPECT_EQ(repo_to_json({true}), "{\"public\":true}");
  EXPECT_EQ(user_to_json({"sub|1"}), "{\"subject\":\"sub|1\"}");
  auto e = entry_to_json(Entry{Meta::of(as_bytes("x"), "a/b"), {}});
  EXPECT_EQ(error_code([&] { parse_directory("{\"..\":" + e + "}"); }), "drawbridge.name.entry");
  EXPECT_EQ(error_code([&] { parse_directory("{\"a/b\":" + e + "}"); }), "drawbridge.name.entry");
  EXPECT_EQ(error_code([&] { parse_directory("{\"a\\u0001\":" + e + "}"); }), "drawbridge.name.entry");
}

TEST(DrawbridgeModel, TreeFromFiles) {
  auto tree = build_tree_from_files({{"main.wasm", {to_bytes("\0asm"), "application/wasm"}},
                                     {"Enarx.toml", {to_bytes("x=1"), "application/toml"}},
                                     {"assets/a.txt", {to_bytes("a"), "text/plain"}}});
  ASSERT_EQ(tree.nodes.size(), 5u);
  EXPECT_EQ(tree.nodes[0].path, "");
  EXPECT_EQ(tree.nodes[0].meta.type, kDirectoryType);
  std::vector<std::string> paths;
  for (auto& n : tree.nodes) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "Enarx.toml", "assets", "assets/a.txt", "main.wasm"}));
  auto root = parse_directory(as_string(tree.nodes[0].content));
  EXPECT_EQ(root.size(), 3u);
  EXPECT_EQ(root["assets"].meta, tree.nodes[2].meta);
  EXPECT_EQ(directory_to_json(root), as_string(tree.nodes[0].content));
  EXPECT_EQ(tree.root().meta, Meta::of(tree.nodes[0].content, std::string(kDirectoryType)));
}

TEST(DrawbridgeModel, JwsShapes) {
  auto payload = to_base64url(as_bytes(entry_to_json(Entry{Meta::of(as_bytes("x"), "a/b"), {}})));
  auto prot = to_base64url(as_bytes("{\"alg\":\"ES256\"}"));
  std::string general = "{\"payload\":\"" + payload + "\",\"signatures\":[{\"protected\":\"" + prot +
                        "\",\"signature\":\"AAAA\"}]}";
  std::string flattened = "{\"payload\":\"" + payload + "\",\"protected\":\"" + prot + "\",\"signature\":\"AAAA\"}";
  EXPECT_EQ(parse_jws(general).signatures, 1u);
  EXPECT_EQ(parse_jws(flattened).signatures, 1u);
  EXPECT_EQ(tag_root_entry(kJwsType, general).meta.length, 1u);
  EXPECT_EQ(error_code([] { parse_jws("{\"payload\":\"e30\"}"); }), "drawbridge.jws.invalid");
  EXPECT_EQ(error_code([] { tag_root_entry(kJwsType, "{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"AA\"}"); }),
            "drawbridge.tag.invalid");
  EXPECT_EQ(error_code([] { tag_root_entry("text/plain", "{}"); }), "drawbridge.tag.invalid");
}

}  // namespace

TEST(DrawbridgeModel, StewardUrls) {
  for (const auto* good : {"https://steward.example", "https://steward.example:8443", "https://10.0.0.1/api",
                           "https://[::1]:8443/steward/v1"})
    EXPECT_NO_THROW(validate_steward_url(good)) << good;
  for (const auto* bad : {"", "http://steward.example", "steward.example", "https://", "https://:443",
                          "https://user@steward.example", "https://s.example/?q=1", "https://s.example/#f",
                          "https://s.example/a b", "https://s.example/\x7f", "HTTPS://s.example"})
    EXPECT_EQ(error_code([&] { validate_steward_url(bad); }), "drawbridge.steward.invalid") << bad;
  EXPECT_EQ(error_code([] { validate_steward_url("https://" + std::string(kMaxStewardUrl, 'a')); }),
            "drawbridge.steward.invalid");

  // In a repository config: canonical (sorted keys), optional, null = none.
  RepoConfig c;
  c.is_public = false;
  c.steward = "https://steward.example";
  EXPECT_EQ(repo_to_json(c), R"({"public":false,"steward":"https://steward.example"})");
  EXPECT_EQ(parse_repo(repo_to_json(c)).steward, c.steward);
  EXPECT_FALSE(parse_repo(R"({"public":true,"steward":null})").steward.has_value());
  EXPECT_EQ(error_code([] { parse_repo(R"({"public":true,"steward":"http://x.example"})"); }),
            "drawbridge.steward.invalid");
  EXPECT_EQ(error_code([] { parse_repo(R"({"public":true,"steward":7})"); }), "drawbridge.json.invalid");

  // The owner's setting: one member, a URL or null; nesting is refused before it is parsed.
  EXPECT_EQ(parse_steward_setting(R"({"steward":"https://s.example"})"), "https://s.example");
  EXPECT_FALSE(parse_steward_setting(R"({"steward":null})").has_value());
  for (const std::string& bad : std::vector<std::string>{R"({"steward":1})", R"({"url":"https://a.example"})", "[]", "not json",
                                R"({"steward":"https://a.example","x":1})",
                                R"({"steward":)" + std::string(100, '[') + std::string(100, ']') + "}"})
    EXPECT_EQ(error_code([&] { parse_steward_setting(bad); }), "drawbridge.json.invalid") << bad;
  EXPECT_EQ(error_code([] { parse_steward_setting(R"({"steward":"http://s.example"})"); }),
            "drawbridge.steward.invalid");

  // In a tag's root entry: the custom member "steward".
  Entry root{Meta::of(as_bytes("x"), "a/b"), {}};
  EXPECT_FALSE(tag_steward(root).has_value());
  root.custom["steward"] = "https://tag.example";
  EXPECT_EQ(tag_steward(root), "https://tag.example");
  EXPECT_EQ(tag_steward(parse_entry(entry_to_json(root))), "https://tag.example");
  root.custom["steward"] = 5;
  EXPECT_EQ(error_code([&] { tag_steward(root); }), "drawbridge.steward.invalid");
  root.custom["steward"] = "ftp://tag.example";
  EXPECT_EQ(error_code([&] { tag_steward(root); }), "drawbridge.steward.invalid");
}
