// The real Enarx SGX CSR (enarx/steward fixture): SgxEvidence decoding, verification of its
// quote with the collateral it carries, and acceptance by steward_policy.toml.
#include <gtest/gtest.h>

#include "attest/enarx/oids.h"
#include "attest/dcap/appraise.h"
#include "attest/enarx/sgx_evidence.h"
#include "core/csr.h"
#include "dcap_test_util.h"

namespace enarx::attest::dcap {
namespace {

using namespace testing;

struct CsrParts {
  Bytes spki;
  Bytes extension;
};

CsrParts load_csr() {
  const auto csr = CertificationRequest::from_der(read_file(tv("csr/steward_icelake_sgx_xeon.csr")));
  EXPECT_TRUE(csr.verify_self_signature());
  for (const auto& ext : csr.extensions()) {
    if (ext.oid == oids::kSgxEvidence) {
      EXPECT_FALSE(ext.critical);
      return {csr.spki_der(), ext.value};
    }
  }
  ADD_FAILURE() << "no SGX evidence extension";
  return {};
}

SgxPolicy steward_policy() {
  const auto doc = toml::parse_file(tv("csr/steward_policy.toml").string());
  SgxPolicy p = SgxPolicy::from_toml(*doc["sgx"].as_table());
  // Enarx CSRs carry no QE identity: Enarx-compatible configurations say so explicitly.
  p.require_qe_identity = false;
  return p;
}

TEST(DcapEnarxCsr, DecodesSgxEvidence) {
  DCAP_REQUIRE_VECTORS();
  const auto parts = load_csr();
  const SgxEvidence e = decode_sgx_evidence(parts.extension);
  EXPECT_EQ(e.quote, read_file(tv("sgx/g05_steward_xeon/quote.bin")));
  EXPECT_EQ(e.tcb.report, read_file(tv("sgx/g05_steward_xeon/tcbinfo_00606A000000_2023-01-26.json")));
  ASSERT_EQ(e.crls.size(), 3u);
  ASSERT_EQ(e.tcb.certs.size(), 2u);
  EXPECT_EQ(e.tcb.certs[0].subject_common_name(), "Intel SGX TCB Signing");
  // Byte-exact round trip.
  EXPECT_EQ(encode_sgx_evidence(e), parts.extension);
  EXPECT_EQ(error_code([&] { decode_sgx_evidence(ByteView(parts.extension).first(100)); }),
            "evidence.sgx_malformed");
}

TEST(DcapEnarxCsr, AcceptedWithStewardPolicy) {
  DCAP_REQUIRE_VECTORS();
  const auto parts = load_csr();
  const SgxEvidence e = decode_sgx_evidence(parts.extension);
  const SgxPolicy p = steward_policy();
  const Quote q = parse_quote(e.quote, {.strict_trailing = true});
  const auto v = verify_quote(q, collateral_from_sgx_evidence(e), TrustStore::intel(),
                              p.verify_options(at("2023-01-28T00:00:00Z")));
  EXPECT_EQ(v.tcb->status, "OutOfDate");
  const Appraisal a = appraise(v, p, ByteView(parts.spki));
  for (const auto& f : a.failures) ADD_FAILURE() << f.code << ": " << f.message;
  EXPECT_TRUE(a.accepted());
  EXPECT_FALSE(a.claims["collateral"]["qe_identity_checked"]);
  EXPECT_EQ(a.claims["collateral"]["crls"].size(), 2u);

  // The same evidence fails our default policy (status OutOfDate) and a foreign key binding.
  SgxPolicy strict;
  strict.require_qe_identity = false;
  std::vector<std::string> codes;
  for (const auto& f : appraise(v, strict).failures) codes.push_back(f.code);
  EXPECT_EQ(codes, std::vector<std::string>{"sgx.policy.tcb_status_not_allowed"});
  const Bytes other = PrivateKey::generate(KeyType::EcP256).public_key().spki_der();
  EXPECT_EQ(appraise(v, p, ByteView(other)).failures.at(0).code, "sgx.policy.report_data_mismatch");
  // Enarx's own rejections: wrong signer, ISVSVN minimum, an advisory not allowed.
  SgxPolicy wrong_signer = p;
  wrong_signer.signer = {Bytes(32, 1)};
  EXPECT_EQ(appraise(v, wrong_signer).failures.at(0).code, "sgx.policy.signer_not_allowed");
  SgxPolicy high_svn = p;
  high_svn.enclave_security_version = 9999;
  EXPECT_EQ(appraise(v, high_svn).failures.at(0).code, "sgx.policy.security_version_too_low");
  SgxPolicy fewer = p;
  fewer.allowed_advisories->pop_back();  // drops INTEL-SA-00657
  EXPECT_EQ(appraise(v, fewer).failures.at(0).code, "sgx.policy.advisory_not_allowed");

  // Default policy requires a QE identity, which Enarx evidence does not carry.
  EXPECT_EQ(error_code([&] {
              verify_quote(q, collateral_from_sgx_evidence(e), TrustStore::intel(),
                           SgxPolicy{}.verify_options(at("2023-01-28T00:00:00Z")));
            }),
            "dcap.collateral.qe_identity_missing");
  // Outside the collateral's validity.
  EXPECT_EQ(error_code([&] {
              verify_quote(q, collateral_from_sgx_evidence(e), TrustStore::intel(),
                           p.verify_options(at("2026-11-23T00:00:00Z")));
            }),
            "dcap.crl.expired");
}

}  // namespace
}  // namespace enarx::attest::dcap
