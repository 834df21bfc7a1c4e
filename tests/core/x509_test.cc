#include "core/x509.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/der.h"
#include "core/openssl.h"
#include "core/error.h"
#include "support/error_code.h"

namespace enarx {
namespace {

using support::error_code;

using namespace std::chrono_literals;

TimePoint at(std::string_view rfc3339) { return parse_rfc3339(rfc3339); }

ChainVerifyOptions opts_at(TimePoint t) {
  ChainVerifyOptions o;
  o.at = t;
  return o;
}

std::string shared_dir() {
  const char* d = std::getenv("ENARX_SHARED_DIR");
  return d ? d : "";
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

#define REQUIRE_SHARED()                                                             \
  if (shared_dir().empty() ||                                                        \
      !std::ifstream(shared_dir() + "/testvectors/MANIFEST.md").good())              \
  GTEST_SKIP() << "ENARX_SHARED_DIR test vectors not available"

// A three-level test PKI: root (P-256) -> intermediate (P-384) -> leaf (P-256).
struct Pki {
  PrivateKey root_key = PrivateKey::generate(KeyType::EcP256);
  PrivateKey int_key = PrivateKey::generate(KeyType::EcP384);
  PrivateKey leaf_key = PrivateKey::generate(KeyType::EcP256);
  Certificate root, intermediate, leaf;
  TimePoint nb = at("2024-01-01T00:00:00Z");
  TimePoint na = at("2030-01-01T00:00:00Z");

  Pki() {
    root = CertificateBuilder()
               .subject({{"CN", "Test Root"}, {"O", "Enarx"}})
               .validity(nb, na)
               .ca(true)
               .key_usage({"keyCertSign", "cRLSign"})
               .sign(root_key);
    intermediate = CertificateBuilder()
                       .subject({{"CN", "Test Intermediate"}})
                       .public_key(int_key.public_key())
                       .validity(nb, na)
                       .ca(true, 0)
                       .key_usage({"keyCertSign", "cRLSign"})
                       .sign(root_key, &root);
    leaf = make_leaf(nb, na);
  }

  Certificate make_leaf(TimePoint from, TimePoint to, std::vector<std::string> eku = {}) const {
    CertificateBuilder b;
    b.subject({{"CN", "leaf.example"}})
        .public_key(leaf_key.public_key())
        .validity(from, to)
        .key_usage({"digitalSignature"});
    if (!eku.empty()) b.extended_key_usage(eku);
    return b.sign(int_key, &intermediate);
  }
};

// A CRL built with OpenSSL directly (the project only consumes CRLs).
Crl make_crl(const Certificate& issuer, const PrivateKey& key, TimePoint this_update,
             TimePoint next_update, const std::vector<const Certificate*>& revoked) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  EXPECT_EQ(X509_CRL_set_version(crl.get(), 1), 1);
  EXPECT_EQ(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get())), 1);
  ossl::Asn1TimePtr t1(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(this_update)));
  ossl::Asn1TimePtr t2(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(next_update)));
  EXPECT_EQ(X509_CRL_set1_lastUpdate(crl.get(), t1.get()), 1);
  EXPECT_EQ(X509_CRL_set1_nextUpdate(crl.get(), t2.get()), 1);
  for (const Certificate* c : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    ossl::Asn1IntegerPtr serial(ASN1_INTEGER_dup(X509_get0_serialNumber(c->get())));
    X509_REVOKED_set_serialNumber(r, serial.get());
    X509_REVOKED_set_revocationDate(r, t1.get());
    X509_CRL_add0_revoked(crl.get(), r);
  }
  ossl::Asn1IntegerPtr num(ASN1_INTEGER_new());
  ASN1_INTEGER_set(num.get(), 42);
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, num.get(), 0, 0);
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()), 0);
  // Round-trip through DER like a fetched CRL.
  Crl tmp(std::move(crl));
  return Crl::from_der(tmp.to_der());
}

