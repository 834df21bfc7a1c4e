#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "core/file.h"
#include "core/openssl.h"
#include "net/tls_context.h"

namespace enarx::net {
namespace ssl = boost::asio::ssl;

namespace {

// Every certificate in a PEM bundle; throws `code` if there is none or one is malformed.
std::vector<ossl::X509Ptr> read_pem_certs(std::string_view pem, std::string_view code,
                                          std::string_view what) {
  std::vector<ossl::X509Ptr> out;
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  while (true) {
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      const unsigned long err = ERR_peek_last_error();
      if (!out.empty() && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      ossl::throw_error(ErrorKind::kInvalidInput, code, std::string("cannot parse ") + std::string(what));
    }
    out.push_back(std::move(cert));
  }
  return out;
}

}  // namespace

TlsServerConfig TlsServerConfig::from_files(const std::filesystem::path& cert_chain_file,
                                            const std::filesystem::path& key_file,
                                            const std::filesystem::path& client_ca_file) {
  TlsServerConfig c;
  c.cert_chain_pem = read_text_file(cert_chain_file, 1u << 20);
  c.key_pem = read_text_file(key_file, 1u << 20);
  if (!client_ca_file.empty()) c.client_ca_pem = read_text_file(client_ca_file, 4u << 20);
  return c;
}

std::shared_ptr<ssl::context> make_server_tls_context(const TlsServerConfig& config) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, config.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Forward-secret AEAD suites only for TLS 1.2 (1.3 suites are all fine).
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");

  auto chain = read_pem_certs(config.cert_chain_pem, "tls.bad_certificate",
                              "the server certificate chain");
  ossl::check(SSL_CTX_use_certificate(native, chain[0].get()) == 1, ErrorKind::kInvalidInput, "tls.bad_certificate",
              "cannot use the server certificate");
  for (std::size_t i = 1; i < chain.size(); ++i) {
    // add0 takes ownership on success.
    ossl::check(SSL_CTX_add0_chain_cert(native, chain[i].get()) == 1, ErrorKind::kInvalidInput, "tls.bad_certificate",
                "cannot add an intermediate certificate");
    (void)chain[i].release();
  }

  {
    auto bio = ossl::memory_bio(config.key_pem.data(), config.key_pem.size());
    ossl::PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    // Never echo the key material: only OpenSSL's reason goes into the message.
    if (!key) ossl::throw_error(ErrorKind::kInvalidInput, "tls.bad_key", "cannot parse the server private key");
    // The key parsed, so a failure here is (in practice) a key that does not match the cert.
    ossl::check(SSL_CTX_use_PrivateKey(native, key.get()) == 1, ErrorKind::kInvalidInput, "tls.key_mismatch",
                "cannot use the server private key");
  }
  ossl::check(SSL_CTX_check_private_key(native) == 1, ErrorKind::kInvalidInput, "tls.key_mismatch",
              "the server private key does not match its certificate");

  if (config.client_auth != ClientAuth::None) {
    if (config.client_ca_pem.empty()) {
      throw Error(ErrorKind::kInvalidInput, "tls.bad_ca", "client certificates are enabled but no client CA is configured");
    }
    auto cas = read_pem_certs(config.client_ca_pem, "tls.bad_ca", "the client CA bundle");
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    for (auto& ca : cas) {
      ossl::check(X509_STORE_add_cert(store, ca.get()) == 1, ErrorKind::kInvalidInput, "tls.bad_ca",
                  "cannot add a client CA certificate");
      // Advertise acceptable issuers in the CertificateRequest so clients can pick a cert.
      SSL_CTX_add_client_CA(native, ca.get());
    }
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (config.client_auth == ClientAuth::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
    SSL_CTX_set_verify_depth(native, config.verify_depth);
    // No session resumption when client certificates count: OpenSSL keeps only the leaf with a
    // session, not the chain it verified, so a resumed connection has no verified chain
    // (SSL_get0_verified_chain is NULL). Handlers then saw an anonymous client (drawbridge
    // dropped a keep's slug grants) and the peer_verifier never ran, so a leaf it had rejected
    // got in with the ticket of its rejected connection. Keeping the chain with the session
    // instead would also keep the verifier's verdict for the ticket's lifetime; a full
    // handshake per connection (~1 ms of ECDHE + signatures) is cheap for these servers and
    // re-checks everything every time. So: no TLS 1.2 tickets, no TLS 1.3 tickets (with
    // SSL_OP_NO_TICKET alone TLS 1.3 would still send stateful ones), no server session cache,
    // and no session id context, which only resumption needs (without one OpenSSL refuses to
    // resume a TLS 1.2 session on a context that verifies peers).
    SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(native, 0);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

std::vector<Bytes> verified_peer_chain(SSL* ssl) {
  std::vector<Bytes> out;
  if (!ssl || SSL_get0_peer_certificate(ssl) == nullptr) return out;
  if (SSL_get_verify_result(ssl) != X509_V_OK) return out;
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  if (!chain) return out;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    out.push_back(ossl::to_der(i2d_X509, sk_X509_value(chain, i), "http.peer_chain"));
  }
  return out;
}

}  // namespace enarx::net
