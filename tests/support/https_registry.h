// A real drawbridge registry for tests that talk to one over the network: the library's
// Registry over a given store, on an HttpServer on 127.0.0.1 (an ephemeral port) with TLS from a
// CA of its own, accepting tokens of one local issuer. With RegistryOptions::client_ca set, the
// handshake asks for a client certificate (optional; one presented must chain to client_ca), so
// keep certificates reach the registry as they do in drawbridge's service.
#pragma once

#include <memory>
#include <string>

#include "drawbridge/auth.h"
#include "drawbridge/registry.h"
#include "drawbridge/store.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "support/pki.h"

namespace enarx::support {

class HttpsRegistry {
 public:
  // Lookups are not rate limited unless `options` says so.
  static drawbridge::RegistryOptions unlimited() {
    drawbridge::RegistryOptions o;
    o.lookup_rate = 0;
    return o;
  }

  HttpsRegistry(std::shared_ptr<drawbridge::Store> store, const drawbridge::LocalIssuer& issuer,
                drawbridge::RegistryOptions options = unlimited());
  ~HttpsRegistry();
  HttpsRegistry(const HttpsRegistry&) = delete;
  HttpsRegistry& operator=(const HttpsRegistry&) = delete;

  std::string host() const;     // "127.0.0.1:<port>", as a slug's host
  std::string api_url() const;  // "https://127.0.0.1:<port>/api/v0.1.0"
  std::string ca_pem() const { return ca_.cert.to_pem(); }
  // Trusts the registry's CA; no retries.
  net::ClientOptions client_options() const;
  void stop();

 private:
  Issued ca_, server_;
  std::unique_ptr<drawbridge::Registry> registry_;
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace enarx::support
