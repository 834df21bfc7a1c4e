// Real quotes from ../shared/testvectors verified at each MANIFEST case's `attime`, with the
// expected TCB status, plus the negative cases that can be made from the real files.
#include <gtest/gtest.h>

#include "attest/dcap/appraise.h"
#include "attest/dcap/verify.h"
#include "core/openssl.h"
#include "dcap_test_util.h"

namespace enarx::attest::dcap {
namespace {

using namespace testing;

VerifyOptions opts(const char* when) {
  VerifyOptions o;
  o.at = at(when);
  return o;
}

std::vector<Certificate> pem_chain(const std::string& rel) {
  return Certificate::chain_from_pem(read_text_file(tv(rel)));
}

// SGX-02 / SGX-03 collateral (Intel PCS, 2023).
Collateral mobilecoin_collateral() {
  Collateral c;
  c.tcb_info = tcb_info("sgx/g02_mobilecoin/tcbinfo_00906ED50000_2023-07-12.json");
  c.qe_identity = qe_identity("sgx/g02_mobilecoin/qe_identity_2023-07-12.json");
  c.tcb_signing_chain = pem_chain("sgx/common/intel_tcb_signing_2018-2025.pem");
  c.crls = {crl("sgx/g02_mobilecoin/pck_processor_crl_2023-04-21.der"),
            crl("sgx/common/intel_root_ca_crl_2023-04-03.der")};
  return c;
}

// TDX-06 / TDX-07 collateral (SPR, 2023-06).
Collateral spr_collateral() {
  Collateral c;
  c.tcb_info = tcb_info("tdx/t06_gotdx_spr/tcbinfo_response_50806f000000_2023-06-18.json");
  c.qe_identity = qe_identity("tdx/t06_gotdx_spr/qe_identity_response_2023-06-08.json");
  c.tcb_signing_chain = pem_chain("sgx/common/intel_tcb_signing_2018-2025.pem");
  c.crls = {crl("tdx/t06_gotdx_spr/pck_platform_crl_2023-06-08.der"),
            crl("sgx/common/intel_root_ca_crl_2023-04-03.der")};
  return c;
}

Collateral gcp_collateral() {
  Collateral c;
  c.tcb_info = tcb_info("tdx/t12_gcp_cos/tcbinfo_00806F050000_2025-10-19.json");
  c.qe_identity = qe_identity("tdx/t12_gcp_cos/td_qe_identity_2025-10-13.json");
  c.tcb_signing_chain = pem_chain("sgx/common/intel_tcb_signing_chain_2025-2032.pem");
  c.crls = {crl("tdx/t12_gcp_cos/pck_platform_crl_2025-10-13.der"),
            crl("sgx/common/intel_root_ca_crl_2025-03-20.der")};
  return c;
}

VerifiedQuote verify(const std::string& quote, const Collateral& c, const VerifyOptions& o) {
  return verify_quote(parse_quote(load_quote(quote)), c, TrustStore::intel(), o);
}

TEST(DcapVerify, PinnedRoot) {
  EXPECT_EQ(to_hex(intel_sgx_root_ca().fingerprint_sha256()), kIntelSgxRootCaSha256);
  EXPECT_EQ(intel_tcb_signing_certs().size(), 2u);
  EXPECT_EQ(intel_tcb_signing_certs()[0].public_key(), intel_tcb_signing_certs()[1].public_key());
}

TEST(DcapVerify, Sgx01PhalaConfigurationAndSWHardeningNeeded) {
  DCAP_REQUIRE_VECTORS();
  const auto v = verify("sgx/g01_phala/quote.bin", qvl_collateral("sgx/g01_phala/collateral.json"),
                        opts("2025-07-01T00:00:00Z"));
  ASSERT_TRUE(v.tcb);
  EXPECT_EQ(v.tcb->status, "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(v.tcb->tcb_date, "2024-03-13T00:00:00Z");
  EXPECT_EQ(v.tcb->qe_status, "UpToDate");
  EXPECT_EQ(v.tcb->advisory_ids, (std::vector<std::string>{"INTEL-SA-00289", "INTEL-SA-00615"}));
  EXPECT_FALSE(v.simulated);
  EXPECT_EQ(v.pck_chain.size(), 3u);
  EXPECT_EQ(v.pck_chain[1].subject_common_name(), "Intel SGX PCK Processor CA");
  EXPECT_EQ(v.crls.size(), 2u);
  const auto c = claims(v);
  EXPECT_EQ(c["platform"], "sgx");
  EXPECT_EQ(c["tcb_status"], "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(c["measurement"], "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(c["sgx"]["fmspc"], "00a067110000");
  EXPECT_EQ(c["sgx"]["qe_tcb_status"], "UpToDate");
  EXPECT_EQ(c["collateral"]["tcb_evaluation_data_number"], 17);
  EXPECT_EQ(c["verified_at"], "2025-07-01T00:00:00Z");

  SgxPolicy p;
  EXPECT_EQ(appraise(v, p).failures.at(0).code, "sgx.policy.tcb_status_not_allowed");
  p.allowed_tcb_statuses = {"UpToDate", "ConfigurationAndSWHardeningNeeded"};
  EXPECT_TRUE(appraise(v, p).accepted());
  p.allowed_advisories = std::vector<std::string>{"INTEL-SA-00289"};
  const auto a = appraise(v, p);
  ASSERT_EQ(a.failures.size(), 1u);
  EXPECT_EQ(a.failures[0].code, "sgx.policy.advisory_not_allowed");
}

TEST(DcapVerify, Sgx02MobilecoinCrlExpiredUnlessGrace) {
  DCAP_REQUIRE_VECTORS();
  auto o = opts("2023-07-14T00:00:00Z");
  EXPECT_EQ(error_code([&] { verify("sgx/g02_mobilecoin/quote.bin", mobilecoin_collateral(), o); }),
            "dcap.crl.expired");
  o.collateral_grace = std::chrono::hours(24 * 60);
  const auto v = verify("sgx/g02_mobilecoin/quote.bin", mobilecoin_collateral(), o);
  EXPECT_EQ(v.tcb->status, "SWHardeningNeeded");
  EXPECT_EQ(v.tcb->qe_status, "UpToDate");
  EXPECT_EQ(v.tcb->advisory_ids, (std::vector<std::string>{"INTEL-SA-00334", "INTEL-SA-00615"}));
  // At 2023-05-15 the CRL is current but the PCK is not yet valid.
  EXPECT_EQ(error_code([&] {
              verify("sgx/g02_mobilecoin/quote.bin", mobilecoin_collateral(), opts("2023-05-15T00:00:00Z"));
            }),
            "dcap.pck.chain_not_yet_valid");
}

TEST(DcapVerify, Sgx03OlderPlatformOutOfDate) {
  DCAP_REQUIRE_VECTORS();
  auto o = opts("2023-07-14T00:00:00Z");
  o.collateral_grace = std::chrono::hours(24 * 60);
  const auto v = verify("sgx/g03_mobilecoin_sgxcrate/quote.bin", mobilecoin_collateral(), o);
  EXPECT_EQ(v.tcb->platform_status, "OutOfDate");
  EXPECT_EQ(v.tcb->qe_status, "OutOfDate");
  EXPECT_EQ(v.tcb->status, "OutOfDate");
  EXPECT_EQ(v.tcb->tcb_date, "2021-11-10T00:00:00Z");
  const auto a = appraise(v, SgxPolicy{});
  std::vector<std::string> codes;
  for (const auto& f : a.failures) codes.push_back(f.code);
  EXPECT_NE(std::find(codes.begin(), codes.end(), "sgx.policy.debug_not_allowed"), codes.end());
  EXPECT_NE(std::find(codes.begin(), codes.end(), "sgx.policy.tcb_status_not_allowed"), codes.end());
}

TEST(DcapVerify, Sgx05StewardXeonPlatformCa) {
  DCAP_REQUIRE_VECTORS();
  Collateral c;
  c.tcb_info = tcb_info("sgx/g05_steward_xeon/tcbinfo_00606A000000_2023-01-26.json");
  c.crls = {crl("sgx/g05_steward_xeon/pck_platform_crl_2023-01-25.der"),
            crl("sgx/common/intel_root_ca_crl_2022-04-19.der")};
  auto o = opts("2023-01-28T00:00:00Z");
  // No QE identity was recorded for this quote (the 2023-07 one is not valid yet in 2023-01).
  EXPECT_EQ(error_code([&] { verify("sgx/g05_steward_xeon/quote.bin", c, o); }),
            "dcap.collateral.qe_identity_missing");
  o.require_qe_identity = false;
  const auto v = verify("sgx/g05_steward_xeon/quote.bin", c, o);
  EXPECT_EQ(v.tcb->status, "OutOfDate");
  EXPECT_EQ(v.tcb->advisory_ids, (std::vector<std::string>{"INTEL-SA-00586", "INTEL-SA-00614",
                                                           "INTEL-SA-00615", "INTEL-SA-00657"}));
  EXPECT_EQ(v.pck_chain[1].subject_common_name(), "Intel SGX PCK Platform CA");
  EXPECT_FALSE(claims(v)["collateral"]["qe_identity_checked"]);
  // With the 2023-07 QE identity and a relaxed clock the QE is OutOfDate too.
  Collateral with_qe = c;
  with_qe.qe_identity = qe_identity("sgx/g02_mobilecoin/qe_identity_2023-07-12.json");
  EXPECT_EQ(error_code([&] { verify("sgx/g05_steward_xeon/quote.bin", with_qe, opts("2023-01-28T00:00:00Z")); }),
            "dcap.collateral.not_yet_valid");
  // The Processor-CA CRL does not cover a Platform-CA PCK.
  Collateral wrong = c;
  wrong.crls = {crl("sgx/g05_steward_xeon/pck_processor_crl_2023-01-25.der"),
                crl("sgx/common/intel_root_ca_crl_2022-04-19.der")};
  EXPECT_EQ(error_code([&] { verify("sgx/g05_steward_xeon/quote.bin", wrong, o); }), "dcap.crl.missing");
}

TEST(DcapVerify, Tdx01PhalaUpToDate) {
  DCAP_REQUIRE_VECTORS();
  const auto v = verify("tdx/t01_phala/quote.bin", qvl_collateral("tdx/t01_phala/collateral.json"),
                        opts("2025-07-01T00:00:00Z"));
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_EQ(v.tcb->tdx_module_id, "TDX_01");
  EXPECT_EQ(v.tcb->tdx_module_status, "UpToDate");
  EXPECT_EQ(v.tcb->qe_status, "UpToDate");
  const auto c = claims(v);
  EXPECT_EQ(c["platform"], "tdx");
  EXPECT_EQ(c["measurement"],
            "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7");
  EXPECT_TRUE(c["signer"].is_null());
  EXPECT_EQ(c["tdx"]["tdx_module"]["isvsvn"], 6);
  EXPECT_EQ(c["tdx"]["tdx_module"]["major"], 1);
  EXPECT_TRUE(c["tdx"]["td_attributes"]["sept_ve_disable"]);
  EXPECT_FALSE(c["debug"]);
  EXPECT_TRUE(appraise(v, TdxPolicy{}).accepted());
  // The same quote, ask at "now": the collateral is long expired.
  EXPECT_NE(error_code([&] {
              verify("tdx/t01_phala/quote.bin", qvl_collateral("tdx/t01_phala/collateral.json"),
                     opts("2026-11-23T00:00:00Z"));
            }),
            "");
}

TEST(DcapVerify, Tdx02V5NoMatchingTcbLevel) {
  DCAP_REQUIRE_VECTORS();
  EXPECT_EQ(error_code([] {
              verify("tdx/t02_phala_outdated/quote.bin", qvl_collateral("tdx/t02_phala_outdated/collateral.json"),
                     opts("2026-03-01T00:00:00Z"));
            }),
            "dcap.tcb.not_supported");
  // Signatures only (no TCB info): the crypto is all valid.
  auto c = qvl_collateral("tdx/t02_phala_outdated/collateral.json");
  c.tcb_info.reset();
  auto o = opts("2026-03-01T00:00:00Z");
  o.require_tcb_info = false;
  const auto v = verify("tdx/t02_phala_outdated/quote.bin", c, o);
  EXPECT_FALSE(v.tcb);
  EXPECT_EQ(claims(v)["tdx"]["tee_tcb_svn2"], "0d010300000000000000000000000000");
}

TEST(DcapVerify, Tdx04TappdNoMatchingTcbLevel) {
  DCAP_REQUIRE_VECTORS();
  EXPECT_EQ(error_code([] {
              verify("tdx/t04_phala_tappd/quote.hex", qvl_collateral("tdx/t01_phala/collateral.json"),
                     opts("2025-07-01T00:00:00Z"));
            }),
            "dcap.tcb.not_supported");
}

TEST(DcapVerify, Tdx05V5UpToDate) {
  DCAP_REQUIRE_VECTORS();
  const auto v = verify("tdx/t05_gotdx_v5/quote.bin", qvl_collateral("tdx/t02_phala_outdated/collateral.json"),
                        opts("2026-03-01T00:00:00Z"));
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_EQ(v.tcb->tdx_module_id, "TDX_01");
  EXPECT_EQ(v.tcb->tcb_date, "2024-11-13T00:00:00Z");
  // go-tdx-guest's TCB info sample (2026-02-01) gives the same level; no CRLs, no QE identity,
  // and no TCB signing chain supplied (the embedded 2025 copy is used).
  Collateral c;
  c.tcb_info = tcb_info("tdx/t05_gotdx_v5/tcbinfo_response_90c06f000000_2026-02-01.json");
  auto o = opts("2026-02-15T00:00:00Z");
  o.require_crls = false;
  o.require_qe_identity = false;
  const auto v2 = verify("tdx/t05_gotdx_v5/quote.bin", c, o);
  EXPECT_EQ(v2.tcb->status, "UpToDate");
  EXPECT_TRUE(v2.crls.empty());
}

TEST(DcapVerify, Tdx06SprNoMatchingTcbLevel) {
  DCAP_REQUIRE_VECTORS();
  EXPECT_EQ(error_code([] { verify("tdx/t06_gotdx_spr/quote.bin", spr_collateral(), opts("2023-06-20T00:00:00Z")); }),
            "dcap.tcb.not_supported");
}

TEST(DcapVerify, Tdx07DebugTdRejectedByPolicy) {
  DCAP_REQUIRE_VECTORS();
  const auto v = verify("tdx/t07_trustee_debug_td/quote.bin", spr_collateral(), opts("2023-06-20T00:00:00Z"));
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_FALSE(v.tcb->tdx_module_id);
  TdxPolicy p;
  const auto a = appraise(v, p);
  ASSERT_EQ(a.failures.size(), 1u);
  EXPECT_EQ(a.failures[0].code, "tdx.policy.debug_not_allowed");
  EXPECT_TRUE(a.claims["debug"]);
  p.allow_debug = true;
  EXPECT_TRUE(appraise(v, p).accepted());
}

TEST(DcapVerify, Tdx10OutOfDateWithModuleTdx03) {
  DCAP_REQUIRE_VECTORS();
  Collateral c;
  c.tcb_info = tcb_info("tdx/t10_trustee_q6/tcbinfo_00A06D080000_2025-10-27.json");
  c.qe_identity = qe_identity("tdx/t10_trustee_q6/td_qe_identity_2025-10-28.json");
  c.tcb_signing_chain = pem_chain("sgx/common/intel_tcb_signing_chain_2025-2032.pem");
  c.crls = {crl("tdx/t12_gcp_cos/pck_platform_crl_2025-10-13.der"),
            crl("sgx/common/intel_root_ca_crl_2025-03-20.der")};
  const auto v = verify("tdx/t10_trustee_q6/quote.bin", c, opts("2025-10-29T00:00:00Z"));
  EXPECT_EQ(v.tcb->status, "OutOfDate");
  EXPECT_EQ(v.tcb->tdx_module_id, "TDX_03");
  EXPECT_EQ(v.tcb->tdx_module_status, "UpToDate");
  EXPECT_EQ(v.tcb->qe_status, "UpToDate");
  EXPECT_EQ(claims(v)["tdx"]["sgx_type"], "ScalableWithIntegrity");
}

TEST(DcapVerify, Tdx12GcpUpToDate) {
  DCAP_REQUIRE_VECTORS();
  const auto v = verify("tdx/t12_gcp_cos/quote.bin", gcp_collateral(), opts("2025-10-20T12:00:00Z"));
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_EQ(v.tcb->tdx_module_status, "UpToDate");
  EXPECT_EQ(claims(v)["tdx"]["tdx_module"]["isvsvn"], 4);
  EXPECT_EQ(claims(v)["report_data"], std::string(128, '0'));
}

TEST(DcapVerify, FreshnessAndSignerErrors) {
  DCAP_REQUIRE_VECTORS();
  // TCB info expired (no CRLs so the CRL dates do not answer first).
  Collateral c = gcp_collateral();
  c.crls.clear();
  auto o = opts("2025-11-20T00:00:00Z");
  o.require_crls = false;
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", c, o); }), "dcap.collateral.expired");
  o.at = at("2025-10-15T00:00:00Z");
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", c, o); }), "dcap.collateral.not_yet_valid");
  // CRL expired at "now".
  EXPECT_EQ(error_code([] { verify("tdx/t12_gcp_cos/quote.bin", gcp_collateral(), opts("2026-11-23T00:00:00Z")); }),
            "dcap.crl.expired");
  // 2023 collateral signed by the TCB signing key: only the 2018-2025 copy was valid then, and
  // the embedded copies are enough even when the chain is not supplied.
  Collateral spr = spr_collateral();
  spr.tcb_signing_chain.clear();
  EXPECT_EQ(error_code([&] { verify("tdx/t07_trustee_debug_td/quote.bin", spr, opts("2023-06-20T00:00:00Z")); }), "");
  // The wrong FMSPC's TCB info.
  Collateral other = gcp_collateral();
  other.tcb_info = tcb_info("tdx/t10_trustee_q6/tcbinfo_00A06D080000_2025-10-27.json");
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", other, opts("2025-10-29T00:00:00Z")); }),
            "dcap.collateral.fmspc_mismatch");
  // SGX collateral for a TDX quote.
  Collateral sgx = qvl_collateral("sgx/g01_phala/collateral.json");
  sgx.crls.clear();
  auto o2 = opts("2025-07-01T00:00:00Z");
  o2.require_crls = false;
  EXPECT_EQ(error_code([&] { verify("tdx/t01_phala/quote.bin", sgx, o2); }), "dcap.collateral.wrong_type");
}

TEST(DcapVerify, TamperedCollateralSignatures) {
  DCAP_REQUIRE_VECTORS();
  const std::string text = read_text_file(tv("tdx/t12_gcp_cos/tcbinfo_00806F050000_2025-10-19.json"));
  std::string tampered = text;
  const auto pos = tampered.find("\"UpToDate\"");
  ASSERT_NE(pos, std::string::npos);
  tampered.replace(pos, 10, "\"OutOfDate\"");
  Collateral c = gcp_collateral();
  c.tcb_info = parse_tcb_info_document(tampered);
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", c, opts("2025-10-20T12:00:00Z")); }),
            "dcap.collateral.tcb_info_signature_invalid");
  // Whitespace in the signed value breaks it too (the signature is over the exact bytes).
  std::string spaced = text;
  spaced.insert(spaced.find("\"version\""), " ");
  c.tcb_info = parse_tcb_info_document(spaced);
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", c, opts("2025-10-20T12:00:00Z")); }),
            "dcap.collateral.tcb_info_signature_invalid");
  // ... but whitespace outside the value does not.
  c.tcb_info = parse_tcb_info_document(" " + text + "\n");
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", c, opts("2025-10-20T12:00:00Z")); }), "");

