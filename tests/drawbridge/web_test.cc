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
