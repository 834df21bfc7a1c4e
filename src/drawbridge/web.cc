#include "drawbridge/web.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "core/human_size.h"
#include "core/content_digest.h"
#include "core/error.h"
#include "core/log.h"
#include "drawbridge/model.h"
#include "identity/names.h"
#include "jose/jws.h"

namespace enarx::drawbridge {

// Generated at configure time from src/drawbridge/web/ (src/drawbridge/CMakeLists.txt).
namespace web_assets {
extern const std::string_view kStyleCss;
extern const std::string_view kScriptJs;
extern const std::string_view kIconSvg;
}  // namespace web_assets

namespace web {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// A URL path segment: names are grammar-restricted, but encoding them anyway keeps every href
// right whatever a grammar allows later.
std::string seg(std::string_view s) { return net::percent_encode(s); }

std::string ui_href(std::string_view user, std::string_view repo = {}, std::string_view tag = {}) {
  std::string h = "/ui/" + seg(user);
  if (!repo.empty()) h += "/" + seg(repo);
  if (!tag.empty()) h += "/" + seg(tag);
  return h;
}


}  // namespace

std::string render_page(const Layout& layout, std::string_view main_html) {
  std::string h;
  h += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>" + escape(layout.title) + " · Drawbridge</title>"
       "<link rel=\"icon\" href=\"/ui/_static/icon.svg\" type=\"image/svg+xml\">"
       "<link rel=\"stylesheet\" href=\"/ui/_static/style.css\">"
       "<script src=\"/ui/_static/ui.js\" defer></script></head>\n<body>"
       "<a class=\"skip\" href=\"#main\">Skip to content</a>"
       "<header class=\"site\"><a class=\"brand\" href=\"/ui/\">Drawbridge</a>"
       "<nav aria-label=\"Account\">";
  if (layout.subject.empty()) {
    h += "<a href=\"/ui/_login\">Log in</a>";
  } else {
    h += "<span class=\"who\">Logged in as <strong>" + escape(layout.subject) + "</strong></span>"
         "<form method=\"post\" action=\"/ui/_logout\" class=\"inline\"><button type=\"submit\">Log out</button></form>";
  }
  h += "</nav></header>\n";
  if (!layout.crumbs.empty()) {
    h += "<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><ol>";
    for (std::size_t i = 0; i < layout.crumbs.size(); ++i) {
      const auto& [label, href] = layout.crumbs[i];
      if (i + 1 == layout.crumbs.size())
        h += "<li><a href=\"" + escape(href) + "\" aria-current=\"page\">" + escape(label) + "</a></li>";
      else
        h += "<li><a href=\"" + escape(href) + "\">" + escape(label) + "</a></li>";
    }
    h += "</ol></nav>\n";
  }
  h += "<main id=\"main\" tabindex=\"-1\">";
  h += main_html;
  h += "</main>\n<footer class=\"site\"><p>Served by drawbridge. Nothing on this page is loaded from elsewhere.</p>"
       "</footer></body></html>\n";
  return h;
}

std::string deploy_line(std::string_view host, std::string_view user, std::string_view repo, std::string_view tag,
                        std::string_view root_digest, std::string_view signer_fingerprint) {
  std::string line = "enarx deploy ";
  if (!host.empty()) line += std::string(host) + "/";
  line += std::string(user) + "/" + std::string(repo) + ":" + std::string(tag);
  if (!root_digest.empty()) line += "@" + std::string(root_digest);
  if (!signer_fingerprint.empty()) line += " --signer " + std::string(signer_fingerprint);
  return line;
}

std::string render_tag_list(std::string_view user, std::string_view repo, const std::vector<TagView>& tags) {
  std::string h = "<h1>" + escape(user) + "/" + escape(repo) + "</h1>";
  if (tags.empty()) return h + "<p>No tags yet.</p>";
  h += "<h2>Tags</h2><ul class=\"list\" id=\"tags\">";
  for (const auto& t : tags) {
    h += "<li><a href=\"" + escape(ui_href(user, repo, t.name)) + "\">" + escape(t.name) + "</a>";
    if (t.yanked) h += " <span class=\"badge warn\">yanked</span>";
    h += "</li>";
  }
  return h + "</ul>";
}

std::string render_tag_main(const TagPage& p) {
  std::string h = "<h1>" + escape(p.user) + "/" + escape(p.repo) + ":" + escape(p.tag) + "</h1>";
  h += "<section aria-labelledby=\"sig-h\"><h2 id=\"sig-h\">Signature</h2>";
  if (!p.is_signed) {
    h += "<p><span class=\"badge\" id=\"signed\" data-signed=\"no\">unsigned</span> This tag is a plain entry: "
         "nothing but the registry vouches for it.</p>";
  } else if (p.signature_valid) {
    h += "<p><span class=\"badge ok\" id=\"signed\" data-signed=\"yes\">signed</span> " + escape(p.algorithm) +
         " signature that verifies under the key in its header. Signer key fingerprint (SHA-256 of its "
         "SubjectPublicKeyInfo, the form <code>enarx deploy --signer</code> takes):</p>"
         "<p><code class=\"digest\" id=\"fingerprint\">" + escape(p.signer_fingerprint) + "</code></p>"
         "<p class=\"note\">Trust comes from comparing this fingerprint with the publisher's, not from this page.</p>";
  } else {
    h += "<p><span class=\"badge warn\" id=\"signed\" data-signed=\"invalid\">signature does not verify</span> " +
         escape(p.signature_error) + "</p>";
  }
  h += "</section>";
  h += "<section aria-labelledby=\"deploy-h\"><h2 id=\"deploy-h\">Deploy</h2>"
       "<div class=\"copyable\"><pre><code id=\"deploy-line\">" + escape(p.deploy_line) + "</code></pre>"
       "<button type=\"button\" class=\"copy\" data-copy=\"deploy-line\" hidden>Copy</button>"
       "<span class=\"copy-status\" role=\"status\" aria-live=\"polite\"></span></div>"
       "<p class=\"note\">Root entry digest: <code class=\"digest\" id=\"root-digest\">" + escape(p.root_digest) +
       "</code></p></section>";
  h += "<section aria-labelledby=\"tree-h\"><h2 id=\"tree-h\">Files in /" + escape(p.path) + "</h2>";
  if (!p.path.empty()) {
    auto up = p.path.rfind('/');
    std::string parent = up == std::string::npos ? "" : p.path.substr(0, up);
    std::string href = ui_href(p.user, p.repo, p.tag);
    if (!parent.empty()) href += "/tree/" + net::percent_encode(parent, true);
    h += "<p><a href=\"" + escape(href) + "\" rel=\"up\">Up to /" + escape(parent) + "</a></p>";
  }
  if (p.rows.empty()) return h + "<p>This directory is empty.</p></section>";
  h += "<div class=\"scroll\"><table id=\"tree\"><caption class=\"sr-only\">Entries of /" + escape(p.path) +
       "</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Type</th>"
       "<th scope=\"col\" class=\"num\">Size</th><th scope=\"col\">Digest</th></tr></thead><tbody>";
  for (const auto& r : p.rows) {
    h += "<tr><th scope=\"row\">";
    if (r.directory)
      h += "<a href=\"" + escape(r.href) + "\">" + escape(r.name) + "/</a>";
    else
      h += escape(r.name);
    h += "</th><td>" + escape(r.directory ? std::string("directory") : r.type) + "</td>";
    h += "<td class=\"num\" data-bytes=\"" + std::to_string(r.length) + "\">" + human_size(r.length) +
         " <span class=\"exact\">(" + std::to_string(r.length) + " bytes)</span></td>";
    h += "<td><code class=\"digest\">" + escape(r.digest) + "</code></td></tr>";
  }
  return h + "</tbody></table></div></section>";
}

}  // namespace web

