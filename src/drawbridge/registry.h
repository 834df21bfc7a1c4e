// The Drawbridge HTTP API (v0.1.0-compatible) over a Store, on src/net's HttpServer.
//
// Routes under /api/v<semver>/ (a requested version newer in major — or, for 0.x, in minor —
// than kApiVersion gets 501):
//   HEAD/GET/PUT <user>                                   user record
//   GET          <user>/_repos                            repository names (our extension)
//   HEAD/GET/PUT <user>/<repo>                            repository config
//   HEAD/GET     <user>/<repo>/_steward                   which steward (anyone; our extension)
//   PUT          <user>/<repo>/_steward                   set the repository's steward (owner)
//   HEAD/GET     <user>/<repo>/_tag                       complete tags, SemVer-sorted JSON array
//   HEAD/GET/PUT <user>/<repo>/_tag/<tag>                 tag entry or JWS
//   HEAD/GET     <user>/<repo>/_tag/<tag>/_steward        which steward for this tag (anyone)
//   HEAD/GET/PUT <user>/<repo>/_tag/<tag>/tree[/<path>]   tree nodes
//   HEAD/GET     <user>/<repo>/_grants                    who the repository is shared with
//   HEAD/GET/PUT/DELETE <user>/<repo>/_grants/{users,groups}/<name>   one grant
//   HEAD/GET     <user>/_groups                           the user's groups
//   HEAD/GET/PUT/DELETE <user>/_groups/<group>[/members/<member>]     groups and members
// Yank, delete, audit, quotas (our extensions; docs/drawbridge.md "Yank and delete", ...):
//   DELETE       <user>/<repo>                            the repository, its tags and grants (owner)
//   DELETE       <user>/<repo>/_tag/<tag>                 a complete or pending tag (owner)
//   HEAD/GET/PUT/DELETE <user>/<repo>/_tag/<tag>/_yank    yank state; PUT yanks, DELETE un-yanks
//   HEAD/GET     <user>/_audit[?after=<seq>&limit=<n>]    the owner's registry audit log
//   HEAD/GET     <user>/_usage                            the owner's quota usage and limits
// See docs/drawbridge.md for authorization, the upload order and error codes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/x509.h"
#include "drawbridge/auth.h"
#include "drawbridge/guard.h"
#include "drawbridge/read_cache.h"
#include "drawbridge/store.h"
#include "net/http_server.h"
#include "revocation/crl_monitor.h"

namespace enarx::drawbridge {

inline constexpr std::string_view kApiVersion = "0.5.0";

struct RegistryOptions {
  std::shared_ptr<const Clock> clock = system_clock();
  // Trust anchors for keep client certificates (the steward CA). Empty = certificates ignored.
  std::vector<Certificate> client_ca;
  // This registry's public host name, matched against the host of certificate slugs (empty =
  // any host).
  std::string public_host;
  // Revocation of keep certificates (docs/drawbridge.md "Revoked keeps"): when any is set, a
  // keep certificate grants something only while the CRL of its issuer (one monitor per steward,
  // each CRL signed by one of client_ca) is current and does not list it; with no valid CRL for
  // its issuer yet, or one past nextUpdate plus grace, or no monitor for its issuer, keep
  // certificates grant nothing (fail closed). Empty: not checked.
  std::vector<std::shared_ptr<revocation::CrlMonitor>> keep_crls;
  // Keep certificates marked insecure (KVM, simulated root of trust, names for an unlisted
  // runtime) grant nothing unless this is set (development only; logged at start-up).
  bool accept_insecure_keeps = false;
  std::uint64_t max_blob_size = 256ull << 20;
  std::uint64_t max_json_size = 1ull << 20;
  std::size_t max_directory_entries = 10000;
  // Per client IP token bucket for metadata lookups (user, repo, tag list, tag). 0 = off.
  double lookup_rate = 50;
  double lookup_burst = 200;
  std::size_t lookup_max_clients = 65536;  // buckets kept (least recently used dropped past it)
  std::vector<std::string> allowed_networks;  // CIDRs; empty = all
  // The steward keeps are told to use when neither the tag nor the repository names one ("" =
  // none: keeps fall back to the package's Enarx.toml or their own --steward).
  std::string default_steward;
  // Answers of public repositories' complete tags kept in memory and served on the I/O thread
  // (docs/drawbridge.md "Read cache"); ttl 0 turns it off.
  ReadCacheOptions read_cache;

  // ---- quotas (docs/drawbridge.md "Quotas"), charged to a repository's owner; 0 = unlimited ----
  std::uint64_t max_bytes_per_user = 0;  // sum of the declared lengths of the owner's stored nodes
  std::uint64_t max_tags_per_user = 0;   // the owner's complete and pending tags
};

class Registry {
 public:
  Registry(std::shared_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens, RegistryOptions options);
  ~Registry();
  // Registers the API routes (and metrics) on `server`; call before server.start().
  void install(net::HttpServer& server);
  // The API handler itself (what install() routes to), for in-process use. Without a
  // check_put() decision first, bodies are taken from Request::body.
  net::Response handle(net::Request& request);
  // The PUT route's header check (authentication, authorization, length; a spool for file
  // nodes): see docs/drawbridge.md "Bounds".
  net::HeaderDecision check_put(net::Request& request);

  // ---- web UI (docs/drawbridge.md "Web UI") ----
  // What an API lookup from this request's client faces first — the network allow-list and the
  // per-client lookup rate limit: nullopt to go on, else the 429 answer; throws HttpError 403
  // for a refused network. For UI pages that read the store without an API request of their own
  // (the user index), so that the UI is not a way around either.
  std::optional<net::Response> admit_lookup(const net::Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace enarx::drawbridge