TEST(CertificateBuilder, FieldsAndExtensions) {
  Pki pki;
  const Certificate& root = pki.root;
  EXPECT_EQ(root.subject(), "O=Enarx,CN=Test Root");
  EXPECT_EQ(root.issuer(), root.subject());
  EXPECT_EQ(root.subject_common_name(), "Test Root");
  EXPECT_TRUE(root.is_self_issued());
  EXPECT_TRUE(root.is_ca());
  EXPECT_FALSE(pki.leaf.is_ca());
  EXPECT_EQ(root.not_before(), pki.nb);
  EXPECT_EQ(root.not_after(), pki.na);
  EXPECT_LE(root.serial().size(), 16u);
  EXPECT_LT(root.serial()[0], 0x80);
  EXPECT_NE(root.serial(), pki.intermediate.serial());
  EXPECT_EQ(root.public_key(), pki.root_key.public_key());
  EXPECT_EQ(root.spki_der(), pki.root_key.public_key().spki_der());
  EXPECT_TRUE(root.signed_by(pki.root_key.public_key()));
  EXPECT_TRUE(pki.intermediate.signed_by(pki.root_key.public_key()));
  EXPECT_FALSE(pki.intermediate.signed_by(pki.int_key.public_key()));
  EXPECT_EQ(pki.leaf.issuer(), "CN=Test Intermediate");
  // AKI of the leaf equals the intermediate's SKI.
  auto ski = pki.intermediate.extension("2.5.29.14");
  auto aki = pki.leaf.extension("2.5.29.35");
  ASSERT_TRUE(ski && aki);
  der::Reader ski_r(ski->value);
  ByteView ski_bytes = ski_r.read_octet_string();
  der::Reader aki_r(aki->value);
  der::Reader aki_seq = aki_r.read_sequence();
  EXPECT_EQ(to_hex(aki_seq.read(der::context(0, false)).value), to_hex(ski_bytes));
  // Self-signed: AKI = own SKI.
  EXPECT_TRUE(root.extension("2.5.29.35").has_value());
  auto bc = pki.intermediate.extension("2.5.29.19");
  ASSERT_TRUE(bc);
  EXPECT_TRUE(bc->critical);
  EXPECT_EQ(to_hex(bc->value), "30060101ff020100");
  auto ku = root.extension("2.5.29.15");
  ASSERT_TRUE(ku);
  EXPECT_TRUE(ku->critical);
  EXPECT_EQ(to_hex(ku->value), "03020106");  // keyCertSign | cRLSign
  EXPECT_EQ(X509_get_key_usage(root.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_signature_nid(pki.leaf.get()), NID_ecdsa_with_SHA384);  // P-384 issuer
  EXPECT_EQ(X509_get_signature_nid(root.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_get_version(root.get()), X509_VERSION_3);
}

TEST(CertificateBuilder, SansEkuCustomExtensions) {
  PrivateKey k = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.dns = {"example.com", "*.example.org"};
  sans.uris = {"slug://localhost/user/repo:1.0.0", "https://x.example/a?b=c"};
  sans.ips = {"127.0.0.1", "::1"};
  sans.emails = {"a@example.com"};
  Certificate c = CertificateBuilder()
                      .subject({{"CN", "x"}})
                      .validity(at("2024-01-01T00:00:00Z"), at("2060-01-01T00:00:00Z"))
                      .serial(Bytes{0x01, 0x02})
                      .extended_key_usage({"serverAuth", "clientAuth", "1.3.6.1.4.1.58270.9"})
                      .subject_alt_names(sans, true)
                      .add_extension({"1.3.6.1.4.1.58270.1.3", true, {0x04, 0x02, 0xab, 0xcd}})
                      .subject_key_identifier(false)
                      .sign(k);
  EXPECT_EQ(c.serial_hex(), "0102");
  EXPECT_EQ(c.not_after(), at("2060-01-01T00:00:00Z"));  // GeneralizedTime after 2049
  SubjectAltNames got = c.subject_alt_names();
  EXPECT_EQ(got.dns, sans.dns);
  EXPECT_EQ(got.uris, sans.uris);
  EXPECT_EQ(got.ips, sans.ips);
  EXPECT_EQ(got.emails, sans.emails);
  EXPECT_TRUE(c.extension("2.5.29.17")->critical);
  auto custom = c.extension("1.3.6.1.4.1.58270.1.3");
  ASSERT_TRUE(custom);
  EXPECT_TRUE(custom->critical);
  EXPECT_EQ(to_hex(custom->value), "0402abcd");
  EXPECT_FALSE(c.extension("2.5.29.14").has_value());
  EXPECT_FALSE(c.extension("2.5.29.35").has_value());
  const uint32_t xku = X509_get_extended_key_usage(c.get());
  EXPECT_TRUE(xku & XKU_SSL_SERVER);
  EXPECT_TRUE(xku & XKU_SSL_CLIENT);
  // Extension order: EKU, SAN, custom.
  auto exts = c.extensions();
  ASSERT_EQ(exts.size(), 3u);
  EXPECT_EQ(exts[0].oid, "2.5.29.37");
  EXPECT_EQ(exts[2].oid, "1.3.6.1.4.1.58270.1.3");
  // SAN encode/decode round trip.
  EXPECT_EQ(decode_subject_alt_names(encode_subject_alt_names(sans)).uris, sans.uris);
  EXPECT_EQ(error_code([] { encode_subject_alt_names(SubjectAltNames{{}, {}, {"1.2.3"}, {}}); }),
            "x509.san");
  EXPECT_EQ(error_code([] { decode_subject_alt_names(Bytes{0x30, 0x03, 0x82, 0x05}); }), "x509.san");
  EXPECT_EQ(error_code([] { CertificateBuilder().key_usage({"flying"}); }), "x509.builder");
  EXPECT_EQ(error_code([] { CertificateBuilder().extended_key_usage({"not.an.oid"}); }), "der.oid");
  EXPECT_EQ(error_code([&] { CertificateBuilder().subject({{"CN", "x"}}).sign(k); }), "x509.builder");
}

TEST(CertificateBuilder, OtherKeyTypesAndVerbatimSubject) {
  for (KeyType t : {KeyType::Ed25519, KeyType::EcP384, KeyType::Rsa}) {
    PrivateKey k = PrivateKey::generate(t);
    Certificate c = CertificateBuilder()
                        .subject({{"CN", "k"}, {"C", "US"}})
                        .validity(at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"))
                        .sign(k);
    EXPECT_TRUE(c.signed_by(k.public_key())) << to_string(t);
    EXPECT_EQ(c.public_key().type(), t);
    // Copy the subject verbatim into another certificate.
    const X509_NAME* name = X509_get_subject_name(c.get());
    const Bytes name_der = ossl::to_der(i2d_X509_NAME, name);
    Certificate copy = CertificateBuilder()
                           .subject_der(name_der)
                           .validity(at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"))
                           .sign(k);
    EXPECT_EQ(copy.subject(), "C=US,CN=k");  // RFC 2253 order: last RDN first
    EXPECT_EQ(copy.subject(), c.subject());
  }
}

TEST(Certificate, EncodingsAndMalformedInput) {
  Pki pki;
  Bytes der = pki.leaf.to_der();
  EXPECT_EQ(Certificate::from_der(der), pki.leaf);
  EXPECT_EQ(Certificate::from_pem(pki.leaf.to_pem()), pki.leaf);
  EXPECT_EQ(Certificate::from_bytes(der), pki.leaf);
  EXPECT_EQ(Certificate::from_bytes(as_bytes(pki.leaf.to_pem())), pki.leaf);
  EXPECT_EQ(pki.leaf.fingerprint_sha256(), sha256(der));
  EXPECT_FALSE(pki.leaf == pki.root);

  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(error_code([&] { Certificate::from_der(trailing); }), "x509.malformed");
  Bytes truncated(der.begin(), der.end() - 3);
  EXPECT_EQ(error_code([&] { Certificate::from_der(truncated); }), "x509.malformed");
  EXPECT_EQ(error_code([&] { Certificate::from_der({}); }), "x509.malformed");
  EXPECT_EQ(error_code([&] { Certificate::from_pem("hello"); }), "x509.malformed");

  // PEM bundles and DER SEQUENCE OF Certificate.
  const std::string bundle = "junk before\n" + pki.leaf.to_pem() + pki.intermediate.to_pem() +
                             "\n" + pki.root.to_pem();
  auto chain = Certificate::chain_from_pem(bundle);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], pki.leaf);
  EXPECT_EQ(chain[2], pki.root);
  EXPECT_EQ(error_code([] { Certificate::chain_from_pem(""); }), "x509.malformed");
  std::string broken = pki.leaf.to_pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(error_code([&] { Certificate::chain_from_pem(broken); }), "x509.malformed");

  Bytes seq = Certificate::chain_to_der_sequence(chain);
  auto back = Certificate::chain_from_der_sequence(seq);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[1], pki.intermediate);
  EXPECT_TRUE(Certificate::chain_from_der_sequence(Bytes{0x30, 0x00}).empty());
  Bytes seq_trailing = seq;
  seq_trailing.push_back(0);
  EXPECT_EQ(error_code([&] { Certificate::chain_from_der_sequence(seq_trailing); }), "x509.malformed");
  EXPECT_EQ(error_code([&] { Certificate::chain_from_der_sequence(Bytes{0x30, 0x02, 0x05, 0x00}); }),
            "x509.malformed");
  Bytes seq_trunc(seq.begin(), seq.end() - 1);
  EXPECT_EQ(error_code([&] { Certificate::chain_from_der_sequence(seq_trunc); }), "x509.malformed");
}

// DER that carries PEM text inside (as a CSR carrying an SGX quote does) stays DER; PEM with
// text before its header (openssl x509 -text output) is still PEM.
TEST(Certificate, PemDetection) {
  Pki pki;
  const std::string pem = pki.leaf.to_pem();
  EXPECT_TRUE(is_pem(as_bytes(pem)));
  EXPECT_TRUE(is_pem(as_bytes("Certificate:\n    Data: ...\n0 comment\n" + pem)));
  EXPECT_FALSE(is_pem(pki.leaf.to_der()));
  EXPECT_FALSE(is_pem(Bytes{}));
  // "-----BEGIN CERTIFICATE-----" inside the DER, in the subject.
  const Bytes der_with_pem_text = CertificateBuilder()
                                      .subject({{"CN", pem.substr(0, 60)}})
                                      .validity(pki.nb, pki.na)
                                      .sign(pki.root_key)
                                      .to_der();
  ASSERT_NE(as_string(der_with_pem_text).find("-----BEGIN "), std::string_view::npos);
  EXPECT_FALSE(is_pem(der_with_pem_text));
  EXPECT_EQ(Certificate::from_bytes(der_with_pem_text).to_der(), der_with_pem_text);
}

TEST(VerifyChain, Success) {
  Pki pki;
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  auto path = verify_chain(pki.leaf, inter, anchors, opts_at(at("2025-06-01T00:00:00Z")));
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path[0], pki.leaf);
  EXPECT_EQ(path[1], pki.intermediate);
  EXPECT_EQ(path[2], pki.root);
  // The anchor alone verifies as a one-element path.
  EXPECT_EQ(verify_chain(pki.root, {}, anchors, opts_at(at("2025-06-01T00:00:00Z"))).size(), 1u);
}

