#include "steward/service.h"

#include <csignal>
#include <iostream>

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "net/http_server.h"
#include "net/server_keys.h"
#include "steward/server.h"
#include "steward/reevaluate.h"
#include "steward/status_service.h"
#include "steward/steward.h"

namespace enarx::steward {
namespace {

std::atomic<AuditLog*> g_audit{nullptr};

extern "C" void on_sighup(int) {
  if (AuditLog* a = g_audit.load()) a->request_reopen();
}

// A postgresql:// URL may carry a password; logs get the URL without it.
std::string redact_url(const std::string& location) {
  const auto scheme = location.find("://");
  const auto at = location.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return location;
  return location.substr(0, scheme + 3) + "***" + location.substr(at);
}

}  // namespace

net::TlsServerConfig development_https(const std::filesystem::path& state_dir,
                                     const std::string& ca_common_name,
                                     const std::vector<std::string>& hostnames,
                                     const Clock& clock) {
  CertificateAuthority::GeneratedInfo info;
  const auto tls_ca = CertificateAuthority::load_or_generate(
      state_dir / "tls", clock, ca_common_name + " HTTPS (development)",
      std::chrono::hours(24 * 365 * 10), &info);
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  for (const auto& h : hostnames) {
    bool ip = !h.empty() &&
              (std::isdigit(static_cast<unsigned char>(h[0])) || h.find(':') != std::string::npos);
    (ip ? sans.ips : sans.dns).push_back(h);
  }
  const auto now = clock.now();
  auto cert =
      CertificateBuilder()
          .subject({{"CN", hostnames.empty() ? "steward" : hostnames.front()}})
          .public_key(key.public_key())
          .validity(now - std::chrono::minutes(5),
                    std::min(now + std::chrono::hours(24 * 90), tls_ca.certificate().not_after()))
          .ca(false)
          .key_usage({"digitalSignature"})
          .extended_key_usage({"serverAuth"})
          .subject_alt_names(sans)
          .sign(tls_ca.key(), &tls_ca.certificate());
  log::info("steward.tls_self_issued",
            {{"detail", "no --tls-cert: serving HTTPS with a development certificate from a "
                        "separate HTTPS CA (not the keep CA); clients trust it with "
                        "--steward-ca"},
             {"https_ca", info.cert_path.string()}});
  net::TlsServerConfig tls;
  tls.cert_chain_pem = cert.to_pem() + tls_ca.certificate().to_pem();
  tls.key_pem = key.to_pem_pkcs8();
  return tls;
}


std::string public_url(const config::Config& cfg, std::uint16_t port, bool tls) {
  if (auto url = cfg.find_string("server.public_url")) return *url;
  // Plain HTTP means behind a TLS-terminating proxy, which is exactly when --public-url should
  // be given; the default then says what steward itself serves.
  const auto hosts = cfg.get_list("server.hostnames");
  std::string host = hosts.empty() ? std::string("localhost") : hosts.front();
  if (host.find(':') != std::string::npos && !host.starts_with("[")) host = "[" + host + "]";
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

void refuse_keep_ca_https(const net::TlsServerConfig& tls, const CertificateAuthority& ca) {
  const auto chain = Certificate::chain_from_pem(tls.cert_chain_pem);
  require(!chain.empty(), ErrorKind::kInvalidInput, "steward.tls.no_certificate", "the --tls-cert file holds no certificate");
  for (const auto& c : chain) {
    const bool is_keep_ca = c == ca.certificate();
    const bool issued_by_keep_ca = c.issuer() == ca.certificate().subject() &&
                                   c.signed_by(ca.certificate().public_key());
    require(!is_keep_ca && !issued_by_keep_ca, ErrorKind::kInvalidInput, "steward.tls.keep_ca",
            "the HTTPS certificate (" + c.subject() +
                ") is issued by the CA that signs keep identities; use a certificate from "
                "another CA, or none (a separate development HTTPS CA is generated)");
  }
}

void declare_config(config::Loader& l) {
  using config::Type;
  // A bundle of 64 CSRs with SNP evidence is ~211 KB; 512 KiB leaves room without letting each
  // unauthenticated connection hold megabytes.
  // Workers: issuance is CPU-bound but for the index's durable commit, which its worker waits
  // for (a disk flush: ~4 ms on our virtio disks). With more workers than cores, others compute
  // meanwhile and the waiting ones share the next commit (group commit); 8 keeps two cores busy
  // through such a flush (bench/steward_bench, "concurrent index cost").
  net::declare_server_keys(l, {.env_prefix = "STEWARD_",
                               .address = "127.0.0.1",
                               .port = 3000,
                               .workers = 8,
                               .io_threads = 1,
                               .max_body_size = 512u << 10,
                               .address_flag = "-a,--addr,--address",
                               .address_env = "STEWARD_ADDR",
                               .port_flag = "-p,--port"});
  l.add({.name = "server.hostnames",
         .type = Type::StringList,
         .default_value = std::vector<std::string>{"localhost", "127.0.0.1"},
         .env = "STEWARD_HOSTNAMES",
         .flag = "--host",
         .help = "Names for the self-issued TLS certificate (when --tls-cert is not given)"});
  l.add({.name = "server.public_url",
         .type = Type::String,
         .env = "STEWARD_PUBLIC_URL",
         .flag = "--public-url",
         .help = "Steward's URL as keeps and relying parties reach it, recorded in every "
                 "certificate's claims (\"steward\"); default https://<first --host>:<port>"});
  l.add({.name = "tls.cert",
         .type = Type::String,
         .env = "STEWARD_TLS_CERT",
         .flag = "--tls-cert",
         .help = "PEM certificate chain for HTTPS"});
  l.add({.name = "tls.key",
         .type = Type::String,
         .env = "STEWARD_TLS_KEY",
         .flag = "--tls-key",
         .help = "PEM private key for HTTPS",
         .secret = true});
  l.add({.name = "ca.key",
         .type = Type::String,
         .env = "STEWARD_KEY",
         .flag = "-k,--key",
         .help = "CA private key: a PEM file, or a pkcs11: URI of a key in an HSM (used "
                 "there through OpenSSL's pkcs11 provider; never read); with --crt: steward "
                 "runs as this (intermediate) CA",
         .secret = true});
  l.add({.name = "ca.key_pin_file",
         .type = Type::String,
         .env = "STEWARD_KEY_PIN_FILE",
         .flag = "--key-pin-file",
         .help = "With a pkcs11: --key: file holding the token's user PIN (first line; not "
                 "readable by others), unless the URI has pin-source=file:..."});
  l.add({.name = "ca.pkcs11_module",
         .type = Type::String,
         .env = "STEWARD_PKCS11_MODULE",
         .flag = "--pkcs11-module",
         .help = "With a pkcs11: --key: the token's PKCS#11 library (e.g. the HSM vendor's "
                 ".so); default the URI's module-path, else the provider's (p11-kit proxy)"});
  l.add({.name = "ca.pkcs11_provider",
         .type = Type::String,
         .env = "STEWARD_PKCS11_PROVIDER",
         .flag = "--pkcs11-provider",
         .help = "With a pkcs11: --key: the OpenSSL pkcs11-provider module; default pkcs11.so "
                 "in OpenSSL's modules directory"});
  l.add({.name = "ca.crt",
         .type = Type::String,
         .env = "STEWARD_CRT",
         .flag = "-c,--crt",
         .help = "CA certificate chain (PEM, steward's CA first, then its issuers)"});
  l.add({.name = "ca.state_dir",
         .type = Type::String,
         .default_value = std::string("/var/lib/steward"),
         .env = "STEWARD_STATE_DIR",
         .flag = "--state-dir",
         .help = "Where the embedded CA key/certificate live"});
  l.add({.name = "ca.common_name",
         .type = Type::String,
         .default_value = std::string("Steward CA"),
         .env = "STEWARD_CA_NAME",
         .flag = "--ca-name",
         .help = "Subject CN of a newly generated embedded CA"});
  l.add({.name = "policy.file",
         .type = Type::String,
         .env = "STEWARD_POLICY",
         .flag = "--policy",
         .help = "Policy TOML ([snp] [sgx] [tdx] [issuance] [simulated]); default: the "
                 "policy tables of the --config file"});
  l.add({.name = "policy.allow_insecure",
         .type = Type::Boolean,
         .default_value = false,
         .env = "STEWARD_ALLOW_INSECURE",
         .flag = "--allow-insecure",
         .help = "Issue for KVM / simulated evidence (marked INSECURE); never in production"});
  l.add({.name = "policy.san",
         .type = Type::StringList,
         .env = "STEWARD_SAN",
         .flag = "--san",
         .help = "Extra DNS SAN for every issued certificate (Enarx --san)"});
  l.add({.name = "audit.file",
         .type = Type::String,
         .env = "STEWARD_AUDIT_LOG",
         .flag = "--audit-log",
         .help = "Audit log (JSON lines); default <state-dir>/audit.log"});
  l.add({.name = "audit.max_size",
         .type = Type::Integer,
         .default_value = std::int64_t{100 << 20},
         .env = "STEWARD_AUDIT_MAX_SIZE",
         .flag = "--audit-max-size",
         .help = "Rotate the audit log past this size (0 = never)"});
  l.add({.name = "index.location",
         .type = Type::String,
         .env = "STEWARD_INDEX",
         .flag = "--index",
         .help = "Issued-certificate index: a SQLite file (default <state-dir>/index.sqlite3) or a "
                 "postgresql:// URL shared by every replica"});
  l.add({.name = "revocation.crl_validity",
         .type = Type::Duration,
         .default_value = config::Duration(std::chrono::hours(24)),
         .env = "STEWARD_CRL_VALIDITY",
         .flag = "--crl-validity",
         .help = "CRL nextUpdate - thisUpdate"});
  l.add({.name = "revocation.crl_refresh",
         .type = Type::Duration,
         .default_value = config::Duration(std::chrono::hours(1)),
         .env = "STEWARD_CRL_REFRESH",
         .flag = "--crl-refresh",
         .help = "Rebuild the CRL once it is this old (and at once after a revocation)"});
  l.add({.name = "revocation.ocsp_validity",
         .type = Type::Duration,
         .default_value = config::Duration(std::chrono::hours(1)),
         .env = "STEWARD_OCSP_VALIDITY",
         .flag = "--ocsp-validity",
         .help = "OCSP answer nextUpdate - thisUpdate"});
  l.add({.name = "index.retention",
         .type = Type::Duration,
         .default_value = config::Duration(std::chrono::hours(24 * 90)),
         .env = "STEWARD_INDEX_RETENTION",
         .flag = "--index-retention",
         .help = "Delete index rows of certificates expired longer ago than this (checked every "
                 "revocation.reevaluate_interval); 0 keeps them"});
  l.add({.name = "revocation.reevaluate_interval",
         .type = Type::Duration,
         .default_value = config::Duration(std::chrono::minutes(5)),
         .env = "STEWARD_REEVALUATE_INTERVAL",
         .flag = "--reevaluate-interval",
         .help = "How often the collateral caches are checked for changes; a change re-evaluates "
                 "every unexpired certificate and revokes those whose platform no longer passes "
                 "(0 = never)"});
  l.add({.name = "log.level",
         .type = Type::String,
         .default_value = std::string("info"),
         .env = "ENARX_LOG",
         .flag = "--log-level",
         .help = "trace|debug|info|warn|error"});
  l.add({.name = "log.format",
         .type = Type::String,
         .default_value = std::string("auto"),
         .env = "ENARX_LOG_FORMAT",
         .flag = "--log-format",
         .help = "auto|human|json"});
  for (const char* t : {"snp", "sgx", "tdx", "issuance", "simulated", "identity", "registry"})
    l.ignore_table(t);
}

Policy load_policy(const config::Config& cfg, const std::optional<std::filesystem::path>& config_file) {
  // Policy: --policy file, else the policy tables of the configuration file.
  Policy policy = Policy::parse("");
  if (auto p = cfg.find_string("policy.file")) {
    policy = Policy::load(*p);
  } else if (config_file) {
    policy = Policy::load(*config_file, /*tolerate_server_tables=*/true);
  }
  policy.apply_overrides(cfg.get_bool("policy.allow_insecure"),
                         cfg.has("policy.san") ? cfg.get_list("policy.san")
                                               : std::vector<std::string>{});
  return policy;
}

std::string index_location(const config::Config& cfg) {
  return cfg.find_string("index.location")
      .value_or((std::filesystem::path(cfg.get_string("ca.state_dir")) / "index.sqlite3").string());
}

int run_service(const config::Config& cfg,
                const std::optional<std::filesystem::path>& config_file) {
  try {
    log::Options lo;
    lo.level = log::parse_level(cfg.get_string("log.level"));
    lo.format = log::parse_format(cfg.get_string("log.format"));
    log::configure(lo);
    config::warn_renamed(cfg);

    Policy policy = load_policy(cfg, config_file);
    if (policy.issuance.allow_insecure) {
      log::warn("steward.insecure_mode",
                {{"detail",
                  "allow_insecure is set: KVM / simulated evidence will be certified "
                  "(certificates are marked O=INSECURE). Never use in production."}});
    }
    for (const auto& rule : policy.registry.rules)
      log::info("steward.registry_check", {{"platform", rule.platform},
                                           {"measurement", rule.measurement.empty() ? "*" : rule.measurement},
                                           {"allowed_signers", rule.allowed_signers.size()}});
    if (policy.identity.any_measurement) {
      log::warn("steward.any_measurement",
                {{"detail",
                  "identity.any_measurement is set: workload names are certified for runtimes in "
                  "no allow-list (such certificates are marked O=INSECURE). Never use in production."}});
    }

    // CA.
    const std::filesystem::path state_dir = cfg.get_string("ca.state_dir");
    std::optional<CertificateAuthority> ca;
    if (cfg.has("ca.key") || cfg.has("ca.crt")) {
      if (!cfg.has("ca.key") || !cfg.has("ca.crt"))
        throw Error(ErrorKind::kInvalidInput, "steward.config", "--key and --crt go together");
      const std::string key = cfg.get_string("ca.key");
      if (is_pkcs11_uri(key)) {
        KeyUriOptions ko;
        if (auto v = cfg.find_string("ca.pkcs11_provider")) ko.provider_module = *v;
        if (auto v = cfg.find_string("ca.pkcs11_module")) ko.pkcs11_module = *v;
        if (auto v = cfg.find_string("ca.key_pin_file")) ko.pin_file = *v;
        ca.emplace(CertificateAuthority::from_uri(key, cfg.get_string("ca.crt"), ko));
        // The URI is shown without pin-value; the PIN itself is never logged.
        log::info("steward.ca_loaded", {{"key_store", "pkcs11"},
                                        {"key", redact_pkcs11_uri(key)},
                                        {"pkcs11_provider", pkcs11_provider_path(ko).string()},
                                        {"pkcs11_module", ko.pkcs11_module.empty()
                                                              ? std::string("(URI or provider default)")
                                                              : ko.pkcs11_module.string()},
                                        {"subject", ca->certificate().subject()},
                                        {"chain_length", ca->chain_leaf_first().size()}});
      } else {
        require(!cfg.has("ca.key_pin_file") && !cfg.has("ca.pkcs11_module"),
                ErrorKind::kInvalidInput, "steward.config",
                "--key-pin-file and --pkcs11-module apply to a pkcs11: --key only");
        ca.emplace(CertificateAuthority::from_files(key, cfg.get_string("ca.crt")));
        log::info("steward.ca_loaded", {{"key_store", "file"},
                                        {"subject", ca->certificate().subject()},
                                        {"chain_length", ca->chain_leaf_first().size()}});
      }
    } else {
      CertificateAuthority::GeneratedInfo info;
      ca.emplace(CertificateAuthority::load_or_generate(state_dir, *system_clock(),
                                                        cfg.get_string("ca.common_name"),
                                                        std::chrono::hours(24 * 365 * 10), &info));
      log::info(
          info.created ? "steward.ca_generated" : "steward.ca_loaded",
          {{"key_store", "file"},
           {"certificate", info.cert_path.string()}, {"subject", ca->certificate().subject()}});
    }
    std::cout << "steward CA certificate SHA-256 fingerprint: " << ca->fingerprint() << std::endl;

    StewardLimits limits;
    limits.max_body_size = static_cast<std::size_t>(cfg.get_int("server.max_body_size"));
    Steward steward(std::move(*ca), std::move(policy), system_clock(), limits);
    register_default_verifiers(steward);
    if (const auto* checker = steward.registry_checker()) checker->check_token_files();
    log::info("steward.platforms", {{"enabled",
                                     [&] {
                                       std::string s;
                                       for (const auto& p : steward.platforms())
                                         s += (s.empty() ? "" : ",") + p;
                                       return s;
                                     }()},
                                    {"policy_sha256", steward.policy().digest}});

    std::filesystem::path audit_path =
        cfg.find_string("audit.file").value_or((state_dir / "audit.log").string());
    if (audit_path.has_parent_path()) std::filesystem::create_directories(audit_path.parent_path());
    auto audit = std::make_shared<AuditLog>(
        audit_path, static_cast<std::uint64_t>(cfg.get_int("audit.max_size")), system_clock());
    steward.set_audit_log(audit);
    g_audit.store(audit.get());
    std::signal(SIGHUP, on_sighup);

    auto sc = net::server_config_from(cfg);
    sc.server_header = "steward";
    if (sc.allow_plaintext) {
      log::warn("steward.plain_http",
                {{"detail", "serving plain HTTP: only behind a TLS-terminating proxy"}});
    } else if (cfg.has("tls.cert") || cfg.has("tls.key")) {
      sc.tls =
          net::TlsServerConfig::from_files(cfg.get_string("tls.cert"), cfg.get_string("tls.key"));
      refuse_keep_ca_https(*sc.tls, steward.ca());
    } else {
      sc.tls = development_https(state_dir, cfg.get_string("ca.common_name"),
                               cfg.get_list("server.hostnames"), *system_clock());
    }

    // The index: every certificate issued, its revocation, the CRL and the shared audit trail.
    const std::string where = index_location(cfg);
    auto index = open_cert_index(where);
    steward.set_cert_index(index);
    log::info("steward.index", {{"location", redact_url(where)},
                                {"certificates", index->count_issued()}});
    StatusOptions so;
    so.crl_validity = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("revocation.crl_validity"));
    so.crl_refresh = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("revocation.crl_refresh"));
    so.ocsp_validity = std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("revocation.ocsp_validity"));
    StatusService status(index, steward.ca(), system_clock(), so);
    status.refresh_crl();
    // The distribution points go into certificates only for an explicitly configured public
    // URL: a guessed https://localhost would send relying parties nowhere.
    if (auto url = cfg.find_string("server.public_url")) {
      std::string base = *url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      steward.set_revocation_urls(base + "/crl", base + "/ocsp");
      log::info("steward.revocation_urls", {{"crl", base + "/crl"}, {"ocsp", base + "/ocsp"}});
    } else {
      log::warn("steward.no_revocation_urls",
                {{"detail", "no server.public_url: issued certificates name no CRL distribution "
                            "point or OCSP responder, so relying parties cannot find their status"}});
    }
    CollateralWatch watch(steward.cert_index(), steward.policy(), status, audit.get(),
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              cfg.get_duration("revocation.reevaluate_interval")));
    watch.set_retention(std::chrono::duration_cast<std::chrono::seconds>(cfg.get_duration("index.retention")));

    net::HttpServer server(sc);
    install_routes(server, steward, limits.max_body_size, &status);
    steward.set_public_url(public_url(cfg, sc.port, sc.tls.has_value()));
    server.start();
    watch.start();
    // An ephemeral port is known only now (the URL is read under a lock; nothing is issued in
    // between in practice).
    if (sc.port == 0) steward.set_public_url(public_url(cfg, server.port(), sc.tls.has_value()));
    log::info("steward.public_url", {{"url", steward.public_url()}});
    log::info("steward.listening",
              {{"address", sc.address}, {"port", server.port()}, {"tls", sc.tls.has_value()}});
    server.run();
    watch.stop();
    g_audit.store(nullptr);
    log::info("steward.stopped");
    return 0;
  } catch (const Error& e) {
    log::error("steward.startup_failed", {{"code", e.code()}, {"error", e.what()}});
    std::cerr << "steward: " << e.describe() << std::endl;
    g_audit.store(nullptr);
    return 1;
  }
}

}  // namespace enarx::steward
