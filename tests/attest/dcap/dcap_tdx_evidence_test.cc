// TdxEvidence and TcbPackage: the one DER codec keeps (src/platform) and steward share.
// Built from real parts: a real TDX quote, the CRLs and TcbPackage carried by Enarx's real SGX
// CSR, a real TD_QE identity body.
#include <gtest/gtest.h>

#include "attest/enarx/oids.h"
#include "attest/enarx/sgx_evidence.h"
#include "attest/enarx/tdx_evidence.h"
#include "attest/enarx/tcb_package.h"
#include "core/csr.h"
#include "core/der.h"
#include "dcap_test_util.h"

namespace enarx::attest::dcap {
namespace {

using namespace testing;

SgxEvidence real_sgx_evidence() {
  const auto csr = CertificationRequest::from_der(read_file(tv("csr/steward_icelake_sgx_xeon.csr")));
  for (const auto& ext : csr.extensions()) {
    if (ext.oid == oids::kSgxEvidence) return decode_sgx_evidence(ext.value);
  }
  ADD_FAILURE() << "no SGX evidence extension";
  return {};
}

TdxEvidence full_evidence() {
  const SgxEvidence sgx = real_sgx_evidence();
  TdxEvidence e;
  e.quote = read_file(tv("tdx/t10_trustee_q6/quote.bin"));
  e.crls = sgx.crls;
  e.tcb = TcbPackage{sgx.tcb.certs,
                     read_file(tv("tdx/t10_trustee_q6/tcbinfo_00A06D080000_2025-10-27.json"))};
  e.qe_identity = read_file(tv("tdx/t10_trustee_q6/td_qe_identity_2025-10-28.json"));
  return e;
}

TEST(TdxEvidenceCodec, FullFormRoundTripsByteExact) {
  DCAP_REQUIRE_VECTORS();
  const TdxEvidence e = full_evidence();
  const Bytes der = encode_tdx_evidence(e);
  const TdxEvidence back = decode_tdx_evidence(der);
  EXPECT_EQ(back.quote, e.quote);
  ASSERT_EQ(back.crls.size(), e.crls.size());
  for (std::size_t i = 0; i < e.crls.size(); ++i) {
    EXPECT_EQ(back.crls[i].url, e.crls[i].url);
    EXPECT_EQ(back.crls[i].crl.to_der(), e.crls[i].crl.to_der());
  }
  ASSERT_TRUE(back.tcb);
  ASSERT_EQ(back.tcb->certs.size(), 2u);
  EXPECT_EQ(back.tcb->certs[0].subject_common_name(), "Intel SGX TCB Signing");
  EXPECT_EQ(back.tcb->report, e.tcb->report);
  EXPECT_EQ(back.qe_identity, e.qe_identity);
  EXPECT_EQ(encode_tdx_evidence(back), der);
}

TEST(TdxEvidenceCodec, MinimalFormHasNoCollateral) {
  TdxEvidence e;
  e.quote = Bytes{1, 2, 3};
  const Bytes der = encode_tdx_evidence(e);
  // SEQUENCE { OCTET STRING 010203, CrlList SEQUENCE { SEQUENCE {} } }
  EXPECT_EQ(der, (Bytes{0x30, 0x09, 0x04, 0x03, 1, 2, 3, 0x30, 0x02, 0x30, 0x00}));
  const TdxEvidence back = decode_tdx_evidence(der);
  EXPECT_EQ(back.quote, e.quote);
  EXPECT_TRUE(back.crls.empty());
  EXPECT_FALSE(back.tcb);
  EXPECT_FALSE(back.qe_identity);
}

TEST(TdxEvidenceCodec, QeIdentityWithoutTcbPackage) {
  TdxEvidence e;
  e.quote = Bytes{9};
  e.qe_identity = to_bytes("{\"enclaveIdentity\":{}}");
  const TdxEvidence back = decode_tdx_evidence(encode_tdx_evidence(e));
  EXPECT_FALSE(back.tcb);
  EXPECT_EQ(back.qe_identity, e.qe_identity);
}

TEST(TdxEvidenceCodec, EveryTruncationIsMalformed) {
  DCAP_REQUIRE_VECTORS();
  TdxEvidence e = full_evidence();
  e.quote.resize(64);  // keep the loop short; the codec does not look inside the quote
  const Bytes der = encode_tdx_evidence(e);
  for (std::size_t n = 0; n < der.size(); n += (n < 64 ? 1 : 97)) {
    EXPECT_EQ(error_code([&] { decode_tdx_evidence(ByteView(der).first(n)); }), "evidence.tdx_malformed")
        << n;
  }
}

TEST(TdxEvidenceCodec, RejectsTrailingAndMisplacedElements) {
  TdxEvidence e;
  e.quote = Bytes{1};
  Bytes der = encode_tdx_evidence(e);
  Bytes trailing = der;
  trailing.push_back(0x00);
  EXPECT_EQ(error_code([&] { decode_tdx_evidence(trailing); }), "evidence.tdx_malformed");

  // An INTEGER where the optional TcbPackage / [0] would be.
  der::Writer w;
  w.add_octet_string(e.quote).add_raw(encode_crl_list({})).add(der::kInteger, Bytes{1});
  EXPECT_EQ(error_code([&] { decode_tdx_evidence(w.wrap(der::kSequence)); }), "evidence.tdx_malformed");

  // A TcbPackage whose certificate is not one.
  der::Writer bad_crts;
  bad_crts.add(der::kSequence, Bytes{0x02, 0x01, 0x01});
  der::Writer pkg;
  pkg.add_sequence(bad_crts).add_octet_string(Bytes{});
  der::Writer v;
  v.add_octet_string(e.quote).add_raw(encode_crl_list({})).add_sequence(pkg);
  EXPECT_EQ(error_code([&] { decode_tdx_evidence(v.wrap(der::kSequence)); }), "evidence.tdx_malformed");
}

TEST(TcbPackageCodec, SameBytesInSgxAndTdxEvidence) {
  DCAP_REQUIRE_VECTORS();
  const SgxEvidence sgx = real_sgx_evidence();
  const Bytes pkg = encode_tcb_package(sgx.tcb.certs, sgx.tcb.report);
  const TcbPackage back = decode_tcb_package(pkg);
  EXPECT_EQ(back.report, sgx.tcb.report);
  ASSERT_EQ(back.certs.size(), sgx.tcb.certs.size());
  EXPECT_EQ(encode_tcb_package(back), pkg);
  EXPECT_EQ(encode_tcb_package(back.certs, back.report), pkg);

  // The TcbPackage sits byte-identically in both containers.
  TdxEvidence tdx;
  tdx.quote = sgx.quote;
  tdx.crls = sgx.crls;
  tdx.tcb = sgx.tcb;
  const Bytes sgx_der = encode_sgx_evidence(sgx);
  const Bytes tdx_der = encode_tdx_evidence(tdx);
  EXPECT_NE(std::search(sgx_der.begin(), sgx_der.end(), pkg.begin(), pkg.end()), sgx_der.end());
  EXPECT_NE(std::search(tdx_der.begin(), tdx_der.end(), pkg.begin(), pkg.end()), tdx_der.end());
  // With all optionals present and no QE identity, the two layouts coincide.
  EXPECT_EQ(sgx_der, tdx_der);

  EXPECT_EQ(error_code([] { decode_tcb_package(Bytes{0x30, 0x00}); }), "evidence.tcb_package_malformed");
  EXPECT_EQ(error_code([&] { decode_tcb_package(ByteView(pkg).first(pkg.size() - 1)); }),
            "evidence.tcb_package_malformed");
}

}  // namespace
}  // namespace enarx::attest::dcap