namespace {

using web::escape;

constexpr std::string_view kCookie = "drawbridge_ui";
// A cookie past ~4 KiB is dropped by browsers; a token that long cannot be kept this way.
constexpr std::size_t kMaxToken = 3800;
constexpr std::size_t kMaxLoginBody = 8192;
constexpr auto kMaxSession = std::chrono::hours(12);
// Directory nodes the UI reads are JSON, at most the registry's max_json_size; this bounds what
// a page reads from a node response whatever that limit is set to.
constexpr std::size_t kMaxDirectoryBytes = 8u << 20;

// Every UI answer: HTML that loads nothing from anywhere but this origin, cannot be framed,
// sends no Referer elsewhere (tag and user names stay here; "same-origin" rather than
// "no-referrer" because the latter makes browsers send `Origin: null` on our own form posts,
// which the login's origin check needs) and is not cached (pages may show private repositories).
void secure_headers(net::Response& r) {
  r.headers.set("Content-Security-Policy",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
  r.headers.set("X-Content-Type-Options", "nosniff");
  r.headers.set("Referrer-Policy", "same-origin");
  r.headers.set("X-Frame-Options", "DENY");
  r.headers.set("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.set("Cross-Origin-Resource-Policy", "same-origin");
}

net::Response html(int status, std::string body) {
  auto r = net::Response::bytes(status, std::move(body), "text/html; charset=utf-8");
  secure_headers(r);
  r.headers.set("Cache-Control", "no-store");
  return r;
}

bool token_chars_ok(std::string_view t) {
  return !t.empty() && t.size() <= kMaxToken && std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<std::string> cookie_value(const net::Request& req, std::string_view name) {
  for (const auto& header : req.headers.get_all("Cookie")) {
    std::string_view rest(header);
    while (!rest.empty()) {
      auto end = rest.find(';');
      auto part = rest.substr(0, end);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
        return std::string(part.substr(name.size() + 1));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }
  return std::nullopt;
}

std::string set_cookie(std::string_view value, long max_age) {
  return std::string(kCookie) + "=" + std::string(value) + "; Path=/ui; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; Secure; SameSite=Strict";
}

// A host[:port] fit to be printed in a deploy line (the Host header is the client's word).
bool host_ok(std::string_view h) {
  return !h.empty() && h.size() <= 255 && std::all_of(h.begin(), h.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

std::string first_digest(const ContentDigest& d) {
  if (auto v = d.get(DigestAlgorithm::Sha256)) return "sha-256:" + to_hex(*v);
  for (const auto& [alg, v] : d.values()) return std::string(digest_name(alg)) + ":" + to_hex(v);
  return {};
}

struct Session {
  std::optional<std::string> token;  // verified, to send on as the API's Bearer token
  std::string subject;
  bool drop_cookie = false;  // a cookie was sent that no longer verifies
};

class WebUi : public std::enable_shared_from_this<WebUi> {
 public:
  WebUi(Registry& registry, std::shared_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens, WebOptions opt)
      : registry_(registry), store_(std::move(store)), tokens_(std::move(tokens)), opt_(std::move(opt)) {
    if (opt_.page_size == 0) opt_.page_size = 1;
  }

  void install(net::HttpServer& server) {
    // The routes own the UI: it lives as long as the server keeps its handlers.
    auto page = [self = shared_from_this()](auto member) {
      return [self, member](net::Request& r) { return self->guarded(r, [&] { return ((*self).*member)(r); }); };
    };
    const net::RouteOptions get_opts{.max_body_size = 0};
    server.route(net::Method::Get, "/ui", page(&WebUi::index), get_opts);
    server.route(net::Method::Get, "/ui/_find", page(&WebUi::find), get_opts);
    server.route(net::Method::Get, "/ui/_login", page(&WebUi::login_form), get_opts);
    server.route(net::Method::Post, "/ui/_login", page(&WebUi::login), net::RouteOptions{.max_body_size = kMaxLoginBody});
    server.route(net::Method::Post, "/ui/_logout", page(&WebUi::logout), net::RouteOptions{.max_body_size = kMaxLoginBody});
    server.route(net::Method::Get, "/ui/_static/{file}", [](net::Request& r) { return asset(r); }, get_opts);
    server.route(net::Method::Get, "/ui/{user}", page(&WebUi::user_page), get_opts);
    server.route(net::Method::Get, "/ui/{user}/{repo}", page(&WebUi::repo_page), get_opts);
    server.route(net::Method::Get, "/ui/{user}/{repo}/{tag}", page(&WebUi::tag_page), get_opts);
    server.route(net::Method::Get, "/ui/{user}/{repo}/{tag}/tree/{path*}", page(&WebUi::tag_page), get_opts);
  }

 private:
  // ---- the API, in process ----
  // A GET of the API's own route for this page's caller: same address (allow-list, rate limit),
  // same client certificate, the session's token as the Bearer token. Throws net::HttpError as
  // the API answers (404 alike for private and missing).
  net::Response api(const net::Request& outer, const Session& s, const std::string& path) {
    net::Request r;
    r.method = net::Method::Get;
    r.path = path;
    r.target = path;
    r.remote_address = outer.remote_address;
    r.request_id = outer.request_id;
    r.peer_chain_der = outer.peer_chain_der;
    if (s.token) r.headers.set("Authorization", "Bearer " + *s.token);
    return registry_.handle(r);
  }

  static std::string api_base(std::string_view user, std::string_view repo = {}) {
    std::string p = "/api/v" + std::string(kApiVersion) + "/" + net::percent_encode(user);
    if (!repo.empty()) p += "/" + net::percent_encode(repo);
    return p;
  }

  static std::string body_of(net::Response& r) {
    if (!r.file) return std::move(r.body);
    const int fd = r.file->release();
    std::string out;
    char buf[65536];
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > kMaxDirectoryBytes) {
        ::close(fd);
        throw Error(ErrorKind::kResourceExhausted, "drawbridge.web.too_large", "directory node too large to show");
      }
    }
    ::close(fd);
    return out;
  }

  // ---- yank state ----
  // The API's tag list comes first: it is what applies the read rules (and the rate limit) to
  // this caller. It leaves yanked tags out, so the names shown, with their yank state, come from
  // the store once the caller may read the repository.
  std::vector<web::TagView> tags_for_ui(const net::Request& req, const Session& s, const std::string& user,
                                        const std::string& repo) {
    auto r = api(req, s, api_base(user, repo) + "/_tag");
    if (r.status != 200) throw RateLimited{std::move(r)};
    std::vector<web::TagView> out;
    for (const auto& summary : store_->list_tag_summaries(user, repo)) out.push_back({summary.name, summary.yanked});
    return out;
  }

  // ---- session ----
  Session session(const net::Request& req) {
    Session s;
    auto cookie = cookie_value(req, kCookie);
    if (!cookie || cookie->empty()) return s;
    // Expired, malformed or no longer trusted: logged out, and the cookie goes.
    s.drop_cookie = true;
    if (!token_chars_ok(*cookie) || !tokens_ || tokens_->empty()) return s;
    try {
      auto claims = tokens_->verify(*cookie);
      s.token = *cookie;
      s.subject = claims.subject;
      s.drop_cookie = false;
    } catch (const Error&) {
    }
    return s;
  }

  // A POST that changes the session must come from our own pages: a cross-site form could
  // otherwise log a victim into the attacker's account (login CSRF) or out of theirs.
  static bool same_origin(const net::Request& req) {
    if (auto site = req.header("Sec-Fetch-Site"); site && *site != "same-origin" && *site != "none") return false;
    auto origin = req.header("Origin");
    if (!origin) return true;  // not a browser form post from another site (browsers send Origin on POST)
    auto host = req.header("Host");
    if (!host) return false;
    auto scheme = origin->find("://");
    return scheme != std::string::npos && origin->substr(scheme + 3) == *host;
  }

  struct RateLimited {
    net::Response response;
  };

  template <typename F>
  net::Response guarded(net::Request& req, F&& f) {
    Session s = session(req);
    auto r = answer(req, s, std::forward<F>(f));
    // A cookie that no longer verifies is removed — unless this answer sets a new one (a login).
    if (s.drop_cookie && !r.headers.has("Set-Cookie")) r.headers.add("Set-Cookie", set_cookie("", 0));
    return r;
  }

  template <typename F>
  net::Response answer(net::Request& req, const Session& s, F&& f) {
    try {
      current_ = &s;
      auto r = f();
      current_ = nullptr;
      return r;
    } catch (RateLimited& rl) {
      current_ = nullptr;
      return message(s, rl.response.status, "Too many requests",
                     "Too many lookups from your address; try again in a few seconds.", &rl.response);
    } catch (const net::HttpError& e) {
      current_ = nullptr;
      if (e.status() == 404 || e.code().rfind("drawbridge.name.", 0) == 0 || e.code() == "http.bad_path")
        return not_found(s);
      if (e.status() == 403) return message(s, 403, "Forbidden", "Your network may not use this registry.");
      log::info("drawbridge.web_error", {{"code", e.code()}, {"request_id", req.request_id}});
      return message(s, e.status(), "Error", "The registry answered " + std::to_string(e.status()) + " (" + e.code() + ").");
    } catch (const Error& e) {
      current_ = nullptr;
      // A name outside the grammar (typed into the URL or the find form) names nothing.
      if (e.code().rfind("drawbridge.name.", 0) == 0) return not_found(s);
      log::warn("drawbridge.web_error", {{"code", e.code()}, {"error", e.what()}, {"request_id", req.request_id}});
      return message(s, 500, "Error", "This page could not be shown (" + e.code() + ").");
    } catch (const std::exception& e) {
      current_ = nullptr;
      log::warn("drawbridge.web_error", {{"error", e.what()}, {"request_id", req.request_id}});
      return message(s, 500, "Error", "This page could not be shown.");
    }
  }

  // One page for every resource the caller may not see, byte for byte (no name, no id), so the UI
  // is no oracle for which private names exist.
  net::Response not_found(const Session& s) {
    return message(s, 404, "Not found",
                   "There is nothing here that you may see: it does not exist, or it is private and you are not "
                   "logged in as someone it is shared with.");
  }

  net::Response message(const Session& s, int status, std::string_view title, std::string_view text,
                        const net::Response* from = nullptr) {
    web::Layout l{.title = std::string(title), .crumbs = {}, .subject = s.subject};
    auto r = html(status, web::render_page(l, "<h1>" + escape(title) + "</h1><p>" + escape(text) + "</p>"));
    if (from)
      if (auto retry = from->headers.get("Retry-After")) r.headers.set("Retry-After", *retry);
    return r;
  }

  const Session& sess() const { return *current_; }

  std::size_t page_number(const net::Request& req) const {
    auto p = req.query_param("page");
    if (!p) return 0;
    std::size_t n = 0;
    for (char c : *p) {
      if (c < '0' || c > '9' || n > 1'000'000) return 0;
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    return n;
  }

  // Rows [page*size, page*size+size) of `items` as list items, with previous/next links.
  template <typename T, typename Row>
  std::string paged(const net::Request& req, const std::string& here, const std::vector<T>& items, Row row,
                    const std::string& list_id) {
    const auto page = page_number(req);
    const auto size = opt_.page_size;
    const auto begin = std::min(items.size(), page * size), end = std::min(items.size(), begin + size);
    std::string h = "<ul class=\"list\" id=\"" + list_id + "\">";
    for (auto i = begin; i < end; ++i) h += "<li>" + row(items[i]) + "</li>";
    h += "</ul>";
    if (page > 0 || end < items.size()) {
      h += "<nav aria-label=\"Pages\" class=\"pager\">";
      if (page > 0) h += "<a href=\"" + escape(here) + "?page=" + std::to_string(page - 1) + "\" rel=\"prev\">Previous</a> ";
      if (end < items.size()) h += "<a href=\"" + escape(here) + "?page=" + std::to_string(page + 1) + "\" rel=\"next\">Next</a>";
      h += "</nav>";
    }
    return h;
  }

  // ---- pages ----
  net::Response index(net::Request& req) {
    if (auto refused = registry_.admit_lookup(req)) throw RateLimited{std::move(*refused)};
    std::string after = req.query_param("after").value_or("");
    if (!after.empty()) identity::validate_user_name(after);
    auto users = store_->list_public_users(after, opt_.page_size + 1);
    const bool more = users.size() > opt_.page_size;
    if (more) users.resize(opt_.page_size);
    std::string h = "<h1>Registry</h1>"
                    "<form method=\"get\" action=\"/ui/_find\" class=\"find\" role=\"search\">"
                    "<label for=\"find-user\">Go to a user</label>"
                    "<input id=\"find-user\" name=\"user\" type=\"text\" autocomplete=\"off\" autocapitalize=\"none\" "
                    "spellcheck=\"false\" pattern=\"[0-9A-Za-z\\-]+\" required>"
                    "<button type=\"submit\">Go</button></form>"
                    "<h2>Users with public repositories</h2>";
    if (users.empty()) {
      h += "<p>None yet.</p>";
    } else {
      h += "<ul class=\"list\" id=\"users\">";
      for (const auto& u : users) h += "<li><a href=\"" + escape(ui_href_user(u)) + "\">" + escape(u) + "</a></li>";
      h += "</ul>";
    }
    if (more) h += "<nav aria-label=\"Pages\" class=\"pager\"><a rel=\"next\" href=\"/ui/?after=" +
                   escape(net::percent_encode(users.back())) + "\">Next</a></nav>";
    return html(200, web::render_page({.title = "Registry", .crumbs = {}, .subject = sess().subject}, h));
  }

  static std::string ui_href_user(std::string_view u) { return "/ui/" + net::percent_encode(u); }

  net::Response find(net::Request& req) {
    auto user = req.query_param("user").value_or("");
    identity::validate_user_name(user);
    auto r = html(303, "");
    r.headers.set("Location", ui_href_user(user));
    return r;
  }

  net::Response user_page(net::Request& req) {
    const auto& user = req.param("user");
    identity::validate_user_name(user);
    auto r = api(req, sess(), api_base(user) + "/_repos");
    if (r.status != 200) throw RateLimited{std::move(r)};
    std::vector<std::string> names;
    for (const auto& n : nlohmann::json::parse(body_of(r))) names.push_back(n.get<std::string>());
    // Which of the names the API listed are private (only an owner is shown any): a badge, so the
    // owner sees what outsiders do not.
    std::vector<std::string> private_names;
    if (sess().token)
      for (const auto& [name, pub] : store_->list_repos(user))
        if (!pub) private_names.push_back(name);
    std::string h = "<h1>" + escape(user) + "</h1><h2>Repositories</h2>";
    if (names.empty()) {
      h += "<p>No repositories you may see.</p>";
    } else {
      h += paged(req, ui_href_user(user), names, [&](const std::string& n) {
        std::string row = "<a href=\"" + escape("/ui/" + net::percent_encode(user) + "/" + net::percent_encode(n)) +
                          "\">" + escape(n) + "</a>";
        if (std::find(private_names.begin(), private_names.end(), n) != private_names.end())
          row += " <span class=\"badge\">private</span>";
        return row;
      }, "repos");
    }
    return html(200, web::render_page({.title = user, .crumbs = {{user, ui_href_user(user)}}, .subject = sess().subject}, h));
  }

  net::Response repo_page(net::Request& req) {
    const auto& user = req.param("user");
    const auto& repo = req.param("repo");
    identity::validate_user_name(user);
    identity::validate_repo_name(repo);
    auto tags = tags_for_ui(req, sess(), user, repo);
    const std::string here = "/ui/" + net::percent_encode(user) + "/" + net::percent_encode(repo);
    std::string h = "<h1>" + escape(user) + "/" + escape(repo) + "</h1><h2>Tags</h2>";
    if (tags.empty()) {
      h += "<p>No tags yet.</p>";
    } else {
      h += paged(req, here, tags, [&](const web::TagView& t) {
        std::string row = "<a href=\"" + escape(here + "/" + net::percent_encode(t.name)) + "\">" + escape(t.name) + "</a>";
        if (t.yanked) row += " <span class=\"badge warn\">yanked</span>";
        return row;
      }, "tags");
    }
    return html(200, web::render_page({.title = user + "/" + repo,
                                       .crumbs = {{user, ui_href_user(user)}, {repo, here}},
                                       .subject = sess().subject},
                                      h));
  }

  net::Response tag_page(net::Request& req) {
    web::TagPage p;
    p.user = req.param("user");
    p.repo = req.param("repo");
    p.tag = req.param("tag");
    identity::validate_user_name(p.user);
    identity::validate_repo_name(p.repo);
    identity::validate_tag_name(p.tag);
    std::vector<std::string> parts;
    if (auto it = req.params.find("path"); it != req.params.end()) {
      const auto& path = it->second;
      for (std::size_t start = 0; start < path.size();) {
        auto end = std::min(path.find('/', start), path.size());
        parts.push_back(path.substr(start, end - start));
        identity::validate_entry_name(parts.back());
        start = end + 1;
      }
    }
    for (const auto& part : parts) p.path += (p.path.empty() ? "" : "/") + part;

    const std::string tag_api = api_base(p.user, p.repo) + "/_tag/" + net::percent_encode(p.tag);
    auto tr = api(req, sess(), tag_api);
    if (tr.status != 200) throw RateLimited{std::move(tr)};
    const std::string type = tr.headers.get("Content-Type").value_or("");
    const std::string tag_body = body_of(tr);
    const Entry root = tag_root_entry(type, tag_body);
    p.root_digest = first_digest(root.meta.digest);
    if (type == kJwsType) {
      p.is_signed = true;
      try {
        auto v = jws::verify(tag_body);
        p.signature_valid = true;
        p.algorithm = v.algorithm;
        p.signer_fingerprint = v.signer_fingerprint;
      } catch (const Error& e) {
        p.signature_error = e.code();
      }
    }
    std::string host = opt_.public_host;
    if (host.empty()) host = req.header("Host").value_or("");
    if (!host_ok(host)) host.clear();
    p.deploy_line = web::deploy_line(host, p.user, p.repo, p.tag, p.root_digest, p.signer_fingerprint);

    std::string node_api = tag_api + "/tree";
    for (const auto& part : parts) node_api += "/" + net::percent_encode(part);
    // Only directories are listed; a file's own page would be its bytes, which the API serves.
    if (parts.empty() && root.meta.type != kDirectoryType) {
      p.rows.push_back({.name = "(root)", .href = {}, .type = root.meta.type, .length = root.meta.length,
                        .digest = first_digest(root.meta.digest), .directory = false});
    } else {
      auto nr = api(req, sess(), node_api);
      if (nr.headers.get("Content-Type").value_or("") != kDirectoryType) throw net::HttpError(404, "drawbridge.not_found", "not a directory");
      const auto dir = parse_directory(body_of(nr));
      const std::string base = "/ui/" + net::percent_encode(p.user) + "/" + net::percent_encode(p.repo) + "/" +
                               net::percent_encode(p.tag) + "/tree/" + (p.path.empty() ? "" : net::percent_encode(p.path, true) + "/");
      for (const auto& [name, e] : dir) {
        const bool is_dir = e.meta.type == kDirectoryType;
        p.rows.push_back({.name = name, .href = is_dir ? base + net::percent_encode(name) : std::string(),
                          .type = e.meta.type, .length = e.meta.length, .digest = first_digest(e.meta.digest),
                          .directory = is_dir});
      }
    }
    const std::string user_href = ui_href_user(p.user);
    const std::string repo_href = user_href + "/" + net::percent_encode(p.repo);
    const std::string tag_href = repo_href + "/" + net::percent_encode(p.tag);
    web::Layout l{.title = p.user + "/" + p.repo + ":" + p.tag,
                  .crumbs = {{p.user, user_href}, {p.repo, repo_href}, {p.tag, tag_href}},
                  .subject = sess().subject};
    if (!p.path.empty()) l.crumbs.push_back({"/" + p.path, tag_href + "/tree/" + net::percent_encode(p.path, true)});
    return html(200, web::render_page(l, web::render_tag_main(p)));
  }

  net::Response login_form(net::Request&) { return login_page(200, ""); }

  net::Response login_page(int status, std::string_view problem) {
    std::string h = "<h1>Log in</h1>";
    if (!problem.empty()) h += "<p class=\"error\" role=\"alert\" id=\"login-error\">" + escape(problem) + "</p>";
    h += "<p>Paste a registry token (from <code>drawbridge token</code> or your identity provider). It is kept "
         "in a cookie only this site's pages can send and no script can read, for at most 12 hours or until you "
         "log out.</p>"
         "<form method=\"post\" action=\"/ui/_login\" class=\"login\">"
         "<label for=\"token\">Token</label>"
         "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>"
         "<button type=\"submit\">Log in</button></form>";
    return html(status, web::render_page({.title = "Log in", .crumbs = {}, .subject = sess().subject}, h));
  }

  net::Response login(net::Request& req) {
    if (!same_origin(req)) return message(sess(), 403, "Forbidden", "Log in from this site's own login page.");
    std::string token;
    std::string_view rest(req.body);
    while (!rest.empty()) {
      auto end = rest.find('&');
      auto part = rest.substr(0, end);
      if (part.substr(0, 6) == "token=") token = net::percent_decode(part.substr(6), true);
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
    if (!tokens_ || tokens_->empty()) return login_page(401, "This registry accepts no tokens.");
    if (!token_chars_ok(token)) return login_page(401, "That is not a token this registry accepts.");
    TokenClaims claims;
    try {
      claims = tokens_->verify(token);
    } catch (const Error& e) {
      return login_page(401, "That token was not accepted (" + e.code() + ").");
    }
    auto left = std::chrono::duration_cast<std::chrono::seconds>(claims.expires - std::chrono::system_clock::now());
    left = std::clamp(left, std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(kMaxSession));
    auto r = html(303, "");
    r.headers.set("Location", "/ui/");
    r.headers.add("Set-Cookie", set_cookie(token, static_cast<long>(left.count())));
    log::info("drawbridge.web_login", {{"subject", claims.subject}, {"request_id", req.request_id}});
    return r;
  }

  net::Response logout(net::Request& req) {
    if (!same_origin(req)) return message(sess(), 403, "Forbidden", "Log out from this site's own pages.");
    auto r = html(303, "");
    r.headers.set("Location", "/ui/");
    r.headers.add("Set-Cookie", set_cookie("", 0));
    return r;
  }

  static net::Response asset(net::Request& req) {
    const auto& file = req.param("file");
    std::string_view body, type;
    if (file == "style.css") {
      body = web_assets::kStyleCss;
      type = "text/css; charset=utf-8";
    } else if (file == "ui.js") {
      body = web_assets::kScriptJs;
      type = "text/javascript; charset=utf-8";
    } else if (file == "icon.svg") {
      body = web_assets::kIconSvg;
      type = "image/svg+xml";
    } else {
      auto r = net::Response::text(404, "not found");
      secure_headers(r);
      return r;
    }
    auto r = net::Response::bytes(200, std::string(body), std::string(type));
    secure_headers(r);
    r.headers.set("Cache-Control", "public, max-age=3600");
    return r;
  }

  Registry& registry_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<TokenVerifier> tokens_;
  WebOptions opt_;
  // The session of the request being answered; thread_local because the server answers requests
  // on several worker threads at once.
  static thread_local const Session* current_;
};

thread_local const Session* WebUi::current_ = nullptr;

}  // namespace

void install_web_ui(net::HttpServer& server, Registry& registry, std::shared_ptr<Store> store,
                    std::shared_ptr<TokenVerifier> tokens, WebOptions options) {
  auto ui = std::make_shared<WebUi>(registry, std::move(store), std::move(tokens), std::move(options));
  ui->install(server);
}

}  // namespace enarx::drawbridge
