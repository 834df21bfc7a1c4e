// A simulated SEV-SNP chain for tests and benchmarks (built in memory; src/simulation/platforms.h
// is the on-disk one behind `--platform sim-snp`): a locally generated ARK -> ASK -> VCEK chain
// (ECDSA P-384; the verifier treats the chain as simulated because the test hands the ARK/ASK
// in as [simulated] roots) and signed 1184-byte reports in the real layout.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstring>

#include "attest/enarx/snp_evidence.h"
#include "core/crypto.h"
#include "core/csr.h"
#include "core/der.h"
#include "core/openssl.h"
#include "core/x509.h"
#include "attest/enarx/oids.h"

namespace enarx::simulation {

struct SnpSim {
  static constexpr std::string_view kCrlUrl = "https://kdsintf.amd.com/vcek/v1/Milan/crl";
  PrivateKey ark_key, ask_key, vcek_key;
  Certificate ark, ask, vcek;
  Crl crl;  // empty CRL from the ARK
  Bytes chip_id = Bytes(64, 0xC5);
  Bytes measurement = Bytes(48, 0x5A);
  Bytes report_id = Bytes(32, 0x11);
  std::uint64_t policy = 0x30000 | (1u << 8) | 51;  // SMT, reserved bit, ABI 1.51

  static Bytes int_ext(std::int64_t v) { return der::Writer().add_integer(v).take(); }
  static std::uint64_t tcb() {  // bl 3, tee 0, snp 8, ucode 115 (Milan layout)
    return 3ull | 0ull << 8 | 8ull << 48 | 115ull << 56;
  }

  explicit SnpSim(TimePoint now) {
    const auto nb = now - std::chrono::hours(24 * 30);
    const auto na = now + std::chrono::hours(24 * 365 * 5);
    ark_key = PrivateKey::generate(KeyType::EcP384);
    ask_key = PrivateKey::generate(KeyType::EcP384);
    vcek_key = PrivateKey::generate(KeyType::EcP384);
    ark = CertificateBuilder()
              .subject({{"O", "SIMULATED steward test"}, {"CN", "ARK-Milan"}})
              .public_key(ark_key.public_key())
              .validity(nb, na)
              .ca(true)
              .key_usage({"keyCertSign", "cRLSign"})
              .sign(ark_key);
    ask = CertificateBuilder()
              .subject({{"O", "SIMULATED steward test"}, {"CN", "SEV-Milan"}})
              .public_key(ask_key.public_key())
              .validity(nb, na)
              .ca(true, 0)
              .key_usage({"keyCertSign", "cRLSign"})
              .crl_distribution_point(kCrlUrl)  // as AMD's ASKs name the ARK's CRL
              .sign(ark_key, &ark);
    CertificateBuilder b;
    b.subject({{"CN", "SEV-VCEK"}})
        .public_key(vcek_key.public_key())
        .validity(nb, na)
        .serial(Bytes{0})
        .subject_key_identifier(false);
    b.add_extension({"1.3.6.1.4.1.3704.1.1", false, int_ext(0)});
    b.add_extension({"1.3.6.1.4.1.3704.1.2", false,
                     der::Writer().add(der::kIa5String, as_bytes("Milan-B0")).take()});
    b.add_extension({"1.3.6.1.4.1.3704.1.3.1", false, int_ext(3)});
    b.add_extension({"1.3.6.1.4.1.3704.1.3.2", false, int_ext(0)});
    b.add_extension({"1.3.6.1.4.1.3704.1.3.3", false, int_ext(8)});
    b.add_extension({"1.3.6.1.4.1.3704.1.3.8", false, int_ext(115)});
    b.add_extension({"1.3.6.1.4.1.3704.1.4", false, chip_id});
    vcek = b.sign(ask_key, &ask);

    ossl::X509CrlPtr c(X509_CRL_new());
    X509_CRL_set_version(c.get(), 1);
    X509_CRL_set_issuer_name(c.get(), X509_get_subject_name(ark.get()));
    ossl::Asn1TimePtr t1(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(nb)));
    ossl::Asn1TimePtr t2(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(na)));
    X509_CRL_set1_lastUpdate(c.get(), t1.get());
    X509_CRL_set1_nextUpdate(c.get(), t2.get());
    X509_CRL_sign(c.get(), ark_key.get(), EVP_sha384());
    crl = Crl(std::move(c));
  }

  // PEM bundle for [simulated] roots (ASK then ARK, like AMD KDS cert_chain).
  std::string roots_pem() const { return ask.to_pem() + ark.to_pem(); }

  static void put(Bytes& r, std::size_t off, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) r[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }

  // A signed v3 report whose REPORT_DATA binds `spki_der` (SHA-384, zero padded).
  Bytes report(ByteView spki_der, bool debug = false) const {
    Bytes r(0x4A0, 0);
    put(r, 0x000, 3, 4);                                 // version
    put(r, 0x004, 1, 4);                                 // guest_svn
    put(r, 0x008, policy | (debug ? (1u << 19) : 0), 8);  // policy
    put(r, 0x034, 1, 4);                                 // ECDSA P-384 / SHA-384
    put(r, 0x038, tcb(), 8);                             // current TCB
    put(r, 0x040, 1, 8);                                 // platform_info: SMT_EN
    const Bytes rd = sha384(spki_der);
    std::memcpy(r.data() + 0x050, rd.data(), rd.size());
    std::memcpy(r.data() + 0x090, measurement.data(), 48);
    std::memcpy(r.data() + 0x140, report_id.data(), 32);
    put(r, 0x180, tcb(), 8);  // reported TCB
    r[0x188] = 0x19;          // CPUID family (Milan)
    r[0x189] = 0x01;
    r[0x18A] = 0x01;
    std::memcpy(r.data() + 0x1A0, chip_id.data(), 64);
    put(r, 0x1E0, tcb(), 8);  // committed TCB
    r[0x1E8] = 4;
    r[0x1E9] = 52;
    r[0x1EA] = 1;
    put(r, 0x1F0, tcb(), 8);  // launch TCB
    const Bytes sig = vcek_key.sign(DigestAlgorithm::Sha384, ByteView(r.data(), 0x2A0));
    const Bytes rs = ecdsa_der_to_raw(sig, 48);
    for (std::size_t i = 0; i < 48; ++i) {
      r[0x2A0 + i] = rs[47 - i];  // little-endian R
      r[0x2E8 + i] = rs[95 - i];  // little-endian S
    }
    return r;
  }

  Bytes evidence(ByteView spki_der, bool with_crl = true, bool debug = false) const {
    attest::SnpEvidence ev;
    ev.vcek_der = vcek.to_der();
    if (with_crl) ev.crls.push_back({std::string(kCrlUrl), crl});
    ev.report = report(spki_der, debug);
    return attest::encode_snp_evidence(ev);
  }

  // A CSR for `key` carrying this platform's evidence (bound to `bound_spki`, normally the key's).
  Bytes csr(const PrivateKey& key, const SubjectAltNames& sans = {},
            std::optional<Bytes> bound_spki = std::nullopt) const {
    const Bytes spki = bound_spki ? *bound_spki : key.public_key().spki_der();
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kSnpEvidence), false, evidence(spki)});
    if (!sans.uris.empty() || !sans.dns.empty()) b.subject_alt_names(sans);
    return b.build_der(key);
  }
};

}  // namespace enarx::simulation
