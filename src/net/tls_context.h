// Internal (src/net only): OpenSSL server contexts for HttpServer. Includes Boost.Asio SSL, so
// keep it out of public headers.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <vector>

#include "core/bytes.h"
#include "net/tls.h"

namespace enarx::net {

// Builds the server context: certificate chain + key, TLS >= 1.2 (or 1.3 only), client
// certificate verification against client_ca_pem per client_auth. Throws Error with codes
// tls.bad_certificate, tls.bad_key, tls.key_mismatch, tls.bad_ca.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsServerConfig& config);

// The peer chain OpenSSL verified during the handshake (DER, leaf first); empty when the
// client sent no certificate.
std::vector<Bytes> verified_peer_chain(SSL* ssl);

}  // namespace enarx::net
