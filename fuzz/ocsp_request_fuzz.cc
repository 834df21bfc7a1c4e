// libFuzzer target for steward's OCSP responder (revocation::ocsp_respond), which parses an
// attacker-chosen OCSPRequest. Invariants: it never throws for any input, and what it returns
// is exactly one DER OCSPResponse whose status is successful, malformedRequest or unauthorized;
// a successful one carries one SingleResponse per single request and is signed by the CA key.
// The seeds (fuzz/seeds/ocsp_request_fuzz) were made with `openssl ocsp -reqout` for a
// certificate with the subject and key below, so the fuzzer starts from requests that match.
#include <openssl/ocsp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/crypto.h"
#include "core/x509.h"
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

struct Ca {
  PrivateKey key = PrivateKey::from_pem(kCaKey);
  Certificate cert = [this] {
    const TimePoint t0{std::chrono::seconds(1700000000)};
    return CertificateBuilder()
        .subject({{"CN", "fuzz-ca"}})
        .validity(t0, t0 + std::chrono::hours(24 * 365 * 50))
        .ca(true)
        .key_usage({"keyCertSign", "cRLSign"})
        .sign(key);
  }();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Ca ca;
  using namespace enarx::revocation;
  std::size_t lookups = 0;
  auto lookup = [&](ByteView serial) {
    ++lookups;
    check(!serial.empty());
    switch (serial.back() % 3) {
      case 0: return SerialStatus{CertState::kGood};
      case 1: return SerialStatus{CertState::kRevoked, TimePoint{std::chrono::seconds(1700000000)},
                                  static_cast<Reason>(serial.front() % 6)};
      default: return SerialStatus{};
    }
  };
  const TimePoint now{std::chrono::seconds(1800000000)};
  const Bytes out = ocsp_respond(ByteView(data, size), ca.key, ca.cert, lookup, now, {.max_single_requests = 4});
  const unsigned char* p = out.data();
  ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(out.size())));
  check(resp && p == out.data() + out.size());
  const int status = OCSP_response_status(resp.get());
  check(status == OCSP_RESPONSE_STATUS_SUCCESSFUL || status == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST ||
        status == OCSP_RESPONSE_STATUS_UNAUTHORIZED);
  if (status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    check(lookups <= 4);  // zero when the only request about the CA names a negative serial
    ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free> basic(OCSP_response_get1_basic(resp.get()));
    check(basic != nullptr);
    check(OCSP_resp_count(basic.get()) >= static_cast<int>(lookups));
    ossl::X509StackPtr certs(sk_X509_new_null());
    X509_up_ref(ca.cert.get());
    sk_X509_push(certs.get(), ca.cert.get());
    check(OCSP_basic_verify(basic.get(), certs.get(), nullptr, OCSP_NOVERIFY) == 1);
  } else {
    check(status != OCSP_RESPONSE_STATUS_MALFORMEDREQUEST || lookups == 0);
  }
  return 0;
}
