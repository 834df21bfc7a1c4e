// libFuzzer target for steward's request handler (the pure function behind POST /).
// The first input byte picks what the rest is:
//   0: an application/pkcs10 body            1: an application/vnd.steward.pkcs10-bundle.v1 body
//   2: Content-Type text '\0' body           3/4/5: the value of an SNP/SGX/TDX evidence
//   extension inside a freshly signed, otherwise valid CSR (reaches the evidence decoders).
// Any 500 is a bug: the handler must turn every bad input into 4xx.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/csr.h"
#include "core/file.h"
#include "attest/enarx/oids.h"
#include "steward/steward.h"

namespace {

using namespace enarx;
using namespace enarx::steward;

struct Fixture {
  std::unique_ptr<Steward> steward;
  PrivateKey p256 = PrivateKey::generate(KeyType::EcP256);
  PrivateKey p384 = PrivateKey::generate(KeyType::EcP384);
  Fixture() {
    const auto now = parse_rfc3339("2026-11-23T10:00:00Z");
    auto key = PrivateKey::generate(KeyType::EcP384);
    auto cert = CertificateBuilder()
                    .subject({{"CN", "fuzz CA"}})
                    .public_key(key.public_key())
                    .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
                    .ca(true, 0)
                    .key_usage({"keyCertSign"})
                    .sign(key);
    auto policy = Policy::parse("[issuance]\nallow_insecure = true\nmax_bundle_size = 8\n");
    StewardLimits limits;
    limits.max_body_size = 1 << 20;
    steward = std::make_unique<Steward>(CertificateAuthority(std::move(key), {std::move(cert)}),
                                        std::move(policy), std::make_shared<FixedClock>(now),
                                        limits);
    register_default_verifiers(*steward);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto& f = fixture();
  const std::uint8_t mode = data[0] % 6;
  enarx::ByteView rest(data + 1, size - 1);
  Response r;
  switch (mode) {
    case 0:
      r = f.steward->handle(kPkcs10, rest);
      break;
    case 1:
      r = f.steward->handle(kPkcs10Bundle, rest);
      break;
    case 2: {
      std::size_t nul = 0;
      while (nul < rest.size() && rest[nul] != 0) ++nul;
      std::string ct(reinterpret_cast<const char*>(rest.data()), nul);
      r = f.steward->handle(ct, rest.subspan(nul < rest.size() ? nul + 1 : nul));
      break;
    }
    default: {
      const std::string_view oid = mode == 3   ? oids::kSnpEvidence
                                   : mode == 4 ? oids::kSgxEvidence
                                               : oids::kTdxEvidence;
      const auto& key = mode == 4 ? f.p256 : f.p384;
      CsrBuilder b;
      b.add_extension(Extension{std::string(oid), false, Bytes(rest.begin(), rest.end())});
      r = f.steward->handle(kPkcs10, b.build_der(key));
      break;
    }
  }
  if (r.status == 500 || r.status == 0) std::abort();
  return 0;
}
