// drawbridge: the workload registry. Thin main: flags/config -> src/drawbridge.
//
//   drawbridge serve --data-dir /var/lib/drawbridge --cert server.pem --key server.key
//                    --client-ca steward-ca.pem
//   drawbridge token --data-dir /var/lib/drawbridge --subject alice
//   drawbridge gc --data-dir /var/lib/drawbridge [--dry-run] [--pending-ttl 168h] [--json]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "core/config.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/x509.h"
#include "drawbridge/audit.h"
#include "drawbridge/auth.h"
#include "drawbridge/gc.h"
#include "drawbridge/model.h"
#include "drawbridge/registry.h"
#include "drawbridge/store.h"
#include "maintenance.h"
#include "drawbridge/web.h"
#include "identity/names.h"
#include "net/http_server.h"
#include "net/server_keys.h"
#include "revocation/crl_monitor.h"

namespace fs = std::filesystem;
using namespace enarx;
using config::Key;
using config::Type;

namespace {

void declare_common(config::Loader& l) {
  l.add({.name = "store.data_dir", .type = Type::String, .default_value = std::string("/var/lib/drawbridge"),
         .env = "DRAWBRIDGE_DATA_DIR", .flag = "--data-dir",
         .help = "Data directory (blobs, SQLite metadata, local issuer key, self-signed TLS)"});
  l.add({.name = "auth.local_issuer", .type = Type::String, .default_value = std::string("drawbridge-local"),
         .env = "DRAWBRIDGE_LOCAL_ISSUER", .flag = "--local-issuer",
         .help = "`iss` of tokens minted by `drawbridge token` (\"\" disables the local issuer)"});
  l.add({.name = "auth.audience", .type = Type::String, .default_value = std::string("drawbridge"),
         .env = "DRAWBRIDGE_AUDIENCE", .flag = "--oidc-audience", .help = "Required `aud` of bearer tokens"});
}

void declare_serve(config::Loader& l) {
  // The [server] keys steward has too; files written for older releases named some of them
  // under [tls] and [limits].
  net::declare_server_keys(
      l, {.env_prefix = "DRAWBRIDGE_",
          .address = "0.0.0.0",
          .port = 8443,
          .workers = 8,
          .io_threads = 2,
          .plain_http_flag = "--insecure-plain-http,--plain-http",
          .former_names = {{"plain_http", {"tls.insecure_plain_http"}},
                           {"request_timeout", {"limits.request_timeout"}},
                           {"max_connections", {"limits.max_connections"}},
                           {"max_connections_per_ip", {"limits.max_connections_per_ip"}},
                           {"handshake_timeout", {"limits.handshake_timeout"}},
                           {"max_buffered_bytes", {"limits.max_buffered_bytes"}},
                           {"max_queued_requests", {"limits.max_queued_requests"}}}});
  l.add({.name = "server.public_host", .type = Type::String, .default_value = std::string(),
         .env = "DRAWBRIDGE_PUBLIC_HOST", .flag = "--public-host",
         .help = "Host name clients use; certificate slugs naming another host are refused"});
  l.add({.name = "steward.default_url", .type = Type::String, .default_value = std::string(),
         .env = "DRAWBRIDGE_DEFAULT_STEWARD", .flag = "--default-steward",
         .help = "Steward URL (https://) keeps are told to use when neither the tag nor the repository names one"});
  l.add({.name = "tls.cert", .type = Type::String, .default_value = std::string(), .env = "DRAWBRIDGE_CERT",
         .flag = "--cert", .help = "Server certificate chain (PEM)"});
  l.add({.name = "tls.key", .type = Type::String, .default_value = std::string(), .env = "DRAWBRIDGE_KEY",
         .flag = "--key", .help = "Server private key (PEM)"});
  l.add({.name = "tls.client_ca", .type = Type::String, .default_value = std::string(),
         .env = "DRAWBRIDGE_CLIENT_CA", .flag = "--client-ca,--ca",
         .help = "Steward CA bundle (PEM) trusted for keep client certificates"});
  l.add({.name = "keeps.accept_insecure", .type = Type::Boolean, .default_value = false,
         .env = "DRAWBRIDGE_ACCEPT_INSECURE_KEEPS", .flag = "--accept-insecure-keeps",
         .help = "DEVELOPMENT ONLY: let keep certificates marked insecure (KVM, simulated platforms) read "
                 "private repositories"});
  l.add({.name = "keeps.crl_url", .type = Type::StringList, .default_value = std::vector<std::string>{},
         .env = "DRAWBRIDGE_KEEP_CRL_URL", .flag = "--keep-crl-url",
         .help = "Each trusted steward's CRL (http(s)://.../crl; comma-separated, one per steward "
                 "CA in tls.client_ca): refuse revoked keep certificates; while the CRL of a keep's steward is "
                 "missing, or past nextUpdate + keeps.crl_grace, its keep certificates grant nothing"});
  l.add({.name = "keeps.crl_refresh", .type = Type::Duration, .default_value = config::Duration(std::chrono::minutes(5)),
         .flag = "--keep-crl-refresh", .help = "How often the keep CRL is fetched"});
  l.add({.name = "keeps.crl_grace", .type = Type::Duration, .default_value = config::Duration(std::chrono::seconds(0)),
         .flag = "--keep-crl-grace", .help = "Accept the keep CRL this long past its nextUpdate"});
  l.add({.name = "keeps.crl_ca_file", .type = Type::String, .default_value = std::string(),
         .flag = "--keep-crl-ca-file", .help = "CA bundle (PEM) trusted for an https keeps.crl_url (default: the system store)"});
  l.add({.name = "tls.self_signed", .type = Type::Boolean, .default_value = false, .flag = "--self-signed-tls",
         .help = "Development: create/use a self-signed certificate in the data dir when --cert is not given"});
  l.add({.name = "store.kind", .type = Type::String, .default_value = std::string("sqlite"),
         .env = "DRAWBRIDGE_STORE", .flag = "--store", .help = "sqlite (embedded) or postgres"});
  l.add({.name = "store.postgres", .type = Type::String, .default_value = std::string(),
         .env = "DRAWBRIDGE_POSTGRES", .flag = "--postgres", .help = "libpq connection string", .secret = true});
  l.add({.name = "store.pool_size", .type = Type::Integer, .default_value = std::int64_t{8},
         .flag = "--pool-size", .help = "PostgreSQL connections"});
  l.add({.name = "auth.oidc_issuer", .type = Type::String, .default_value = std::string(),
         .env = "DRAWBRIDGE_OIDC_ISSUER", .flag = "--oidc-issuer", .help = "External OIDC issuer URL"});
  l.add({.name = "auth.oidc_ca_file", .type = Type::String, .default_value = std::string(),
         .flag = "--oidc-ca-file", .help = "CA bundle for fetching the issuer's discovery document/JWKS"});
  l.add({.name = "auth.jwks_refresh", .type = Type::Duration, .default_value = config::Duration(std::chrono::hours(1)),
         .flag = "--jwks-refresh", .help = "JWKS refresh interval"});
  l.add({.name = "limits.max_blob_size", .type = Type::Integer, .default_value = std::int64_t{256} << 20,
         .flag = "--max-blob-size", .help = "Largest accepted file node (bytes)"});
  l.add({.name = "limits.max_json_size", .type = Type::Integer, .default_value = std::int64_t{1} << 20,
         .flag = "--max-json-size", .help = "Largest JSON body: user, repo, tag, directory (bytes)"});
  l.add({.name = "limits.max_directory_entries", .type = Type::Integer, .default_value = std::int64_t{10000},
         .flag = "--max-directory-entries", .help = "Entries per directory node"});
  l.add({.name = "limits.lookup_rate", .type = Type::Float, .default_value = 50.0, .flag = "--lookup-rate",
         .help = "Metadata lookups per second per client IP (0 = unlimited)"});
  l.add({.name = "limits.lookup_burst", .type = Type::Float, .default_value = 200.0, .flag = "--lookup-burst",
         .help = "Token bucket size for metadata lookups"});
  l.add({.name = "limits.allowed_networks", .type = Type::StringList, .default_value = std::vector<std::string>{},
         .env = "DRAWBRIDGE_ALLOWED_NETWORKS", .flag = "--allowed-networks",
         .help = "Client CIDRs allowed to use the API (comma-separated; empty = all)"});
  l.add({.name = "limits.lookup_max_clients", .type = Type::Integer, .default_value = std::int64_t{65536},
         .flag = "--lookup-max-clients", .help = "Clients tracked by the lookup rate limit"});
  l.add({.name = "cache.ttl", .type = Type::Duration, .default_value = config::Duration(std::chrono::seconds(10)),
         .flag = "--read-cache-ttl",
         .help = "How long an answer of a public tag is served from memory (0 = no read cache); bounds how long "
                 "another replica's yank or delete takes to show here"});
  l.add({.name = "cache.max_bytes", .type = Type::Integer, .default_value = std::int64_t{64} << 20,
         .flag = "--read-cache-bytes", .help = "Memory for the read cache (bytes)"});
  l.add({.name = "cache.max_entries", .type = Type::Integer, .default_value = std::int64_t{100000},
         .flag = "--read-cache-entries", .help = "Answers kept by the read cache"});
  l.add({.name = "cache.max_file_size", .type = Type::Integer, .default_value = std::int64_t{64} << 10,
         .flag = "--read-cache-file-size", .help = "Largest file node kept by the read cache (bytes)"});
  l.add({.name = "web.enabled", .type = Type::Boolean, .default_value = true, .env = "DRAWBRIDGE_WEB",
         .flag = "--web", .help = "Serve the web UI under /ui/ (docs/drawbridge.md \"Web UI\"); false turns it off"});
  l.add({.name = "log.level", .type = Type::String, .default_value = std::string("info"), .env = "DRAWBRIDGE_LOG",
         .flag = "--log-level", .help = "trace|debug|info|warn|error"});
  l.add({.name = "log.format", .type = Type::String, .default_value = std::string("auto"),
         .flag = "--log-format", .help = "auto|human|json"});
}

// ---- garbage collection (configuration) ----
void declare_gc(config::Loader& l) {
  l.add({.name = "gc.pending_ttl", .type = Type::Duration, .default_value = config::Duration(std::chrono::hours(7 * 24)),
         .flag = "--pending-ttl", .help = "GC drops pending tags not touched (created, resumed, given a node) for this long"});
  l.add({.name = "gc.min_blob_age", .type = Type::Duration, .default_value = config::Duration(std::chrono::hours(1)),
         .flag = "--min-blob-age", .help = "Embedded store: GC keeps blob files changed less than this long ago"});
  l.add({.name = "gc.interval", .type = Type::Duration, .default_value = config::Duration(std::chrono::seconds(0)),
         .flag = "--gc-interval", .help = "serve: run GC this often (0 = never; `drawbridge gc` runs it by hand)"});
}

drawbridge::GcOptions gc_options(const config::Config& cfg) {
  drawbridge::GcOptions o;
  o.pending_ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("gc.pending_ttl"));
  o.min_blob_age = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("gc.min_blob_age"));
  return o;
}

