#include "core/csr.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/der.h"
#include "core/error.h"
#include "support/error_code.h"

namespace enarx {
namespace {

using support::error_code;

std::string shared_dir() {
  const char* d = std::getenv("ENARX_SHARED_DIR");
  return d ? d : "";
}

Bytes slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return to_bytes(ss.str());
}

#define REQUIRE_SHARED()                                                \
  if (shared_dir().empty() ||                                           \
      !std::ifstream(shared_dir() + "/testvectors/MANIFEST.md").good()) \
  GTEST_SKIP() << "ENARX_SHARED_DIR test vectors not available"

const Bytes kEvidence = {0x30, 0x06, 0x04, 0x04, 0xde, 0xad, 0xbe, 0xef};

TEST(CsrBuilder, RoundTripWithCustomExtensionAndUriSans) {
  for (KeyType t : {KeyType::EcP256, KeyType::EcP384}) {
    PrivateKey key = PrivateKey::generate(t);
    SubjectAltNames sans;
    sans.uris = {"slug://localhost/user/repo:1.0.0", "https://drawbridge.example/u/r"};
    sans.dns = {"keep.example"};
    Bytes der = CsrBuilder()
                    .subject_alt_names(sans)
                    .add_extension({"1.3.6.1.4.1.58270.1.3", false, kEvidence})
                    .add_extension({"1.2.3.4.5", true, {0x05, 0x00}})
                    .build_der(key);
    CertificationRequest req = CertificationRequest::from_der(der);
    EXPECT_EQ(req.to_der(), der);
    EXPECT_EQ(req.version(), 0);
    EXPECT_TRUE(req.verify_self_signature());
    EXPECT_EQ(req.public_key(), key.public_key());
    EXPECT_EQ(req.spki_der(), key.public_key().spki_der());
    EXPECT_EQ(req.subject(), "");
    EXPECT_EQ(to_hex(req.subject_der()), "3000");  // empty RDNSequence
    EXPECT_EQ(req.attribute_oids(), std::vector<std::string>{"1.2.840.113549.1.9.14"});
    auto exts = req.extensions();
    ASSERT_EQ(exts.size(), 3u);
    EXPECT_EQ(exts[0].oid, "2.5.29.17");
    EXPECT_EQ(exts[1].oid, "1.3.6.1.4.1.58270.1.3");
    EXPECT_FALSE(exts[1].critical);
    EXPECT_EQ(exts[1].value, kEvidence);
    EXPECT_EQ(exts[2].oid, "1.2.3.4.5");
    EXPECT_TRUE(exts[2].critical);
    EXPECT_EQ(req.subject_alt_names().uris, sans.uris);
    EXPECT_EQ(req.subject_alt_names().dns, sans.dns);
    const int sig_nid = X509_REQ_get_signature_nid(req.get());
    EXPECT_EQ(sig_nid, t == KeyType::EcP384 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256);
    // PEM round trip.
    EXPECT_EQ(CertificationRequest::from_pem(req.to_pem()).to_der(), der);
  }
}

TEST(CsrBuilder, DuplicatesAndSubject) {
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
  Bytes der = CsrBuilder()
                  .subject({{"CN", "keep"}, {"O", "Enarx"}})
                  .add_extension({"1.3.6.1.4.1.58270.1.3", false, {0x05, 0x00}})
                  .add_extension({"1.3.6.1.4.1.58270.1.3", false, {0x02, 0x01, 0x01}})
                  .build_der(key);
  CertificationRequest req = CertificationRequest::from_der(der);
  EXPECT_EQ(req.subject(), "O=Enarx,CN=keep");
  auto exts = req.extensions();
  ASSERT_EQ(exts.size(), 2u);  // duplicates preserved, in order
  EXPECT_EQ(to_hex(exts[0].value), "0500");
  EXPECT_EQ(to_hex(exts[1].value), "020101");

  // No extensions: no attributes at all.
  CertificationRequest bare = CertificationRequest::from_der(CsrBuilder().build_der(key));
  EXPECT_TRUE(bare.attribute_oids().empty());
  EXPECT_TRUE(bare.extensions().empty());
  EXPECT_TRUE(bare.verify_self_signature());
}

TEST(CsrBuilder, OtherKeyTypes) {
  for (KeyType t : {KeyType::Ed25519, KeyType::Rsa}) {
    PrivateKey key = PrivateKey::generate(t);
    Bytes der = CsrBuilder().add_extension({"1.3.6.1.4.1.58270.1.1", false, kEvidence}).build_der(key);
    CertificationRequest req = CertificationRequest::from_der(der);
    EXPECT_TRUE(req.verify_self_signature()) << to_string(t);
    EXPECT_EQ(req.public_key().type(), t);
    EXPECT_EQ(req.extensions().size(), 1u);
  }
}

// Reads our CSR back with the OpenSSL CLI, as an independent parser.
TEST(CsrBuilder, OpensslCliReadsItBack) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  PrivateKey key = PrivateKey::generate(KeyType::EcP384);
  SubjectAltNames sans;
  sans.uris = {"slug://localhost/user/repo:1.0.0"};
  Bytes der = CsrBuilder()
                  .subject_alt_names(sans)
                  .add_extension({"1.3.6.1.4.1.58270.1.3", false, kEvidence})
                  .build_der(key);
  const std::string path = ::testing::TempDir() + "/csr_test_cli.der";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  }
  std::string out;
  FILE* p = popen(("openssl req -text -noout -verify -inform DER -in " + path + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(pclose(p), 0) << out;
  std::remove(path.c_str());
  EXPECT_NE(out.find("URI:slug://localhost/user/repo:1.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("1.3.6.1.4.1.58270.1.3"), std::string::npos) << out;
  EXPECT_NE(out.find("secp384r1"), std::string::npos) << out;
  const bool verified = out.find("verify OK") != std::string::npos ||
                        out.find("Certificate request self-signature verify OK") != std::string::npos;
  EXPECT_TRUE(verified) << out;
}

TEST(CertificationRequest, RejectsMalformed) {
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
  Bytes der = CsrBuilder().add_extension({"1.3.6.1.4.1.58270.1.2", false, kEvidence}).build_der(key);
  for (std::size_t cut : {std::size_t{1}, std::size_t{10}, der.size() / 2, der.size() - 1}) {
    Bytes t(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(error_code([&] { CertificationRequest::from_der(t); }), "csr.malformed") << cut;
  }
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(error_code([&] { CertificationRequest::from_der(trailing); }), "csr.malformed");
  EXPECT_EQ(error_code([&] { CertificationRequest::from_der({}); }), "csr.malformed");
  EXPECT_EQ(error_code([&] { CertificationRequest::from_pem("nope"); }), "csr.malformed");
  // A BER (non-minimal) length inside: 0x30 0x81 0x05 ... is rejected even if OpenSSL would not.
  Bytes ber = from_hex("3081050201000500");
  EXPECT_EQ(error_code([&] { CertificationRequest::from_der(ber); }), "csr.malformed");
  // A certificate is not a CSR.
  Certificate cert = CertificateBuilder()
                         .subject({{"CN", "x"}})
                         .validity(parse_rfc3339("2024-01-01T00:00:00Z"),
                                   parse_rfc3339("2025-01-01T00:00:00Z"))
                         .sign(key);
  EXPECT_EQ(error_code([&] { CertificationRequest::from_der(cert.to_der()); }), "csr.malformed");
}

TEST(CertificationRequest, FlippedSignatureFailsVerification) {
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
  Bytes der = CsrBuilder().add_extension({"1.3.6.1.4.1.58270.1.2", false, kEvidence}).build_der(key);
  Bytes bad = der;
  bad[bad.size() - 3] ^= 0x01;
  CertificationRequest req = CertificationRequest::from_der(bad);
  EXPECT_FALSE(req.verify_self_signature());
  // Tampered extension content also breaks the signature.
  Bytes bad2 = der;
  auto pos = std::search(bad2.begin(), bad2.end(), kEvidence.begin(), kEvidence.end());
  ASSERT_NE(pos, bad2.end());
  pos[4] ^= 0xff;
  EXPECT_FALSE(CertificationRequest::from_der(bad2).verify_self_signature());
}

struct RealCsr {
  const char* file;
  const char* oid;
  KeyType key;
};

TEST(CertificationRequest, RealEnarxCsrs) {
  REQUIRE_SHARED();
  for (const RealCsr& c : {RealCsr{"steward_milan_snp.csr", "1.3.6.1.4.1.58270.1.3", KeyType::EcP384},
                           RealCsr{"steward_icelake_sgx_xeon.csr", "1.3.6.1.4.1.58270.1.2",
                                   KeyType::EcP256}}) {
    SCOPED_TRACE(c.file);
    Bytes der = slurp(shared_dir() + "/testvectors/csr/" + c.file);
    ASSERT_FALSE(der.empty());
    CertificationRequest req = CertificationRequest::from_der(der);
    EXPECT_EQ(req.to_der(), der);
    EXPECT_TRUE(req.verify_self_signature());
    EXPECT_EQ(req.version(), 0);
    EXPECT_EQ(req.public_key().type(), c.key);
    EXPECT_EQ(to_hex(req.subject_der()), "3000");
    EXPECT_EQ(req.attribute_oids(), std::vector<std::string>{"1.2.840.113549.1.9.14"});
    auto exts = req.extensions();
    ASSERT_EQ(exts.size(), 1u);
    EXPECT_EQ(exts[0].oid, c.oid);
    EXPECT_FALSE(exts[0].critical);
    EXPECT_GT(exts[0].value.size(), 1000u);
    // The evidence is itself one DER element.
    EXPECT_NO_THROW(der::parse_single(exts[0].value));

    Bytes flipped = der;
    flipped[flipped.size() - 2] ^= 0x01;
    EXPECT_FALSE(CertificationRequest::from_der(flipped).verify_self_signature());
    Bytes truncated(der.begin(), der.end() - 1);
    EXPECT_EQ(error_code([&] { CertificationRequest::from_der(truncated); }), "csr.malformed");
  }
}

}  // namespace
}  // namespace enarx
