// The registry's web UI (issue #18): server-rendered HTML pages under /ui/ that browse users'
// public repositories, tags, trees, signatures and the `enarx deploy` line; an owner who logs in
// with their token also sees their private repositories. See docs/drawbridge.md "Web UI".
//
// Every page reads through Registry::handle() — the API's own routes, with the caller's address,
// client certificate and (logged in) token — so the UI applies exactly the API's authorization,
// allow-list and lookup rate limit, and answers a private repository like a missing one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drawbridge/auth.h"
#include "drawbridge/registry.h"
#include "drawbridge/store.h"
#include "net/http_server.h"

namespace enarx::drawbridge {

struct WebOptions {
  // The host (and :port) deploy lines name; empty = the request's Host header.
  std::string public_host;
  // Rows per page of a listing (users, repositories, tags).
  std::size_t page_size = 50;
};

// Registers GET /ui[/...] and POST /ui/_login, /ui/_logout on `server` (before server.start()).
// `registry` must outlive the server.
void install_web_ui(net::HttpServer& server, Registry& registry, std::shared_ptr<Store> store,
                    std::shared_ptr<TokenVerifier> tokens, WebOptions options = {});

// The pure rendering half, exposed for tests/drawbridge/web_test.cc.
namespace web {

// HTML-escapes & < > " ' (safe in text and in double- or single-quoted attributes).
std::string escape(std::string_view text);

// A tag as the UI lists it. yanked is filled by tags_for_ui() in web.cc (the one place that
// changes when the store reports yank state).
struct TagView {
  std::string name;
  bool yanked = false;
};

struct TreeRow {
  std::string name;
  std::string href;  // set for directories (a link to their page)
  std::string type;
  std::uint64_t length = 0;
  std::string digest;  // "sha-256:<hex>", or the first algorithm the entry has
  bool directory = false;
};

struct TagPage {
  std::string user, repo, tag;
  std::string path;  // the directory shown ("" = the root)
  bool is_signed = false;
  bool signature_valid = false;
  std::string algorithm;           // "ES256" / "ES384" when valid
  std::string signer_fingerprint;  // SHA-256 of the signer key's SubjectPublicKeyInfo (hex)
  std::string signature_error;     // why it does not verify
  std::string root_digest;         // "sha-256:<hex>" of the root entry (the slug's pin)
  std::string deploy_line;
  std::vector<TreeRow> rows;
};

struct Layout {
  std::string title;
  std::vector<std::pair<std::string, std::string>> crumbs;  // (label, href); the last is current
  std::string subject;  // non-empty when logged in
};

// A whole page: the layout around `main_html` (already escaped HTML).
std::string render_page(const Layout& layout, std::string_view main_html);
std::string render_tag_main(const TagPage& page);
std::string render_tag_list(std::string_view user, std::string_view repo, const std::vector<TagView>& tags);
std::string deploy_line(std::string_view host, std::string_view user, std::string_view repo, std::string_view tag,
                        std::string_view root_digest, std::string_view signer_fingerprint);

}  // namespace web
}  // namespace enarx::drawbridge