// Development TLS: a self-signed P-256 certificate for localhost kept in the data dir.
std::pair<fs::path, fs::path> self_signed(const fs::path& data_dir) {
  auto dir = data_dir / "tls";
  auto cert = dir / "self-signed.pem", key = dir / "self-signed.key";
  if (fs::exists(cert) && fs::exists(key)) return {cert, key};
  fs::create_directories(dir);
  auto k = PrivateKey::generate(KeyType::EcP256);
  auto now = std::chrono::system_clock::now();
  SubjectAltNames sans;
  sans.dns = {"localhost"};
  sans.ips = {"127.0.0.1", "::1"};
  auto c = CertificateBuilder()
               .subject({{"CN", "drawbridge self-signed"}})
               .public_key(k.public_key())
               .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
               .key_usage({"digitalSignature"})
               .extended_key_usage({"serverAuth"})
               .subject_alt_names(sans)
               .sign(k);
  write_file_atomic(key, k.to_pem_pkcs8(), 0600);
  write_file_atomic(cert, c.to_pem(), 0644);
  log::warn("drawbridge.self_signed_tls", {{"cert", cert.string()}});
  return {cert, key};
}

int serve(const config::Config& cfg) {
  log::Options lo;
  lo.level = log::parse_level(cfg.get_string("log.level"));
  lo.format = log::parse_format(cfg.get_string("log.format"));
  log::configure(lo);
  config::warn_renamed(cfg);

  fs::path data_dir = cfg.get_string("store.data_dir");
  std::shared_ptr<drawbridge::Store> store;
  auto kind = cfg.get_string("store.kind");
  if (kind == "sqlite") {
    store = drawbridge::open_sqlite_store(data_dir.string());
  } else if (kind == "postgres") {
    auto conninfo = cfg.get_string("store.postgres");
    require(!conninfo.empty(), ErrorKind::kInvalidInput, "drawbridge.config.postgres", "--store postgres needs --postgres <conninfo>");
    fs::create_directories(data_dir);
    store = drawbridge::open_postgres_store(conninfo, static_cast<int>(cfg.get_int("store.pool_size")),
                                            data_dir / "tmp");
  } else {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.config.store", "unknown store kind '" + kind + "' (sqlite or postgres)");
  }

  auto clock = system_clock();
  auto tokens = std::make_shared<drawbridge::TokenVerifier>(clock);
  auto audience = cfg.get_string("auth.audience");
  if (auto local = cfg.get_string("auth.local_issuer"); !local.empty())
    tokens->add_issuer(drawbridge::LocalIssuer::load_or_create(data_dir, local, audience).issuer_config());
  if (auto issuer = cfg.get_string("auth.oidc_issuer"); !issuer.empty()) {
    drawbridge::IssuerConfig ic;
    ic.issuer = issuer;
    ic.audience = audience;
    ic.fetch_jwks = drawbridge::oidc_jwks_fetcher(issuer, cfg.get_string("auth.oidc_ca_file"));
    ic.refresh_interval = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("auth.jwks_refresh"));
    tokens->add_issuer(std::move(ic));
  }

  drawbridge::RegistryOptions ro;
  ro.clock = clock;
  ro.public_host = cfg.get_string("server.public_host");
  ro.max_blob_size = static_cast<std::uint64_t>(cfg.get_int("limits.max_blob_size"));
  ro.max_json_size = static_cast<std::uint64_t>(cfg.get_int("limits.max_json_size"));
  ro.max_directory_entries = static_cast<std::size_t>(cfg.get_int("limits.max_directory_entries"));
  ro.lookup_rate = cfg.get_float("limits.lookup_rate");
  ro.lookup_burst = cfg.get_float("limits.lookup_burst");
  ro.lookup_max_clients = static_cast<std::size_t>(cfg.get_int("limits.lookup_max_clients"));
  ro.allowed_networks = cfg.get_list("limits.allowed_networks");
  ro.read_cache.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.get_duration("cache.ttl"));
  ro.read_cache.max_bytes = static_cast<std::size_t>(std::max<std::int64_t>(0, cfg.get_int("cache.max_bytes")));
  ro.read_cache.max_entries = static_cast<std::size_t>(std::max<std::int64_t>(0, cfg.get_int("cache.max_entries")));
  ro.read_cache.max_file_size = static_cast<std::size_t>(std::max<std::int64_t>(0, cfg.get_int("cache.max_file_size")));
  ro.accept_insecure_keeps = cfg.get_bool("keeps.accept_insecure");
  ro.default_steward = cfg.get_string("steward.default_url");
  ro.max_bytes_per_user = static_cast<std::uint64_t>(cfg.get_int("quota.max_bytes_per_user"));
  ro.max_tags_per_user = static_cast<std::uint64_t>(cfg.get_int("quota.max_tags_per_user"));
  if (!ro.default_steward.empty()) {
    drawbridge::validate_steward_url(ro.default_steward);
    log::info("drawbridge.default_steward", {{"url", ro.default_steward}});
  }
  if (ro.accept_insecure_keeps)
    log::warn("drawbridge.insecure_keeps_accepted",
              {{"detail", "keep certificates issued without hardware attestation (KVM, simulated platforms) "
                          "may read private repositories: development only"}});
  auto client_ca = cfg.get_string("tls.client_ca");
  if (!client_ca.empty()) ro.client_ca = Certificate::chain_from_pem(read_text_file(client_ca));
  for (const auto& crl_url : cfg.get_list("keeps.crl_url")) {
    require(!ro.client_ca.empty(), ErrorKind::kInvalidInput, "drawbridge.config.keep_crl",
            "keeps.crl_url needs tls.client_ca (the CRL must be signed by one of its certificates)");
    require(revocation::is_http_url(crl_url), ErrorKind::kInvalidInput, "drawbridge.config.keep_crl",
            "keeps.crl_url must be an http:// or https:// URL");
    revocation::CrlMonitorOptions mo;
    mo.url = crl_url;
    mo.issuers = ro.client_ca;
    mo.refresh = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("keeps.crl_refresh"));
    mo.grace = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("keeps.crl_grace"));
    mo.fetch.ca_file = cfg.get_string("keeps.crl_ca_file");
    mo.clock = clock;
    log::info("drawbridge.keep_crl", {{"url", crl_url}, {"refresh_seconds", static_cast<std::int64_t>(mo.refresh.count())},
                                      {"grace_seconds", static_cast<std::int64_t>(mo.grace.count())}});
    ro.keep_crls.push_back(std::make_shared<revocation::CrlMonitor>(std::move(mo)));
  }
  if (ro.keep_crls.empty() && !ro.client_ca.empty()) {
    log::warn("drawbridge.keep_crl_off",
              {{"detail", "keeps.crl_url is not set: revoked keep certificates are accepted until they expire"}});
  }

  auto sc = net::server_config_from(cfg);
  sc.server_header = "drawbridge";
  fs::path cert = cfg.get_string("tls.cert"), key = cfg.get_string("tls.key");
  if (sc.allow_plaintext) {
    log::warn("drawbridge.plain_http", {{"reason", "server.plain_http"}});
  } else {
    if (cert.empty() && cfg.get_bool("tls.self_signed")) std::tie(cert, key) = self_signed(data_dir);
    require(!cert.empty() && !key.empty(), ErrorKind::kInvalidInput, "drawbridge.config.tls",
            "TLS needs --cert and --key (or --self-signed-tls for development, or --insecure-plain-http behind a proxy)");
    auto tls = net::TlsServerConfig::from_files(cert, key, client_ca);
    if (!client_ca.empty()) tls.client_auth = net::ClientAuth::Optional;
    sc.tls = tls;
  }

  net::HttpServer server(sc);
  drawbridge::Registry registry(store, tokens, ro);
  registry.install(server);
  if (cfg.get_bool("web.enabled"))
    drawbridge::install_web_ui(server, registry, store, tokens, {.public_host = ro.public_host});
  // The first fetch before serving, so keeps are not refused for a CRL that is one request away;
  // a failure is logged and retried by the refresh thread (keeps grant nothing meanwhile).
  for (const auto& monitor : ro.keep_crls) {
    monitor->refresh();
    monitor->start();
  }
  // ---- garbage collection (periodic) ----
  std::unique_ptr<drawbridge::PeriodicGc> periodic_gc;
  if (const auto interval = cfg.get_duration("gc.interval"); interval.count() > 0) {
    periodic_gc = std::make_unique<drawbridge::PeriodicGc>(store, gc_options(cfg), interval);
    log::info("drawbridge.gc_scheduled", {{"interval_ms", static_cast<std::int64_t>(interval.count())}});
  }
  server.start();
  log::info("drawbridge.started", {{"address", sc.address}, {"port", server.port()}, {"store", store->describe()},
                                   {"tls", sc.tls.has_value()}});
  server.run();
  log::info("drawbridge.stopped");
  return 0;
}