  std::string qe = read_text_file(tv("tdx/t12_gcp_cos/td_qe_identity_2025-10-13.json"));
  qe[qe.find("\"isvprodid\":2") + 12] = '3';
  Collateral d = gcp_collateral();
  d.qe_identity = parse_enclave_identity_document(qe);
  EXPECT_EQ(error_code([&] { verify("tdx/t12_gcp_cos/quote.bin", d, opts("2025-10-20T12:00:00Z")); }),
            "dcap.collateral.qe_identity_signature_invalid");
}

TEST(DcapVerify, SingleByteMutationsOfSignedRegions) {
  DCAP_REQUIRE_VECTORS();
  const Bytes raw = load_quote("tdx/t12_gcp_cos/quote.bin");
  const Quote good = parse_quote(raw);
  const Collateral c = gcp_collateral();
  const auto o = opts("2025-10-20T12:00:00Z");
  auto code_after_flip = [&](std::size_t off) {
    Bytes b = raw;
    b[off] ^= 0x01;
    return error_code([&] { verify_quote(parse_quote(b), c, TrustStore::intel(), o); });
  };
  // Header and body (skipping the header fields the parser itself judges).
  for (std::size_t off : {std::size_t{8}, std::size_t{40}, std::size_t{28}, std::size_t{48}, std::size_t{200},
                          std::size_t{520}, std::size_t{631}}) {
    EXPECT_EQ(code_after_flip(off), "dcap.quote.signature_invalid") << off;
  }
  const std::size_t sig = 632 + 4;
  EXPECT_EQ(code_after_flip(sig + 10), "dcap.quote.signature_invalid");       // quote signature
  EXPECT_NE(code_after_flip(sig + 64 + 5), "");                               // attestation key
  const std::size_t qe_report = sig + 128 + 6;
  EXPECT_EQ(code_after_flip(qe_report + 100), "dcap.quote.qe_report_signature_invalid");
  EXPECT_EQ(code_after_flip(qe_report + 384 + 3), "dcap.quote.qe_report_signature_invalid");
  const std::size_t auth = qe_report + 384 + 64 + 2;
  EXPECT_EQ(code_after_flip(auth + 1), "dcap.quote.qe_report_data_mismatch");
  // Trailing padding is not signed and not used.
  EXPECT_EQ(code_after_flip(raw.size() - 1), "");
  (void)good;
}

TEST(DcapVerify, WrongRootIsUntrusted) {
  DCAP_REQUIRE_VECTORS();
  TrustStore other;
  const auto key = PrivateKey::generate(KeyType::EcP256);
  other.add_simulated_root(CertificateBuilder()
                               .subject({{"CN", "Intel SGX Root CA"}})
                               .public_key(key.public_key())
                               .validity(at("2018-01-01T00:00:00Z"), at("2049-01-01T00:00:00Z"))
                               .ca(true)
                               .sign(key));
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(load_quote("tdx/t12_gcp_cos/quote.bin")), gcp_collateral(), other,
                           opts("2025-10-20T12:00:00Z"));
            }),
            "dcap.pck.chain_untrusted");
}