TEST(VerifyChain, WrongAnchorMissingIntermediate) {
  Pki pki, other;
  std::vector<Certificate> inter{pki.intermediate}, wrong{other.root}, right{pki.root};
  const ChainVerifyOptions o = opts_at(at("2025-06-01T00:00:00Z"));
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, wrong, o); }), "x509.chain.untrusted");
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, {}, right, o); }), "x509.chain.untrusted");
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, {}, o); }), "x509.chain.untrusted");
  // The intermediate is not an anchor: no partial chains...
  std::vector<Certificate> int_anchor{pki.intermediate};
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, {}, int_anchor, o); }), "x509.chain.untrusted");
  // ...unless asked for.
  ChainVerifyOptions partial = o;
  partial.partial_chain = true;
  auto path = verify_chain(pki.leaf, {}, int_anchor, partial);
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[1], pki.intermediate);
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, {}, wrong, partial); }), "x509.chain.untrusted");
  // Same subject name, different key: signature does not verify.
  Certificate impostor = CertificateBuilder()
                             .subject({{"CN", "Test Root"}, {"O", "Enarx"}})
                             .validity(pki.nb, pki.na)
                             .ca(true)
                             .sign(other.root_key);
  std::vector<Certificate> imp{impostor};
  const std::string code = error_code([&] { verify_chain(pki.leaf, inter, imp, o); });
  EXPECT_TRUE(code == "x509.chain.bad_signature" || code == "x509.chain.untrusted") << code;
}