int token(const config::Config& cfg, const std::string& subject, std::vector<std::string> scopes,
          const std::string& ttl_text) {
  auto issuer_name = cfg.get_string("auth.local_issuer");
  require(!issuer_name.empty(), ErrorKind::kInvalidInput, "drawbridge.config.issuer", "the local issuer is disabled");
  auto issuer = drawbridge::LocalIssuer::load_or_create(cfg.get_string("store.data_dir"), issuer_name,
                                                        cfg.get_string("auth.audience"));
  if (scopes.empty()) scopes = drawbridge::all_manage_scopes();
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(config::parse_duration(ttl_text, "--ttl"));
  std::cout << issuer.mint(subject, scopes, ttl, std::chrono::system_clock::now()) << "\n";
  return 0;
}

// ---- quotas and the registry audit log (docs/drawbridge.md "Quotas", "Registry audit log") ----

void declare_ops(config::Loader& l) {
  l.add({.name = "quota.max_bytes_per_user", .type = Type::Integer, .default_value = std::int64_t{0},
         .env = "DRAWBRIDGE_QUOTA_MAX_BYTES_PER_USER", .flag = "--quota-max-bytes-per-user",
         .help = "Bytes a user's repositories may hold: declared lengths of the stored nodes of their complete "
                 "and pending tags, not deduplicated (0 = unlimited)"});
  l.add({.name = "quota.max_tags_per_user", .type = Type::Integer, .default_value = std::int64_t{0},
         .env = "DRAWBRIDGE_QUOTA_MAX_TAGS_PER_USER", .flag = "--quota-max-tags-per-user",
         .help = "Complete and pending tags a user's repositories may hold (0 = unlimited)"});
}