TEST(DcapVerify, CachingVerifierReusesChainsAndCollateral) {
  DCAP_REQUIRE_VECTORS();
  CachingVerifier verifier(TrustStore::intel());
  const Quote q = parse_quote(load_quote("tdx/t12_gcp_cos/quote.bin"));
  const Collateral c = gcp_collateral();
  const auto o = opts("2025-10-20T12:00:00Z");
  const auto v1 = verifier.verify(q, c, o);
  EXPECT_EQ(verifier.cache_hits(), 0u);
  const auto v2 = verifier.verify(q, c, o);
  EXPECT_EQ(verifier.cache_hits(), 4u);  // PCK chain, QE report, TCB info, QE identity
  EXPECT_EQ(claims(v1), claims(v2));
  // Outside the cached window the full checks run again (and fail on the expired CRL).
  EXPECT_EQ(error_code([&] { verifier.verify(q, c, opts("2026-11-23T00:00:00Z")); }), "dcap.crl.expired");
  // A tampered quote is still rejected with a warm cache.
  Bytes raw = load_quote("tdx/t12_gcp_cos/quote.bin");
  raw[100] ^= 1;
  EXPECT_EQ(error_code([&] { verifier.verify(parse_quote(raw), c, o); }), "dcap.quote.signature_invalid");
}

}  // namespace
}  // namespace enarx::attest::dcap

