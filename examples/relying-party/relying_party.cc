// A relying party in a few lines: connect to a keep over TLS, check the certificate it presents
// with the enarx verification library (chain to the steward CA, attested claims, expected
// workload), and only then talk to it — on the SAME connection, so the checked certificate is
// the one the conversation is protected by (no check-then-reconnect race).
//
//   relying-party HOST:PORT --ca steward-ca.pem [--expect-slug S] [--expect-digest D]
//                 [--expect-app-digest A] [--expect-signer F] [--allow-simulated] [--send TEXT]
//                 [--revocation-ca https-ca.pem | --no-revocation-check]
// The keep certificate's revocation status is checked at the OCSP responder / CRL distribution
// point it names (steward's), failing closed when they cannot be reached.
// --expect-app-digest accepts the application (the SHA-256 of its main.wasm) under whatever
// configuration it was deployed with; --expect-digest pins the whole package.
// Exit codes: 0 verified (and the exchange worked), 1 connection/TLS failure, 4 the peer is
// not what we expect (the verification error code is printed), 2 usage.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file.h"
#include "core/openssl.h"
#include "core/x509.h"
#include "verify/verify.h"

namespace {

struct SslCloser {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  void operator()(BIO* b) const { BIO_free_all(b); }
};

int fail(int code, const std::string& message) {
  std::cerr << "relying-party: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Verify an attested Enarx keep over TLS, then talk to it on the same connection"};
  std::string target, ca_file, send = "GET / HTTP/1.0\r\n\r\n";
  enarx::verify::Expectations expect;
  std::string slug, digest, app_digest, signer;
  app.add_option("target", target, "HOST:PORT of the keep")->required();
  app.add_option("--ca", ca_file, "Steward CA certificate(s), PEM")->required();
  app.add_option("--expect-slug", slug, "host/user/repo[:tag] the keep must run");
  app.add_option("--expect-digest", digest, "Workload digest, <alg>:<hex>");
  app.add_option("--expect-app-digest", app_digest, "Application digest, sha-256:<hex> of main.wasm (any configuration)");
  app.add_option("--expect-signer", signer, "Publisher key fingerprint (hex SHA-256 of the SPKI)");
  app.add_flag("--allow-simulated", expect.allow_simulated, "Accept simulated platforms (tests/demos)");
  app.add_option("--send", send, "What to send once verified (default: an HTTP GET)");
  enarx::verify::RevocationOptions revocation;
  app.add_option("--revocation-ca", revocation.status.fetch.ca_file,
                 "CA bundle trusted for steward's https OCSP/CRL URLs (default: the system store)");
  bool no_revocation = false;
  app.add_flag("--no-revocation-check", no_revocation, "Do not check the certificate's revocation");
  CLI11_PARSE(app, argc, argv);
  if (!slug.empty()) expect.slug = slug;
  if (!digest.empty()) expect.digest = digest;
  if (!app_digest.empty()) expect.app_digest = app_digest;
  if (!signer.empty()) expect.signer = signer;

  std::vector<enarx::Certificate> cas;
  try {
    cas = enarx::Certificate::chain_from_pem(enarx::read_text_file(ca_file));
  } catch (const enarx::Error& e) {
    return fail(2, e.describe());
  }

  // Certificate checking is the library's job: OpenSSL only establishes the channel here.
  std::unique_ptr<SSL_CTX, SslCloser> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<BIO, SslCloser> bio(BIO_new_ssl_connect(ctx.get()));
  SSL* ssl = nullptr;
  BIO_get_ssl(bio.get(), &ssl);
  BIO_set_conn_hostname(bio.get(), target.c_str());
  const std::string host = target.substr(0, target.rfind(':'));
  SSL_set_tlsext_host_name(ssl, host.c_str());
  if (BIO_do_handshake(bio.get()) <= 0) {
    ERR_print_errors_fp(stderr);
    return fail(1, "TLS handshake with " + target + " failed");
  }

  std::vector<enarx::Certificate> chain;
  STACK_OF(X509)* presented = SSL_get_peer_cert_chain(ssl);  // leaf first (client side)
  for (int i = 0; presented && i < sk_X509_num(presented); ++i) {
    X509* x = sk_X509_value(presented, i);
    X509_up_ref(x);
    chain.push_back(enarx::Certificate(enarx::ossl::X509Ptr(x)));
  }

  enarx::verify::PeerIdentity peer;
  try {
    revocation.enabled = !no_revocation;
    peer = enarx::verify::verify_peer(chain, cas, std::chrono::system_clock::now(), expect, revocation);
  } catch (const enarx::Error& e) {
    return fail(4, "refusing " + target + ": " + e.code() + ": " + e.what());
  }
  std::cout << "verified " << target << "\n" << peer.to_text();

  if (BIO_write(bio.get(), send.data(), static_cast<int>(send.size())) != static_cast<int>(send.size()))
    return fail(1, "write failed");
  (void)BIO_flush(bio.get());
  char buf[4096];
  int n = 0;
  std::string reply;
  while ((n = BIO_read(bio.get(), buf, sizeof buf)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  std::cout << "--- reply from the verified keep ---\n" << reply;
  return 0;
}
