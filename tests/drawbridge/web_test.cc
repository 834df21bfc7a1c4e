// The web UI's HTML rendering (src/drawbridge/web.h): whatever a name, path, media type or
// subject holds reaches the page escaped, and the pieces the browser test reads are there.
// The pages in a browser: tests/web/browser_test.py (label web).
#include "drawbridge/web.h"

#include <gtest/gtest.h>

#include "drawbridge/model.h"

namespace enarx::drawbridge::web {
namespace {

TEST(WebRender, EscapesTheFiveHtmlSpecials) {
  EXPECT_EQ(escape(R"(<a href="x" onclick='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(escape("plain-1.0.0"), "plain-1.0.0");
  EXPECT_EQ(escape(""), "");
}

TagPage hostile_page() {
  TagPage p;
  // Names are grammar-restricted by the API, but the renderer must not rely on it: a tree's media
  // types, and anything a later grammar allows, are the publisher's text.
  p.user = "<script>alert('u')</script>";
  p.repo = "r\"><img src=x onerror=alert(1)>";
  p.tag = "1.0.0'><svg onload=alert(2)>";
  p.path = "dir/<b>";
  p.is_signed = true;
  p.signature_valid = true;
  p.algorithm = "ES256<i>";
  p.signer_fingerprint = "ab<cd";
  p.root_digest = "sha-256:<x>";
  p.deploy_line = deploy_line("h<o>st", p.user, p.repo, p.tag, p.root_digest, p.signer_fingerprint);
  p.rows.push_back({.name = "f<script>.txt", .href = {}, .type = "text/html\"><script>alert(3)</script>",
                    .length = 5, .digest = "sha-256:<y>", .directory = false});
  p.rows.push_back({.name = "d\"ir", .href = "/ui/x/y/z/tree/d\"ir<", .type = std::string(kDirectoryType),
                    .length = 2, .digest = "sha-256:00", .directory = true});
  return p;
}

TEST(WebRender, TagPageEscapesEveryField) {
  const auto html = render_tag_main(hostile_page());
  for (const char* raw : {"<script", "<img", "<svg", "<b>", "<i>", "<x>", "<y>", "onerror=alert(1)>", "h<o>st",
                          "ab<cd"})
    EXPECT_EQ(html.find(raw), std::string::npos) << raw << " reached the page unescaped:\n" << html;
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;u&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("f&lt;script&gt;.txt"), std::string::npos);
  EXPECT_NE(html.find("r&quot;&gt;&lt;img"), std::string::npos);  // the quote cannot end an attribute
  EXPECT_NE(html.find("1.0.0&#39;&gt;&lt;svg"), std::string::npos);
  EXPECT_NE(html.find("href=\"/ui/x/y/z/tree/d&quot;ir&lt;\""), std::string::npos);
}

TEST(WebRender, WholePageEscapesTitleCrumbsAndSubject) {
  Layout l{.title = "</title><script>1</script>",
           .crumbs = {{"<u>", "/ui/\"><script>"}, {"<r>", "javascript:'x'"}},
           .subject = "<img src=x>"};
  const auto html = render_page(l, "<p>main</p>");
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_EQ(html.find("<img"), std::string::npos) << html;
  EXPECT_EQ(html.find("<u>"), std::string::npos) << html;
  EXPECT_NE(html.find("<p>main</p>"), std::string::npos);  // the already-rendered main part as is
  EXPECT_NE(html.find("Logged in as <strong>&lt;img src=x&gt;</strong>"), std::string::npos);
  EXPECT_NE(html.find("aria-current=\"page\""), std::string::npos);
  EXPECT_NE(html.find("<meta name=\"viewport\""), std::string::npos);
  EXPECT_NE(html.find("<main id=\"main\""), std::string::npos);
  // Assets from this origin only.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(WebRender, LoggedOutPageOffersLoginOnly) {
  const auto html = render_page({.title = "t", .crumbs = {}, .subject = ""}, "");
  EXPECT_NE(html.find("href=\"/ui/_login\""), std::string::npos);
  EXPECT_EQ(html.find("/ui/_logout"), std::string::npos);
}

TEST(WebRender, SignatureStates) {
  TagPage p = hostile_page();
  p.is_signed = false;
  EXPECT_NE(render_tag_main(p).find("data-signed=\"no\""), std::string::npos);
  p.is_signed = true;
  p.signature_valid = false;
  p.signature_error = "jws.bad_signature<";
  auto html = render_tag_main(p);
  EXPECT_NE(html.find("data-signed=\"invalid\""), std::string::npos);
  EXPECT_NE(html.find("jws.bad_signature&lt;"), std::string::npos);
  EXPECT_EQ(html.find("id=\"fingerprint\""), std::string::npos);  // no fingerprint for a bad signature
}

TEST(WebRender, DeployLine) {
  EXPECT_EQ(deploy_line("reg.example:8443", "alice", "app", "1.0.0", "sha-256:ab", "cd"),
            "enarx deploy reg.example:8443/alice/app:1.0.0@sha-256:ab --signer cd");
  EXPECT_EQ(deploy_line("", "alice", "app", "1.0.0", "", ""), "enarx deploy alice/app:1.0.0");
}

TEST(WebRender, YankedTagsCarryABadge) {
  const auto html = render_tag_list("alice", "app", {{"1.0.0", true}, {"1.1.0", false}});
  const auto yanked = html.find("yanked");
  ASSERT_NE(yanked, std::string::npos);
  EXPECT_LT(html.find(">1.0.0<"), yanked);
  EXPECT_GT(html.find(">1.1.0<"), yanked);  // one badge, after 1.0.0 only
  EXPECT_EQ(html.find("yanked", yanked + 1), std::string::npos);
  EXPECT_NE(render_tag_list("a", "b", {}).find("No tags yet"), std::string::npos);
}

}  // namespace
}  // namespace enarx::drawbridge::web

// ---- the pages over HTTP, in process: the API's rules, allow-list and rate limit apply ----
#include <chrono>

#include "core/file.h"
#include "net/http_client.h"

namespace enarx::drawbridge::web {
namespace {

using namespace std::chrono_literals;

class WebServer : public ::testing::Test {
 protected:
  void start(RegistryOptions ro) {
    store = open_sqlite_store((tmp.path() / "data").string());
    tokens = std::make_shared<TokenVerifier>(system_clock());
    tokens->add_issuer(issuer.issuer_config());
    for (const auto& [user, repo, pub] : {std::tuple{"alice", "app", true}, std::tuple{"alice", "secret", false},
                                          std::tuple{"bob", "tools", true}}) {
      store->create_user(user, "{}", as_bytes(std::string("{\"subject\":\"") + user + "\"}"), "test-issuer", user);
      store->create_repo(user, repo, "{}", as_bytes(repo_to_json({pub})), pub);
    }
    registry = std::make_unique<Registry>(store, tokens, ro);
    net::ServerConfig sc;
    sc.port = 0;
    sc.allow_plaintext = true;
    sc.access_log = false;
    http = std::make_unique<net::HttpServer>(sc);
    registry->install(*http);
    install_web_ui(*http, *registry, store, tokens);
    http->start();
  }
  void TearDown() override {
    if (http) http->stop();
  }
  net::ClientResponse get(const std::string& path, const std::string& token = {}) {
    net::ClientOptions o;
    o.max_retries = 0;
    net::HttpClient client(o);
    net::Headers h;
    if (!token.empty()) h.set("Cookie", "drawbridge_ui=" + token);
    return client.get("http://127.0.0.1:" + std::to_string(http->port()) + path, h);
  }
  std::string mint(const std::string& subject) {
    return issuer.mint(subject, all_manage_scopes(), 1h, std::chrono::system_clock::now());
  }
  static RegistryOptions unlimited() {
    RegistryOptions o;
    o.lookup_rate = 0;
    return o;
  }