TEST(VerifyChain, ExpiredAndNotYetValid) {
  Pki pki;
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, opts_at(at("2031-01-01T00:00:00Z"))); }),
            "x509.chain.expired");
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, opts_at(at("2023-01-01T00:00:00Z"))); }),
            "x509.chain.not_yet_valid");
  Certificate short_leaf = pki.make_leaf(at("2025-01-01T00:00:00Z"), at("2025-02-01T00:00:00Z"));
  EXPECT_EQ(error_code([&] { verify_chain(short_leaf, inter, anchors, opts_at(at("2025-03-01T00:00:00Z"))); }),
            "x509.chain.expired");
  EXPECT_EQ(error_code([&] { verify_chain(short_leaf, inter, anchors, opts_at(at("2024-12-31T23:59:59Z"))); }),
            "x509.chain.not_yet_valid");
  EXPECT_NO_THROW(verify_chain(short_leaf, inter, anchors, opts_at(at("2025-01-15T00:00:00Z"))));
}

TEST(VerifyChain, BadSignature) {
  Pki pki;
  Bytes der = pki.leaf.to_der();
  // The signature BIT STRING is at the end: flip a byte inside s.
  der[der.size() - 5] ^= 0x01;
  Certificate tampered = Certificate::from_der(der);
  EXPECT_FALSE(tampered.signed_by(pki.int_key.public_key()));
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  EXPECT_EQ(error_code([&] { verify_chain(tampered, inter, anchors, opts_at(at("2025-06-01T00:00:00Z"))); }),
            "x509.chain.bad_signature");
  // Tampered to-be-signed part (subject byte) as well.
  Bytes der2 = pki.leaf.to_der();
  auto pos = std::search(der2.begin(), der2.end(), std::begin("leaf.example"),
                         std::begin("leaf.example") + 12);
  ASSERT_NE(pos, der2.end());
  *pos = 'L';
  EXPECT_EQ(error_code([&] {
              verify_chain(Certificate::from_der(der2), inter, anchors,
                           opts_at(at("2025-06-01T00:00:00Z")));
            }),
            "x509.chain.bad_signature");
}