// The configured store, as `serve` opens it, for the operator's commands.
std::shared_ptr<drawbridge::Store> open_configured_store(const config::Config& cfg) {
  fs::path data_dir = cfg.get_string("store.data_dir");
  auto kind = cfg.get_string("store.kind");
  if (kind == "sqlite") return drawbridge::open_sqlite_store(data_dir.string());
  if (kind == "postgres") {
    auto conninfo = cfg.get_string("store.postgres");
    require(!conninfo.empty(), ErrorKind::kInvalidInput, "drawbridge.config.postgres", "--store postgres needs --postgres <conninfo>");
    // A spool directory of its own: the server's data_dir/tmp is emptied at open.
    return drawbridge::open_postgres_store(conninfo, 1, fs::temp_directory_path());
  }
  throw Error(ErrorKind::kInvalidInput, "drawbridge.config.store", "unknown store kind '" + kind + "' (sqlite or postgres)");
}

struct AuditArgs {
  std::string user;
  std::int64_t after = 0;
  std::uint64_t limit = 0;  // 0 = all
  bool json = false;
};

// Reads the log a page at a time, so memory stays bounded however long it is. --json prints one
// object per line (the form GET <user>/_audit uses); otherwise one line per event.
int audit(const config::Config& cfg, const AuditArgs& a) {
  if (!a.user.empty()) identity::validate_user_name(a.user);
  auto store = open_configured_store(cfg);
  constexpr std::uint64_t kPage = 1000;
  std::int64_t after = a.after;
  std::uint64_t printed = 0;
  for (;;) {
    const auto want = a.limit == 0 ? kPage : std::min(kPage, a.limit - printed);
    if (want == 0) break;
    const auto page = store->read_audit(a.user.empty() ? std::nullopt : std::optional<std::string_view>(a.user), after,
                                        static_cast<std::size_t>(want));
    for (const auto& r : page) {
      if (a.json) {
        std::cout << drawbridge::audit_record_json(r).dump() << "\n";
      } else {
        const auto& e = r.event;
        std::string what = e.user;
        if (!e.repo.empty()) what += "/" + e.repo;
        if (!e.tag.empty()) what += ":" + e.tag;
        std::cout << r.seq << "  " << e.at << "  " << e.action << "  " << what << "  by "
                  << (e.actor_subject.empty() ? std::string("-") : e.actor_issuer + " " + e.actor_subject)
                  << (e.detail.empty() ? std::string() : "  (" + e.detail + ")") << "\n";
      }
      after = r.seq;
      ++printed;
    }
    if (page.size() < want) break;
  }
  return 0;
}

