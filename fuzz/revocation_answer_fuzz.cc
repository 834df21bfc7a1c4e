// libFuzzer target for what a relying party parses from a revocation service: an OCSP response
// (revocation::check_ocsp_response) and a CRL (Crl::from_bytes + revocation::check_crl).
// Invariants: only enarx::Error escapes, with a revocation.* or x509.* code; and nothing the
// fuzzer makes is ever accepted, since it cannot sign with the CA key (a "good" or "revoked"
// verdict would mean a signature check was skipped). The seeds (fuzz/seeds/
// revocation_answer_fuzz) are real answers for the fixed certificates below, made with
// ocsp_respond / build_crl (thisUpdate t0), so the fuzzer starts past the parsers.
#include <openssl/ocsp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/crypto.h"
#include "core/x509.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"

namespace {

using namespace enarx;

constexpr std::string_view kCaKey = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh5OjwVC8My2v0Bgr
g6BK25QuLw9Adm7nEPQNzcZZECahRANCAASL8v92MazMEwfgdMrd7+u4LONzCthx
rwC3SEKdLcHcgdWTbNSrwBOsvH9DJ5vpnwSAPhp2y+5d4iz6dCER019W
-----END PRIVATE KEY-----
)";

void check(bool ok) {
  if (!ok) std::abort();
}

struct Fixture {
  TimePoint t0{std::chrono::seconds(1700000000)};
  PrivateKey ca_key = PrivateKey::from_pem(kCaKey);
  Certificate ca = CertificateBuilder()
                       .subject({{"CN", "fuzz-ca"}})
                       .validity(t0, t0 + std::chrono::hours(24 * 365 * 50))
                       .ca(true)
                       .key_usage({"keyCertSign", "cRLSign"})
                       .sign(ca_key);
  Certificate leaf = CertificateBuilder()
                         .subject({{"CN", "fuzz-leaf"}})
                         .public_key(PrivateKey::from_pem(kCaKey).public_key())
                         .serial(Bytes{0x12, 0x34})
                         .validity(t0, t0 + std::chrono::hours(24 * 365 * 50))
                         .sign(ca_key, &ca);
  // A request without nonce, so recorded answers stay valid seeds.
  revocation::OcspRequest request = revocation::build_ocsp_request(leaf, ca, false);
};

bool allowed(const Error& e) { return e.code().rfind("revocation.", 0) == 0 || e.code().rfind("x509.", 0) == 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture f;
  const ByteView in(data, size);
  const TimePoint at = f.t0 + std::chrono::minutes(30);
  try {
    (void)revocation::check_ocsp_response(in, f.request, f.leaf, f.ca, at);
    // Accepted: OpenSSL, asked on its own, must agree that the CA key signed it.
    const unsigned char* p = in.data();
    ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(in.size())));
    check(resp != nullptr);
    ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free> basic(OCSP_response_get1_basic(resp.get()));
    check(basic != nullptr);
    ossl::X509StackPtr certs(sk_X509_new_null());
    X509_up_ref(f.ca.get());
    sk_X509_push(certs.get(), f.ca.get());
    check(OCSP_basic_verify(basic.get(), certs.get(), nullptr, OCSP_NOINTERN | OCSP_NOVERIFY) == 1);
  } catch (const Error& e) {
    check(allowed(e));
  }
  try {
    const Crl crl = Crl::from_bytes(in);
    try {
      (void)revocation::check_crl(crl, f.leaf, f.ca, at);
      check(crl.signed_by(f.ca.public_key()));  // accepted only when really signed by the CA
    } catch (const Error& e) {
      check(allowed(e));
    }
  } catch (const Error& e) {
    check(allowed(e));
  }
  return 0;
}
