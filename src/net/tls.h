// TLS settings for the HTTP server (OpenSSL via Boost.Asio's ssl::context; see tls.cc).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace enarx::net {

enum class ClientAuth {
  None,      // never ask for a client certificate
  Optional,  // ask; a presented certificate must verify against client_ca_pem, none is fine
  Required,  // ask; the handshake fails without a certificate that verifies
};

struct TlsServerConfig {
  // PEM: the server certificate first, then intermediates (the chain sent to clients).
  std::string cert_chain_pem{};
  // PEM private key (PKCS#8, SEC1 or PKCS#1). A secret: never logged.
  std::string key_pem{};
  // PEM bundle of CA certificates trusted for client certificates (needed unless
  // client_auth == None). Only these are trusted: no system store.
  std::string client_ca_pem{};
  ClientAuth client_auth = ClientAuth::None;
  // TLS 1.2 is the minimum; set to refuse 1.2 as well.
  bool tls13_only = false;
  // Maximum client chain depth accepted (intermediates between leaf and CA).
  int verify_depth = 4;

  // Reads cert_chain_pem / key_pem (and client_ca_pem when `client_ca_file` is not empty) from
  // files. Throws Error("io.read") naming the file.
  static TlsServerConfig from_files(const std::filesystem::path& cert_chain_file,
                                    const std::filesystem::path& key_file,
                                    const std::filesystem::path& client_ca_file = {});
};

// Server-level check of a verified client chain (DER, leaf first, ending with the trust anchor),
// called once per connection right after the handshake. Return false (or throw) to reject: the
// connection is closed without reading a request. Not called when the client sent no
// certificate (ClientAuth::Optional).
using PeerVerifier = std::function<bool(const std::vector<Bytes>& chain_der)>;

}  // namespace enarx::net