  TempDir tmp{"drawbridge-web"};
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  std::shared_ptr<Store> store;
  std::shared_ptr<TokenVerifier> tokens;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<net::HttpServer> http;
};

bool lists(const std::string& html, const std::string& name) { return html.find(">" + name + "</a>") != std::string::npos; }

TEST_F(WebServer, PrivateRepositoriesOnlyForTheirOwner) {
  start(unlimited());
  auto index = get("/ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_TRUE(lists(index.body, "alice") && lists(index.body, "bob"));
  EXPECT_NE(index.headers.get("Content-Security-Policy").value_or("").find("default-src 'self'"), std::string::npos);

  auto out = get("/ui/alice");
  EXPECT_TRUE(lists(out.body, "app"));
  EXPECT_FALSE(lists(out.body, "secret"));
  auto as_bob = get("/ui/alice", mint("bob"));
  EXPECT_FALSE(lists(as_bob.body, "secret"));
  auto as_alice = get("/ui/alice", mint("alice"));
  EXPECT_TRUE(lists(as_alice.body, "secret"));
  EXPECT_NE(as_alice.body.find("private</span>"), std::string::npos);

  // The private repository and a missing one: one answer, byte for byte, logged out and as bob.
  for (const std::string& token : {std::string(), mint("bob")}) {
    auto priv = get("/ui/alice/secret", token), missing = get("/ui/alice/missing", token),
         nobody = get("/ui/nobody/secret", token), bad = get("/ui/alice/bad_name", token);
    EXPECT_EQ(priv.status, 404);
    for (const auto* other : {&missing, &nobody, &bad}) {
      EXPECT_EQ(other->status, priv.status);
      EXPECT_EQ(other->body, priv.body);
    }
  }
  EXPECT_EQ(get("/ui/alice/secret", mint("alice")).status, 200);
  // A cookie that does not verify is logged out, and removed.
  auto forged = get("/ui/alice", "eyJ.forged.token");
  EXPECT_FALSE(lists(forged.body, "secret"));
  EXPECT_NE(forged.headers.get("Set-Cookie").value_or("").find("Max-Age=0"), std::string::npos);
}

TEST_F(WebServer, PagesSpendTheApiLookupBudget) {
  RegistryOptions ro;
  ro.lookup_rate = 0.001;  // no refill during the test
  ro.lookup_burst = 2;
  start(ro);
  EXPECT_EQ(get("/ui/").status, 200);       // the index: admit_lookup
  EXPECT_EQ(get("/ui/alice").status, 200);  // the user page: the API's _repos
  auto refused = get("/ui/alice/app");
  EXPECT_EQ(refused.status, 429);
  EXPECT_TRUE(refused.headers.get("Retry-After").has_value());
  EXPECT_EQ(get("/ui/").status, 429);
}

TEST_F(WebServer, AllowListAppliesToPages) {
  RegistryOptions ro = unlimited();
  ro.allowed_networks = {"10.0.0.0/8"};
  start(ro);
  EXPECT_EQ(get("/ui/").status, 403);
  EXPECT_EQ(get("/ui/alice").status, 403);
  EXPECT_EQ(get("/ui/_static/style.css").status, 200);  // the stylesheet is no lookup
}

}  // namespace
}  // namespace enarx::drawbridge::web
