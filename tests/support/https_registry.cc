#include "support/https_registry.h"

namespace enarx::support {

HttpsRegistry::HttpsRegistry(std::shared_ptr<drawbridge::Store> store, const drawbridge::LocalIssuer& issuer,
                             drawbridge::RegistryOptions options) {
  ca_ = issue("registry test CA", nullptr, {.ca = true});
  SubjectAltNames sans;
  sans.ips = {"127.0.0.1"};
  sans.dns = {"localhost"};
  server_ = issue("localhost", &ca_, {.eku = {"serverAuth"}, .sans = sans});
  auto tokens = std::make_shared<drawbridge::TokenVerifier>(system_clock());
  tokens->add_issuer(issuer.issuer_config());
  // Keep client certificates reach the registry only when the handshake asks for them.
  std::string client_ca_pem;
  for (const auto& ca : options.client_ca) client_ca_pem += ca.to_pem();
  registry_ = std::make_unique<drawbridge::Registry>(std::move(store), tokens, std::move(options));
  net::ServerConfig sc;
  sc.address = "127.0.0.1";
  sc.port = 0;
  sc.access_log = false;
  net::TlsServerConfig tls;
  tls.cert_chain_pem = server_.cert.to_pem() + ca_.cert.to_pem();
  tls.key_pem = server_.key.to_pem_pkcs8();
  if (!client_ca_pem.empty()) {
    tls.client_ca_pem = client_ca_pem;
    tls.client_auth = net::ClientAuth::Optional;
  }
  sc.tls = tls;
  http_ = std::make_unique<net::HttpServer>(sc);
  registry_->install(*http_);
  http_->start();
}

HttpsRegistry::~HttpsRegistry() { stop(); }

void HttpsRegistry::stop() {
  if (http_) http_->stop();
}

std::string HttpsRegistry::host() const { return "127.0.0.1:" + std::to_string(http_->port()); }

std::string HttpsRegistry::api_url() const { return "https://" + host() + "/api/v0.1.0"; }

net::ClientOptions HttpsRegistry::client_options() const {
  net::ClientOptions o;
  o.tls.ca_pem = ca_pem();
  o.max_retries = 0;
  return o;
}

}  // namespace enarx::support