namespace enarx::attest::dcap {
namespace {

using namespace testing;

// A CRL from nobody the verification knows: what an attacker adds to make each request unique.
Crl junk_crl(const PrivateKey& key, int n) {
  ossl::X509CrlPtr c(X509_CRL_new());
  X509_CRL_set_version(c.get(), 1);
  ossl::X509NamePtr name(X509_NAME_new());
  const std::string cn = "junk " + std::to_string(n);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509_CRL_set_issuer_name(c.get(), name.get());
  ossl::Asn1TimePtr t(ASN1_TIME_set(nullptr, 1700000000));
  X509_CRL_set1_lastUpdate(c.get(), t.get());
  X509_CRL_sign(c.get(), key.get(), EVP_sha256());
  return Crl(std::move(c));
}

// The attack: 2,000 requests that differ by one junk CRL used to add a cache entry each (the
// key covered every CRL), never evicted. The key now covers only the CRLs of the chain's CAs.
TEST(DcapVerify, JunkCrlsDoNotGrowTheCaches) {
  DCAP_REQUIRE_VECTORS();
  CachingVerifier verifier(TrustStore::intel());
  const Quote q = parse_quote(load_quote("tdx/t12_gcp_cos/quote.bin"));
  const auto o = opts("2025-10-20T12:00:00Z");
  const auto key = PrivateKey::generate(KeyType::EcP256);
  for (int i = 0; i < 2000; ++i) {
    Collateral c = gcp_collateral();
    c.crls.push_back(junk_crl(key, i));
    verifier.verify(q, c, o);
  }
  EXPECT_LE(verifier.cache_sizes().entries, 4u);
  EXPECT_GE(verifier.cache_hits(), 1999u * 4);
}

// A quote that fails verification leaves nothing in the caches (entries used to be stored as
// soon as the PCK chain verified, before the quote signature was checked).
TEST(DcapVerify, FailedQuotesLeaveNoCacheEntries) {
  DCAP_REQUIRE_VECTORS();
  CachingVerifier verifier(TrustStore::intel());
  const auto o = opts("2025-10-20T12:00:00Z");
  for (int i = 0; i < 50; ++i) {
    Bytes raw = load_quote("tdx/t12_gcp_cos/quote.bin");
    raw[100 + i] ^= 1;  // inside the signed body
    EXPECT_EQ(error_code([&] { verifier.verify(parse_quote(raw), gcp_collateral(), o); }),
              "dcap.quote.signature_invalid");
  }
  EXPECT_EQ(verifier.cache_sizes().entries, 0u);
}

}  // namespace
}  // namespace enarx::attest::dcap
