// Test helpers for the SNP tests: locating the shared test vectors, and a locally generated
// ("simulated") ARK/ASK/VCEK chain that signs reports, so policy and binding checks can be
// exercised on reports whose fields we choose.
#pragma once

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "attest/snp/amd_roots.h"
#include "attest/snp/report.h"
#include "core/crypto.h"
#include "core/der.h"
#include "core/error.h"
#include "core/file.h"
#include "core/x509.h"

namespace enarx::attest::snp::testing {

inline std::optional<std::filesystem::path> shared_dir() {
  const char* env = std::getenv("ENARX_SHARED_DIR");
  std::filesystem::path p = env ? env : ENARX_SOURCE_DIR "/../shared";
  if (!std::filesystem::exists(p / "testvectors" / "snp")) return std::nullopt;
  return p / "testvectors";
}

#define SNP_REQUIRE_VECTORS(var)                                      \
  auto var##_opt = ::enarx::attest::snp::testing::shared_dir();      \
  if (!var##_opt) GTEST_SKIP() << "shared test vectors not present"; \
  const std::filesystem::path var = *var##_opt

inline TimePoint at(const char* rfc3339) { return parse_rfc3339(rfc3339); }

inline Bytes int_ext(std::int64_t v) { return der::Writer().add_integer(v).take(); }

struct SimChain {
  TrustRoot root;
  PrivateKey ark_key, ask_key, asvk_key;
};

inline SimChain make_sim_root(Product product, const std::string& tag = "SIM") {
  SimChain s;
  const auto nb = parse_rfc3339("2020-01-01T00:00:00Z");
  const auto na = parse_rfc3339("2045-01-01T00:00:00Z");
  s.ark_key = PrivateKey::generate(KeyType::EcP384);
  s.ask_key = PrivateKey::generate(KeyType::EcP384);
  s.asvk_key = PrivateKey::generate(KeyType::EcP384);
  const std::string p = to_string(product);
  s.root.product = product;
  s.root.simulated = true;
  s.root.ark = CertificateBuilder()
                   .subject({{"CN", tag + "-ARK-" + p}})
                   .validity(nb, na)
                   .ca(true)
                   .key_usage({"keyCertSign", "cRLSign"})
                   .sign(s.ark_key);
  s.root.ask = CertificateBuilder()
                   .subject({{"CN", tag + "-SEV-" + p}})
                   .public_key(s.ask_key.public_key())
                   .validity(nb, na)
                   .ca(true, 0)
                   .key_usage({"keyCertSign"})
                   .sign(s.ark_key, &s.root.ark);
  s.root.asvk = CertificateBuilder()
                    .subject({{"CN", tag + "-SEV-VLEK-" + p}})
                    .public_key(s.asvk_key.public_key())
                    .validity(nb, na)
                    .ca(true, 0)
                    .key_usage({"keyCertSign"})
                    .sign(s.ark_key, &s.root.ark);
  return s;
}

struct SimLeafSpec {
  std::string product_name = "Milan-B0";
  int bl = 3, tee = 0, snp = 8, ucode = 115;
  std::optional<int> fmc;
  std::optional<Bytes> hw_id = Bytes(64, 0xAB);
  bool vlek = false;
  TimePoint not_before = parse_rfc3339("2023-01-01T00:00:00Z");
  TimePoint not_after = parse_rfc3339("2030-01-01T00:00:00Z");
};

struct SimLeaf {
  Certificate cert;
  PrivateKey key;
};

inline SimLeaf make_sim_leaf(const SimChain& chain, const SimLeafSpec& spec) {
  SimLeaf leaf;
  leaf.key = PrivateKey::generate(KeyType::EcP384);
  CertificateBuilder b;
  b.subject({{"CN", spec.vlek ? "SEV-VLEK" : "SEV-VCEK"}})
      .public_key(leaf.key.public_key())
      .validity(spec.not_before, spec.not_after)
      .serial(Bytes{0})
      .subject_key_identifier(false);
  b.add_extension({"1.3.6.1.4.1.3704.1.1", false, int_ext(spec.fmc ? 1 : 0)});
  b.add_extension({"1.3.6.1.4.1.3704.1.2", false,
                   der::Writer().add(der::kIa5String, as_bytes(spec.product_name)).take()});
  if (spec.fmc) b.add_extension({"1.3.6.1.4.1.3704.1.3.9", false, int_ext(*spec.fmc)});
  b.add_extension({"1.3.6.1.4.1.3704.1.3.1", false, int_ext(spec.bl)});
  b.add_extension({"1.3.6.1.4.1.3704.1.3.2", false, int_ext(spec.tee)});
  b.add_extension({"1.3.6.1.4.1.3704.1.3.3", false, int_ext(spec.snp)});
  b.add_extension({"1.3.6.1.4.1.3704.1.3.8", false, int_ext(spec.ucode)});
  if (spec.hw_id && !spec.vlek) b.add_extension({"1.3.6.1.4.1.3704.1.4", false, *spec.hw_id});
  if (spec.vlek) {
    b.add_extension({"1.3.6.1.4.1.3704.1.5", false,
                     der::Writer().add(der::kIa5String, as_bytes("CN=sim.example")).take()});
  }
  leaf.cert = spec.vlek ? b.sign(chain.asvk_key, &*chain.root.asvk)
                        : b.sign(chain.ask_key, &chain.root.ask);
  return leaf;
}

inline void put32(Bytes& r, std::size_t off, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) r[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void put64(Bytes& r, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) r[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
// Milan/Genoa TCB_VERSION.
inline std::uint64_t milan_tcb(int bl, int tee, int snp, int ucode) {
  return static_cast<std::uint64_t>(bl) | static_cast<std::uint64_t>(tee) << 8 |
         static_cast<std::uint64_t>(snp) << 48 | static_cast<std::uint64_t>(ucode) << 56;
}
inline std::uint64_t turin_tcb(int fmc, int bl, int tee, int snp, int ucode) {
  return static_cast<std::uint64_t>(fmc) | static_cast<std::uint64_t>(bl) << 8 |
         static_cast<std::uint64_t>(tee) << 16 | static_cast<std::uint64_t>(snp) << 24 |
         static_cast<std::uint64_t>(ucode) << 56;
}

// An unsigned v3 report with sane defaults: policy ABI 1.51 + SMT + reserved bit, VMPL 0,
// platform_info SMT_EN, TCB 3/0/8/115, CHIP_ID 0xAB.., CPUID Milan (0x19/0x01/0x01).
inline Bytes make_report_body(std::uint32_t version = 3) {
  Bytes r(kReportSize, 0);
  put32(r, 0x000, version);
  put32(r, 0x004, 1);                 // guest_svn
  put64(r, 0x008, 0x30133);           // ABI 1.51, SMT, reserved
  put32(r, 0x034, 1);                 // ECDSA P-384
  const std::uint64_t tcb = milan_tcb(3, 0, 8, 115);
  put64(r, 0x038, tcb);
  put64(r, 0x040, 1);                 // SMT_EN
  for (std::size_t i = 0; i < 48; ++i) r[0x090 + i] = static_cast<std::uint8_t>(i);  // measurement
  put64(r, 0x180, tcb);
  if (version >= 3) {
    r[0x188] = 0x19;
    r[0x189] = 0x01;
    r[0x18A] = 0x01;
  }
  std::memset(r.data() + 0x1A0, 0xAB, 64);
  put64(r, 0x1E0, tcb);
  r[0x1E8] = 4;
  r[0x1E9] = 52;
  r[0x1EA] = 1;
  put64(r, 0x1F0, tcb);
  return r;
}

// Signs bytes 0..0x29F with `key` and stores R and S little-endian at 0x2A0 / 0x2E8.
inline void sign_report(Bytes& r, const PrivateKey& key) {
  const Bytes der = key.sign(DigestAlgorithm::Sha384, ByteView(r.data(), kSignedSize));
  const Bytes rs = ecdsa_der_to_raw(der, 48);
  std::memset(r.data() + 0x2A0, 0, 0x200);
  for (std::size_t i = 0; i < 48; ++i) {
    r[0x2A0 + i] = rs[47 - i];
    r[0x2E8 + i] = rs[95 - i];
  }
}

// A CRL issued by `issuer` (EC key) revoking `serials`, valid from..until.
inline Crl make_crl(const Certificate& issuer, const PrivateKey& issuer_key,
                    const std::vector<Bytes>& serials, TimePoint from, TimePoint until) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  ossl::Asn1TimePtr t1(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(from)));
  ossl::Asn1TimePtr t2(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(until)));
  X509_CRL_set1_lastUpdate(crl.get(), t1.get());
  X509_CRL_set1_nextUpdate(crl.get(), t2.get());
  for (const auto& s : serials) {
    X509_REVOKED* rev = X509_REVOKED_new();
    ossl::BignumPtr bn(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
    ossl::Asn1IntegerPtr ai(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    X509_REVOKED_set_serialNumber(rev, ai.get());
    X509_REVOKED_set_revocationDate(rev, t1.get());
    X509_CRL_add0_revoked(crl.get(), rev);
  }
  X509_CRL_sort(crl.get());
  X509_CRL_sign(crl.get(), issuer_key.get(), EVP_sha384());
  return Crl(std::move(crl));
}

}  // namespace enarx::attest::snp::testing