TEST(VerifyChain, CrlRevocation) {
  Pki pki;
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  const TimePoint when = at("2025-06-01T00:00:00Z");
  const TimePoint tu = at("2025-05-01T00:00:00Z"), nu = at("2025-07-01T00:00:00Z");
  Crl leaf_revoked = make_crl(pki.intermediate, pki.int_key, tu, nu, {&pki.leaf});
  Crl int_clean = make_crl(pki.intermediate, pki.int_key, tu, nu, {});
  Crl root_clean = make_crl(pki.root, pki.root_key, tu, nu, {});
  Crl root_revokes_int = make_crl(pki.root, pki.root_key, tu, nu, {&pki.intermediate});

  EXPECT_TRUE(leaf_revoked.is_revoked(pki.leaf));
  EXPECT_FALSE(leaf_revoked.is_revoked(pki.intermediate));
  EXPECT_EQ(leaf_revoked.revoked_count(), 1u);
  EXPECT_EQ(leaf_revoked.number(), 42);
  EXPECT_EQ(leaf_revoked.issuer(), "CN=Test Intermediate");
  EXPECT_EQ(leaf_revoked.this_update(), tu);
  EXPECT_EQ(leaf_revoked.next_update(), nu);
  EXPECT_TRUE(leaf_revoked.signed_by(pki.int_key.public_key()));
  EXPECT_FALSE(leaf_revoked.signed_by(pki.root_key.public_key()));

  for (bool required : {false, true}) {
    SCOPED_TRACE(required ? "required" : "when present");
    auto opts = [&](std::vector<Crl> crls, TimePoint t) {
      ChainVerifyOptions o = opts_at(t);
      o.crls = std::move(crls);
      o.require_crls = required;
      return o;
    };
    EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, opts({leaf_revoked, root_clean}, when)); }),
              "x509.chain.revoked");
    EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, opts({int_clean, root_revokes_int}, when)); }),
              "x509.chain.revoked");
    EXPECT_NO_THROW(verify_chain(pki.leaf, inter, anchors, opts({int_clean, root_clean}, when)));
    EXPECT_EQ(error_code([&] {
                verify_chain(pki.leaf, inter, anchors,
                             opts({int_clean, root_clean}, at("2025-08-01T00:00:00Z")));
              }),
              "x509.chain.crl_expired");
    EXPECT_EQ(error_code([&] {
                verify_chain(pki.leaf, inter, anchors,
                             opts({int_clean, root_clean}, at("2025-04-01T00:00:00Z")));
              }),
              "x509.chain.crl_not_yet_valid");
    // Same issuer name, signed by the wrong key.
    Crl forged = make_crl(pki.intermediate, pki.root_key, tu, nu, {});
    EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, opts({forged, root_clean}, when)); }),
              "x509.chain.crl_bad_signature");
  }
  // Missing CRLs: only an error when required.
  ChainVerifyOptions req = opts_at(when);
  req.require_crls = true;
  req.crls = {root_clean};
  EXPECT_EQ(error_code([&] { verify_chain(pki.leaf, inter, anchors, req); }), "x509.chain.crl_missing");
  ChainVerifyOptions opt = opts_at(when);
  opt.crls = {root_clean};
  EXPECT_NO_THROW(verify_chain(pki.leaf, inter, anchors, opt));
}

TEST(VerifyChain, Ed25519AndRsaIssuers) {
  for (KeyType t : {KeyType::Ed25519, KeyType::Rsa}) {
    SCOPED_TRACE(to_string(t));
    PrivateKey root_key = PrivateKey::generate(t);
    PrivateKey leaf_key = PrivateKey::generate(KeyType::EcP256);
    const TimePoint nb = at("2024-01-01T00:00:00Z"), na = at("2026-01-01T00:00:00Z");
    Certificate root = CertificateBuilder()
                           .subject({{"CN", "root"}})
                           .validity(nb, na)
                           .ca(true)
                           .key_usage({"keyCertSign", "cRLSign"})
                           .sign(root_key);
    Certificate leaf = CertificateBuilder()
                           .subject({{"CN", "leaf"}})
                           .public_key(leaf_key.public_key())
                           .validity(nb, na)
                           .sign(root_key, &root);
    std::vector<Certificate> anchors{root};
    EXPECT_EQ(verify_chain(leaf, {}, anchors, opts_at(at("2025-01-01T00:00:00Z"))).size(), 2u);
    Bytes der = leaf.to_der();
    der[der.size() - 3] ^= 0x04;
    EXPECT_EQ(error_code([&] {
                verify_chain(Certificate::from_der(der), {}, anchors,
                             opts_at(at("2025-01-01T00:00:00Z")));
              }),
              "x509.chain.bad_signature");
  }
}

TEST(VerifyChain, ExtendedKeyUsage) {
  Pki pki;
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  Certificate server = pki.make_leaf(pki.nb, pki.na, {"serverAuth"});
  ChainVerifyOptions o = opts_at(at("2025-06-01T00:00:00Z"));
  o.required_eku = "1.3.6.1.5.5.7.3.1";
  EXPECT_NO_THROW(verify_chain(server, inter, anchors, o));
  EXPECT_NO_THROW(verify_chain(pki.leaf, inter, anchors, o));  // no EKU = unrestricted
  o.required_eku = "1.3.6.1.5.5.7.3.2";
  EXPECT_EQ(error_code([&] { verify_chain(server, inter, anchors, o); }), "x509.chain.purpose");
}

TEST(VerifyChain, MaxDepth) {
  Pki pki;
  std::vector<Certificate> inter{pki.intermediate}, anchors{pki.root};
  ChainVerifyOptions o = opts_at(at("2025-06-01T00:00:00Z"));
  o.max_depth = 0;
  EXPECT_NE(error_code([&] { verify_chain(pki.leaf, inter, anchors, o); }), support::kNoError);
}

// ---- Real-world vectors ----

struct AmdMilan {
  Certificate ask, ark, asvk, vcek;
  Crl crl;
};

AmdMilan load_milan() {
  const std::string base = shared_dir() + "/testvectors/snp/";
  auto roots = Certificate::chain_from_pem(slurp(base + "roots/amd_milan_ask_ark_asvk.pem"));
  EXPECT_EQ(roots.size(), 3u);
  const std::string vcek = slurp(base + "s01_milan_gosevguest/vcek.der");
  const std::string crl = slurp(base + "crls/amd_milan_ark_crl_2022-05-09.der");
  return {roots.at(0), roots.at(1), roots.at(2), Certificate::from_der(as_bytes(vcek)),
          Crl::from_der(as_bytes(crl))};
}