// ---- garbage collection (command) ----
// Beside a running server on the same store: the embedded store is opened without clearing
// tmp/ (the server's uploads in flight), PostgreSQL without a spool directory of its own.
int gc(const config::Config& cfg, bool json) {
  auto kind = cfg.get_string("store.kind");
  std::unique_ptr<drawbridge::Store> store;
  if (kind == "sqlite") {
    const auto dir = cfg.get_string("store.data_dir");
    require(fs::exists(fs::path(dir) / "meta.sqlite3"), ErrorKind::kInvalidInput, "drawbridge.config.data_dir",
            "no drawbridge store in " + dir);
    store = drawbridge::open_sqlite_store_shared(dir);
  } else if (kind == "postgres") {
    auto conninfo = cfg.get_string("store.postgres");
    require(!conninfo.empty(), ErrorKind::kInvalidInput, "drawbridge.config.postgres", "--store postgres needs --postgres <conninfo>");
    store = drawbridge::open_postgres_store(conninfo, 2);
  } else {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.config.store", "unknown store kind '" + kind + "' (sqlite or postgres)");
  }
  auto o = gc_options(cfg);
  o.dry_run = cfg.get_bool("gc.dry_run");
  if (o.dry_run && !json) {
    // What would go, one line each, as it is found (nothing is collected in memory).
    o.on_expired_tag = [](const drawbridge::GcExpiredTag& t) {
      std::cout << "pending tag " << t.user << "/" << t.repo << ":" << t.tag << "\n";
    };
    o.on_blob = [](const drawbridge::GcBlob& b) { std::cout << "blob " << b.key << " " << b.bytes << "\n"; };
  }
  const auto r = store->collect_garbage(o);
  if (json) {
    std::cout << drawbridge::gc_report_json(r) << "\n";
  } else {
    std::cout << (r.dry_run ? "would free " : "freed ") << r.blobs << " blobs (" << r.bytes << " bytes) and "
              << r.expired_tags << " expired pending tags\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"drawbridge: the Enarx workload registry (Drawbridge API v0.1.0 compatible)"};
  app.set_version_flag("--version", std::string("drawbridge ") + ENARX_VERSION);
  app.require_subcommand(1);

  std::string config_file;
  auto* serve_cmd = app.add_subcommand("serve", "Run the registry server");
  serve_cmd->add_option("-c,--config", config_file, "TOML configuration file");
  config::Loader serve_loader;
  declare_common(serve_loader);
  declare_serve(serve_loader);
  declare_gc(serve_loader);
  declare_ops(serve_loader);
  serve_loader.bind(*serve_cmd);

  std::string subject, ttl = "1h";
  std::vector<std::string> scopes;
  auto* token_cmd = app.add_subcommand("token", "Mint a bearer token from the local issuer (embedded quick start)");
  token_cmd->add_option("-c,--config", config_file, "TOML configuration file");
  token_cmd->add_option("--subject", subject, "Token subject (`sub`), e.g. the user's name")->required();
  token_cmd->add_option("--scope", scopes, "Scopes (repeatable; default: manage on users, repositories and tags)");
  token_cmd->add_option("--ttl", ttl, "Lifetime: 90s, 15m, 1h, 720h")->capture_default_str();
  std::string token_data_dir;
  token_cmd->add_option("--data-dir", token_data_dir, "Data directory holding the issuer key");
  // Same keys as `serve`, so one configuration file serves both; only --data-dir is a flag.
  config::Loader token_loader;
  declare_common(token_loader);
  declare_serve(token_loader);
  declare_gc(token_loader);
  declare_ops(token_loader);

  // The registry audit log, for the operator (reads the store directly).
  AuditArgs audit_args;
  std::string audit_data_dir;
  auto* audit_cmd = app.add_subcommand("audit", "Print the registry audit log (publishes, yanks, deletes, sharing)");
  audit_cmd->add_option("-c,--config", config_file, "TOML configuration file");
  audit_cmd->add_option("--data-dir", audit_data_dir, "Data directory of the embedded store");
  audit_cmd->add_option("--user", audit_args.user, "Only events of this user's repositories");
  audit_cmd->add_option("--after", audit_args.after, "Only events after this seq")->check(CLI::NonNegativeNumber);
  audit_cmd->add_option("--limit", audit_args.limit, "At most this many events (default: all)");
  audit_cmd->add_flag("--json", audit_args.json, "One JSON object per line");
  config::Loader audit_loader;
  declare_common(audit_loader);
  declare_serve(audit_loader);
  declare_ops(audit_loader);

  // Backup, restore, verify-store (apps/drawbridge/maintenance.cc).
  drawbridge::cli::MaintenanceCommands maintenance(app);

  // ---- garbage collection (command line) ----
  auto* gc_cmd = app.add_subcommand("gc", "Delete blobs no tag references and expired pending tags");
  gc_cmd->add_option("-c,--config", config_file, "TOML configuration file");
  std::string gc_data_dir, gc_store, gc_postgres, gc_pending_ttl, gc_min_blob_age;
  bool gc_dry_run = false, gc_json = false;
  gc_cmd->add_option("--data-dir", gc_data_dir, "Data directory (embedded store)");
  gc_cmd->add_option("--store", gc_store, "sqlite (embedded) or postgres");
  gc_cmd->add_option("--postgres", gc_postgres, "libpq connection string");
  gc_cmd->add_option("--pending-ttl", gc_pending_ttl, "Drop pending tags untouched this long (default 168h)");
  gc_cmd->add_option("--min-blob-age", gc_min_blob_age, "Embedded store: keep blob files younger than this (default 1h)");
  gc_cmd->add_flag("--dry-run", gc_dry_run, "Change nothing; list what would be freed");
  gc_cmd->add_flag("--json", gc_json, "Print the report as one JSON object");
  config::Loader gc_loader;
  declare_common(gc_loader);
  declare_serve(gc_loader);
  declare_gc(gc_loader);
  gc_loader.add({.name = "gc.dry_run", .type = Type::Boolean, .default_value = false, .help = "(gc command) change nothing"});

  CLI11_PARSE(app, argc, argv);
  if (maintenance.parsed()) return maintenance.run();
  try {
    std::optional<fs::path> file;
    if (!config_file.empty()) file = config_file;
    if (serve_cmd->parsed()) return serve(serve_loader.load(file));
    if (!token_data_dir.empty()) token_loader.set_flag_value("store.data_dir", token_data_dir);
    if (token_cmd->parsed()) return token(token_loader.load(file), subject, scopes, ttl);
    if (!audit_data_dir.empty()) audit_loader.set_flag_value("store.data_dir", audit_data_dir);
    if (audit_cmd->parsed()) return audit(audit_loader.load(file), audit_args);
    if (gc_cmd->parsed()) {
      for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"store.data_dir", gc_data_dir},
                                       {"store.kind", gc_store},
                                       {"store.postgres", gc_postgres},
                                       {"gc.pending_ttl", gc_pending_ttl},
                                       {"gc.min_blob_age", gc_min_blob_age}})
        if (!value.empty()) gc_loader.set_flag_value(key, value);
      if (gc_dry_run) gc_loader.set_flag_value("gc.dry_run", "true");
      return gc(gc_loader.load(file), gc_json);
    }
  } catch (const Error& e) {
    std::cerr << "drawbridge: " << e.describe() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "drawbridge: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