TEST(RealVectors, AmdMilanChain) {
  REQUIRE_SHARED();
  AmdMilan m = load_milan();
  EXPECT_EQ(m.ark.subject_common_name(), "ARK-Milan");
  EXPECT_EQ(m.ask.subject_common_name(), "SEV-Milan");
  EXPECT_EQ(m.vcek.subject_common_name(), "SEV-VCEK");
  EXPECT_EQ(m.ark.subject(),
            "CN=ARK-Milan,O=Advanced Micro Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering");
  EXPECT_EQ(m.ask.serial_hex(), "010001");
  EXPECT_EQ(m.ark.public_key().bits(), 4096);
  EXPECT_EQ(m.ask.crl_distribution_point(), "https://kdsintf.amd.com/vcek/v1/Milan/crl");
  EXPECT_FALSE(m.vcek.crl_distribution_point().has_value());
  EXPECT_TRUE(m.ark.is_self_issued());
  EXPECT_TRUE(m.ask.is_ca());
  // RSASSA-PSS signatures: ARK self, ARK->ASK, ASK->VCEK.
  EXPECT_TRUE(m.ark.signed_by(m.ark.public_key()));
  EXPECT_TRUE(m.ask.signed_by(m.ark.public_key()));
  EXPECT_TRUE(m.vcek.signed_by(m.ask.public_key()));
  EXPECT_FALSE(m.vcek.signed_by(m.ark.public_key()));
  // VCEK carries AMD's TCB extensions (non-critical).
  EXPECT_TRUE(m.vcek.extension("1.3.6.1.4.1.3704.1.4").has_value());  // hwID
  EXPECT_EQ(m.vcek.public_key().type(), KeyType::EcP384);

  std::vector<Certificate> inter{m.ask}, anchors{m.ark};
  auto path = verify_chain(m.vcek, inter, anchors, opts_at(at("2025-01-01T00:00:00Z")));
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path[0], m.vcek);
  EXPECT_EQ(path[1], m.ask);
  EXPECT_EQ(path[2], m.ark);
  // Before the VCEK was issued.
  EXPECT_EQ(error_code([&] { verify_chain(m.vcek, inter, anchors, opts_at(at("2022-01-01T00:00:00Z"))); }),
            "x509.chain.not_yet_valid");
  // The ASK is not a trust anchor on its own.
  std::vector<Certificate> ask_only{m.ask};
  EXPECT_EQ(error_code([&] { verify_chain(m.vcek, {}, ask_only, opts_at(at("2025-01-01T00:00:00Z"))); }),
            "x509.chain.untrusted");
}

TEST(RealVectors, AmdMilanCrl) {
  REQUIRE_SHARED();
  AmdMilan m = load_milan();
  EXPECT_EQ(m.crl.issuer(), m.ark.subject());
  EXPECT_EQ(m.crl.number(), 3);
  EXPECT_EQ(m.crl.revoked_count(), 0u);
  EXPECT_EQ(m.crl.next_update(), at("2023-05-09T23:00:00Z"));
  EXPECT_EQ(m.crl.this_update(), at("2022-05-09T17:07:45Z"));
  EXPECT_TRUE(m.crl.signed_by(m.ark.public_key()));
  EXPECT_FALSE(m.crl.signed_by(m.ask.public_key()));
  EXPECT_FALSE(m.crl.is_revoked(m.ask));

  std::vector<Certificate> anchors{m.ark}, inter{m.ask};
  ChainVerifyOptions req = opts_at(at("2022-12-01T00:00:00Z"));
  req.crls = {m.crl};
  req.require_crls = true;
  // Required CRLs: the ASK is covered by the ARK CRL.
  EXPECT_EQ(verify_chain(m.ask, {}, anchors, req).size(), 2u);
  req.at = at("2025-01-01T00:00:00Z");
  EXPECT_EQ(error_code([&] { verify_chain(m.ask, {}, anchors, req); }), "x509.chain.crl_expired");
  // The VCEK has no CRL from the ASK among the inputs: required -> missing.
  req.at = at("2022-12-01T00:00:00Z");
  EXPECT_EQ(error_code([&] { verify_chain(m.vcek, inter, anchors, req); }), "x509.chain.crl_missing");
  // Applied when present: fine while fresh, stale later.
  ChainVerifyOptions opt = opts_at(at("2022-12-01T00:00:00Z"));
  opt.crls = {m.crl};
  EXPECT_EQ(verify_chain(m.vcek, inter, anchors, opt).size(), 3u);
  opt.at = at("2025-01-01T00:00:00Z");
  EXPECT_EQ(error_code([&] { verify_chain(m.vcek, inter, anchors, opt); }), "x509.chain.crl_expired");
  // Cross-product CRL (Genoa) is not from this chain's issuers, so it is ignored.
  const std::string genoa = slurp(shared_dir() + "/testvectors/snp/crls/amd_genoa_ark_crl_2022-10-31.der");
  Crl genoa_crl = Crl::from_der(as_bytes(genoa));
  EXPECT_FALSE(genoa_crl.signed_by(m.ark.public_key()));
  opt.crls = {genoa_crl};
  EXPECT_EQ(verify_chain(m.vcek, inter, anchors, opt).size(), 3u);
}

struct SnpCase {
  const char* leaf;     // under testvectors/snp/
  const char* bundle;   // roots/<bundle>
  int signer;           // index of the issuing key in the bundle (0 = ASK, 2 = ASVK)
  const char* when;
  const char* expected;  // "" = verifies
};

TEST(RealVectors, AllSnpChains) {
  REQUIRE_SHARED();
  const std::string base = shared_dir() + "/testvectors/snp/";
  const SnpCase cases[] = {
      {"s01_milan_gosevguest/vcek.der", "amd_milan_ask_ark_asvk.pem", 0, "2025-01-01T00:00:00Z", ""},
      {"s04_milan_virtee/vcek.der", "amd_milan_ask_ark_asvk.pem", 0, "2025-01-01T00:00:00Z", ""},
      {"s07_milan_steward/vcek.der", "amd_milan_ask_ark_asvk.pem", 0, "2025-01-01T00:00:00Z", ""},
      {"s03_milan_vlek_aws/vlek.der", "amd_milan_ask_ark_asvk.pem", 2, "2025-06-01T00:00:00Z", ""},
      {"s08_turin_vcek_only/vcek.der", "amd_turin_ask_ark_asvk.pem", 0, "2025-06-01T00:00:00Z", ""},
      // A VCEK whose hwID was edited: the ASK signature no longer matches.
      {"n01_tampered_vcek/neg_vcek_tampered_hwid.der", "amd_milan_ask_ark_asvk.pem", 0,
       "2025-01-01T00:00:00Z", "x509.chain.bad_signature"},
      // A Milan VCEK offered to the Genoa roots.
      {"s01_milan_gosevguest/vcek.der", "amd_genoa_ask_ark_asvk.pem", 0, "2025-01-01T00:00:00Z",
       "x509.chain.untrusted"},
      // A VCEK with the VLEK signer as the only intermediate.
      {"s01_milan_gosevguest/vcek.der", "amd_milan_ask_ark_asvk.pem", 2, "2025-01-01T00:00:00Z",
       "x509.chain.untrusted"},
  };
  for (const SnpCase& c : cases) {
    SCOPED_TRACE(std::string(c.leaf) + " / " + c.bundle);
    auto roots = Certificate::chain_from_pem(slurp(base + "roots/" + c.bundle));
    ASSERT_EQ(roots.size(), 3u);
    Certificate leaf = Certificate::from_der(as_bytes(slurp(base + c.leaf)));
    std::vector<Certificate> inter{roots[static_cast<std::size_t>(c.signer)]}, anchors{roots[1]};
    EXPECT_TRUE(roots[1].is_self_issued());
    EXPECT_TRUE(roots[1].signed_by(roots[1].public_key()));
    if (std::string(c.expected).empty()) {
      auto path = verify_chain(leaf, inter, anchors, opts_at(at(c.when)));
      ASSERT_EQ(path.size(), 3u);
      EXPECT_EQ(path[1], inter[0]);
      EXPECT_TRUE(leaf.signed_by(inter[0].public_key()));
    } else {
      EXPECT_EQ(error_code([&] { verify_chain(leaf, inter, anchors, opts_at(at(c.when))); }),
                c.expected);
    }
  }
  // Genoa ARK CRL: valid signature, revokes 0x020001 (not the current ASK 0x020002).
  auto genoa = Certificate::chain_from_pem(slurp(base + "roots/amd_genoa_ask_ark_asvk.pem"));
  Crl crl = Crl::from_der(as_bytes(slurp(base + "crls/amd_genoa_ark_crl_2022-10-31.der")));
  EXPECT_TRUE(crl.signed_by(genoa[1].public_key()));
  EXPECT_EQ(crl.revoked_count(), 1u);
  EXPECT_EQ(genoa[0].serial_hex(), "020002");
  EXPECT_FALSE(crl.is_revoked(genoa[0]));
  std::vector<Certificate> anchors{genoa[1]};
  ChainVerifyOptions o = opts_at(at("2023-01-01T00:00:00Z"));
  o.crls = {crl};
  o.require_crls = true;
  EXPECT_EQ(verify_chain(genoa[0], {}, anchors, o).size(), 2u);
}

TEST(RealVectors, AzureBundleInOneFile) {
  REQUIRE_SHARED();
  const std::string base = shared_dir() + "/testvectors/snp/";
  auto certs = Certificate::chain_from_pem(slurp(base + "s05_milan_azure/vcek_ask_ark.pem"));
  ASSERT_EQ(certs.size(), 3u);
  auto roots = Certificate::chain_from_pem(slurp(base + "roots/amd_milan_ask_ark_asvk.pem"));
  std::vector<Certificate> anchors{roots[1]};
  // Only the pinned ARK is trusted; the bundle's own ARK copy is just another untrusted cert.
  std::vector<Certificate> inter{certs[1], certs[2]};
  auto path = verify_chain(certs[0], inter, anchors, opts_at(at("2025-01-01T00:00:00Z")));
  EXPECT_EQ(path.size(), 3u);
  EXPECT_EQ(path.back(), roots[1]);
}

TEST(RealVectors, IntelSgxRoot) {
  REQUIRE_SHARED();
  const std::string base = shared_dir() + "/testvectors/sgx/common/";
  Certificate root = Certificate::from_pem(slurp(base + "intel_sgx_root_ca.pem"));
  Certificate root_der = Certificate::from_der(as_bytes(slurp(base + "intel_sgx_root_ca.der")));
  EXPECT_EQ(root, root_der);
  EXPECT_TRUE(root.is_self_issued());
  EXPECT_TRUE(root.signed_by(root.public_key()));
  EXPECT_EQ(root.subject_common_name(), "Intel SGX Root CA");
  EXPECT_EQ(root.public_key().type(), KeyType::EcP256);
  std::vector<Certificate> anchors{root};
  EXPECT_EQ(verify_chain(root, {}, anchors, opts_at(at("2025-01-01T00:00:00Z"))).size(), 1u);

  auto tcb = Certificate::chain_from_pem(slurp(base + "intel_tcb_signing_2018-2025.pem"));
  ASSERT_FALSE(tcb.empty());
  ChainVerifyOptions o = opts_at(at("2023-06-20T00:00:00Z"));
  o.crls = {Crl::from_der(as_bytes(slurp(base + "intel_root_ca_crl_2023-04-03.der")))};
  o.require_crls = true;
  auto path = verify_chain(tcb[0], {}, anchors, o);
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[1], root);
  EXPECT_EQ(error_code([&] {
              verify_chain(tcb[0], {}, anchors, opts_at(at("2026-01-01T00:00:00Z")));
            }),
            "x509.chain.expired");
}

}  // namespace
}  // namespace enarx

namespace enarx {
namespace {

// RFC 5280's "no well-defined expiration" notAfter, 99991231235959Z, is past what a nanosecond
// TimePoint holds (2262). It must read as "valid forever", not wrap into the past, and what the
// builder writes for TimePoint::max() is that same value.
TEST(Certificate, NotAfter9999SaturatesInsteadOfWrapping) {
  const auto key = PrivateKey::generate(KeyType::EcP256);
  ossl::X509Ptr x(X509_new());
  ASSERT_TRUE(x);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("forever"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  ASSERT_EQ(ASN1_TIME_set_string(X509_getm_notBefore(x.get()), "20200101000000Z"), 1);
  ASSERT_EQ(ASN1_TIME_set_string(X509_getm_notAfter(x.get()), "99991231235959Z"), 1);
  X509_set_pubkey(x.get(), key.get());
  ASSERT_GT(X509_sign(x.get(), key.get(), EVP_sha256()), 0);
  const Bytes bytes = ossl::to_der(i2d_X509, x.get());

  const auto cert = Certificate::from_der(bytes);
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(cert.not_after(), TimePoint::max());
  EXPECT_GT(cert.not_after(), now + std::chrono::hours(24 * 365 * 200));
  EXPECT_LT(cert.not_before(), now);

  // Built with TimePoint::max(): written as 9999-12-31T23:59:59Z, and read back the same.
  const auto built = CertificateBuilder()
                         .subject({{"CN", "forever"}})
                         .public_key(key.public_key())
                         .validity(now - std::chrono::hours(1), TimePoint::max())
                         .ca(true)
                         .sign(key);
  EXPECT_EQ(built.not_after(), TimePoint::max());
  const Bytes built_der = built.to_der();
  const std::string text(built_der.begin(), built_der.end());
  EXPECT_NE(text.find("99991231235959Z"), std::string::npos);
}

}  // namespace
}  // namespace enarx

namespace enarx {
namespace {

// RFC 5280 5.1.1.2: a CRL's outer signatureAlgorithm must equal the signature field inside the
// signed tbsCertList. OpenSSL never compares them, so a changed outer identifier used to be
// accepted (one of the free variables of the evidence's CRL wrapper).
TEST(Crl, OuterSignatureAlgorithmMustEqualTheSignedOne) {
  const auto key = PrivateKey::generate(KeyType::EcP256);
  ossl::X509CrlPtr c(X509_CRL_new());
  X509_CRL_set_version(c.get(), 1);
  ossl::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Test CA"), -1,
                             -1, 0);
  X509_CRL_set_issuer_name(c.get(), name.get());
  ossl::Asn1TimePtr t(ASN1_TIME_set(nullptr, 1700000000));
  X509_CRL_set1_lastUpdate(c.get(), t.get());
  ASSERT_GT(X509_CRL_sign(c.get(), key.get(), EVP_sha256()), 0);
  Bytes bytes = ossl::to_der(i2d_X509_CRL, c.get());
  EXPECT_NO_THROW(Crl::from_der(bytes));

  // ecdsa-with-SHA256 appears twice: inside tbsCertList, then outside. Change the outer one.
  const Bytes sha256_oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  auto last = std::search(bytes.rbegin(), bytes.rend(), sha256_oid.rbegin(), sha256_oid.rend());
  ASSERT_NE(last, bytes.rend());
  *last = 0x03;  // ecdsa-with-SHA384
  try {
    Crl::from_der(bytes);
    ADD_FAILURE() << "a CRL with a mismatched outer signatureAlgorithm was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "x509.crl_malformed") << e.what();
  }
}

}  // namespace
}  // namespace enarx
