// Verification of real AMD evidence (MANIFEST.md cases s01..s08, n01) and of simulated chains
// for the checks no public sample exercises (each failure has its own error code).
#include <gtest/gtest.h>

#include "attest/snp/appraise.h"
#include "attest/snp/policy.h"
#include "attest/snp/verify.h"
#include "snp_test_util.h"
#include "support/error_code.h"

namespace enarx::attest::snp {
namespace {

using support::error_code;

using namespace testing;  // NOLINT

const char* kNow = "2026-11-23T00:00:00Z";

VerifyOptions opts(const char* t) {
  VerifyOptions o;
  o.at = at(t);
  return o;
}

std::vector<std::string> codes(const Appraisal& a) {
  std::vector<std::string> out;
  for (const auto& f : a.failures) out.push_back(f.code);
  return out;
}

Collateral coll(const Bytes& vcek) {
  Collateral c;
  c.vcek_der = vcek;
  return c;
}

const Verifier& genuine() {
  static const Verifier v;
  return v;
}

// ---------------- real evidence ----------------

TEST(SnpVerifyReal, S01MilanDebugGuest) {
  SNP_REQUIRE_VECTORS(tv);
  auto v = genuine().verify(read_file(tv / "snp/s01_milan_gosevguest/report.bin"),
                            coll(read_file(tv / "snp/s01_milan_gosevguest/vcek.der")), opts(kNow));
  EXPECT_EQ(v.product, Product::Milan);
  EXPECT_EQ(v.signing_key, SigningKey::Vcek);
  EXPECT_FALSE(v.simulated);
  EXPECT_EQ(v.reported_tcb.microcode, 68);
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_EQ(codes(a), std::vector<std::string>{"snp.policy.debug_not_allowed"});
  EXPECT_EQ(a.claims["platform"], "snp");
  EXPECT_EQ(a.claims["debug"], true);
  EXPECT_EQ(a.claims["simulated"], false);
  EXPECT_EQ(a.claims["measurement"],
            "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01");
  EXPECT_EQ(a.claims["report_data"].get<std::string>().substr(0, 12), "010203040500");
  EXPECT_EQ(a.claims["signer"], nullptr);
  EXPECT_EQ(a.claims["snp"]["product"], "Milan");
  EXPECT_EQ(a.claims["snp"]["signing_key"], "vcek");
  EXPECT_EQ(a.claims["snp"]["tcb"]["reported"]["snp"], 5);
  EXPECT_EQ(a.claims["verified_at"], kNow);
  Policy debug_ok;
  debug_ok.allow_debug = true;
  EXPECT_TRUE(appraise(v, debug_ok).accepted());
}

TEST(SnpVerifyReal, S03VlekAws) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = read_file(tv / "snp/s03_milan_vlek_aws/report.bin");
  const Bytes vlek = read_file(tv / "snp/s03_milan_vlek_aws/vlek.der");
  auto v = genuine().verify(report, coll(vlek), opts("2025-06-01T00:00:00Z"));
  EXPECT_EQ(v.signing_key, SigningKey::Vlek);
  EXPECT_EQ(v.ask.subject_common_name(), "SEV-VLEK-Milan");
  EXPECT_TRUE(v.chip_id_masked);
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_EQ(codes(a), std::vector<std::string>{"snp.policy.vmpl"});
  EXPECT_EQ(a.claims["snp"]["csp_id"], "CN=cc-us-east-2.amazonaws.com");
  EXPECT_EQ(a.claims["snp"]["cpuid"]["family"], 0x19);
  EXPECT_EQ(a.claims["snp"]["tcb"]["reported"]["microcode"], 217);
  EXPECT_EQ(a.claims["snp"]["tcb"]["current"]["microcode"], 220);
  Policy vmpl1;
  vmpl1.max_vmpl = 1;
  EXPECT_TRUE(appraise(v, vmpl1).accepted());
  // Real-world expiry: the VLEK's notAfter is 2025-12-10.
  EXPECT_EQ(error_code([&] { genuine().verify(report, coll(vlek), opts(kNow)); }),
            "snp.chain.expired");
}

TEST(SnpVerifyReal, S04HexVirtee) {
  SNP_REQUIRE_VECTORS(tv);
  auto v = genuine().verify(decode_report_file(read_file(tv / "snp/s04_milan_virtee/report.hex")),
                            coll(read_file(tv / "snp/s04_milan_virtee/vcek.der")), opts(kNow));
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_TRUE(a.accepted()) << a.failures.front().code;
  EXPECT_EQ(a.claims["report_data"].get<std::string>().substr(0, 8), "d447b55d");
  EXPECT_EQ(a.claims["snp"]["chip_id"].get<std::string>().substr(0, 16), "d49554ec717f4e5b");
}

TEST(SnpVerifyReal, S05AzureWithBundle) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes hcl = read_file(tv / "snp/s05_milan_azure/hcl_report.bin");
  auto bundle = Certificate::chain_from_pem(
      as_string(read_file(tv / "snp/s05_milan_azure/vcek_ask_ark.pem")));
  ASSERT_EQ(bundle.size(), 3u);
  Collateral c;
  c.vcek_der = bundle[0].to_der();
  c.chain = bundle;  // VCEK, ASK, ARK: the ASK/ARK must be the pinned ones
  auto v = genuine().verify(ByteView(hcl).subspan(0x20, kReportSize), c, opts(kNow));
  EXPECT_EQ(v.reported_tcb.microcode, 115);
  EXPECT_EQ(v.current_tcb.microcode, 210);
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_TRUE(a.accepted());
  EXPECT_EQ(a.claims["snp"]["guest_svn"], 5);
  EXPECT_EQ(a.claims["report_data"].get<std::string>().substr(0, 16), "b3fbad6514c83cae");
}

TEST(SnpVerifyReal, S07StewardWithCrl) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = read_file(tv / "snp/s07_milan_steward/report.bin");
  Collateral c = coll(read_file(tv / "snp/s07_milan_steward/vcek.der"));
  c.crls.push_back(Crl::from_bytes(read_file(tv / "snp/crls/amd_milan_ark_crl_2022-05-09.der")));
  c.crls.push_back(Crl::from_bytes(read_file(tv / "snp/crls/amd_genoa_ark_crl_2022-10-31.der")));
  auto v = genuine().verify(report, c, opts("2022-11-15T00:00:00Z"));
  ASSERT_EQ(v.crls.size(), 1u);  // the Genoa CRL does not concern a Milan chain
  EXPECT_EQ(v.crls[0].number, 3);
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_TRUE(a.accepted());
  EXPECT_EQ(a.claims["collateral"]["crls"][0]["number"], 3);
  EXPECT_EQ(a.claims["signer"].get<std::string>().substr(0, 8), "7dc22240");
  // The Milan CRL's nextUpdate is 2023-05-09: stale now.
  EXPECT_EQ(error_code([&] { genuine().verify(report, c, opts(kNow)); }), "snp.crl.expired");
  VerifyOptions grace = opts(kNow);
  grace.crl_grace = std::chrono::hours(24 * 365 * 5);
  EXPECT_NO_THROW(genuine().verify(report, c, grace));
  // Before the CRL's thisUpdate.
  EXPECT_EQ(error_code([&] { genuine().verify(report, c, opts("2022-05-01T00:00:00Z")); }),
            "snp.chain.not_yet_valid");  // the VCEK itself is from 2022-09-29
  VerifyOptions need = opts(kNow);
  need.require_crl = true;
  EXPECT_EQ(error_code([&] {
              genuine().verify(report, coll(read_file(tv / "snp/s07_milan_steward/vcek.der")),
                               need);
            }),
            "snp.crl.missing");
}

TEST(SnpVerifyReal, CrlOfOtherProductDoesNotVerify) {
  SNP_REQUIRE_VECTORS(tv);
  const auto& roots = genuine_amd_roots();
  Crl milan = Crl::from_bytes(read_file(tv / "snp/crls/amd_milan_ark_crl_2022-05-09.der"));
  Crl genoa = Crl::from_bytes(read_file(tv / "snp/crls/amd_genoa_ark_crl_2022-10-31.der"));
  EXPECT_TRUE(milan.signed_by(roots[0].ark.public_key()));
  EXPECT_FALSE(milan.signed_by(roots[1].ark.public_key()));
  EXPECT_TRUE(genoa.signed_by(roots[1].ark.public_key()));
  EXPECT_FALSE(genoa.signed_by(roots[0].ark.public_key()));
  EXPECT_FALSE(genoa.is_revoked(roots[1].ask));
}

TEST(SnpVerifyReal, S08TurinVcek) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes turin = read_file(tv / "snp/s08_turin_vcek_only/vcek.der");
  // Chain valid, but a Milan report (CPUID family 0x19) cannot come from a Turin VCEK.
  EXPECT_EQ(error_code([&] {
              genuine().verify(read_file(tv / "snp/s03_milan_vlek_aws/report.bin"), coll(turin),
                               opts(kNow));
            }),
            "snp.chain.wrong_product");
  // A v2 report has no CPUID: the chain is fine, the signature is not.
  EXPECT_EQ(error_code([&] {
              genuine().verify(decode_report_file(read_file(tv / "snp/s04_milan_virtee/report.hex")),
                               coll(turin), opts(kNow));
            }),
            "snp.report.signature_invalid");
}

TEST(SnpVerifyReal, N01TamperedVcek) {
  SNP_REQUIRE_VECTORS(tv);
  EXPECT_EQ(error_code([&] {
              genuine().verify(read_file(tv / "snp/s01_milan_gosevguest/report.bin"),
                               coll(read_file(tv / "snp/n01_tampered_vcek/neg_vcek_tampered_hwid.der")),
                               opts(kNow));
            }),
            "snp.chain.bad_signature");
}

TEST(SnpVerifyReal, CrossPairedVcek) {
  SNP_REQUIRE_VECTORS(tv);
  EXPECT_EQ(error_code([&] {
              genuine().verify(read_file(tv / "snp/s01_milan_gosevguest/report.bin"),
                               coll(read_file(tv / "snp/s04_milan_virtee/vcek.der")), opts(kNow));
            }),
            "snp.report.signature_invalid");
}

TEST(SnpVerifyReal, SuppliedChainMustBeThePinnedOneOfTheProduct) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = read_file(tv / "snp/s01_milan_gosevguest/report.bin");
  Collateral c = coll(read_file(tv / "snp/s01_milan_gosevguest/vcek.der"));
  c.chain = Certificate::chain_from_pem(
      as_string(read_file(tv / "snp/roots/amd_milan_ask_ark_asvk.pem")));
  EXPECT_NO_THROW(genuine().verify(report, c, opts(kNow)));
  c.chain = Certificate::chain_from_pem(
      as_string(read_file(tv / "snp/roots/amd_genoa_ask_ark_asvk.pem")));
  EXPECT_EQ(error_code([&] { genuine().verify(report, c, opts(kNow)); }),
            "snp.chain.wrong_product");
  SimChain sim = make_sim_root(Product::Milan);
  c.chain = {sim.root.ask, sim.root.ark};
  EXPECT_EQ(error_code([&] { genuine().verify(report, c, opts(kNow)); }),
            "snp.chain.untrusted_root");
}

TEST(SnpVerifyReal, EveryByteOfTheSignedRegionMatters) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = decode_report_file(read_file(tv / "snp/s04_milan_virtee/report.hex"));
  const Collateral c = coll(read_file(tv / "snp/s04_milan_virtee/vcek.der"));
  const VerifyOptions o = opts(kNow);
  ASSERT_NO_THROW(genuine().verify(report, c, o));
  std::size_t rejected = 0;
  for (std::size_t i = 0; i < kSignedSize; ++i) {
    Bytes bad = report;
    bad[i] ^= 0xFF;
    try {
      genuine().verify(bad, c, o);
      ADD_FAILURE() << "flipping byte 0x" << std::hex << i << " was accepted";
    } catch (const Error& e) {
      ++rejected;
      EXPECT_TRUE(e.code().rfind("snp.report.", 0) == 0 || e.code() == "snp.chain.key_kind_mismatch")
          << e.code();
    }
  }
  EXPECT_EQ(rejected, kSignedSize);
}

TEST(SnpVerifyReal, EveryBitOfTheSignatureMatters) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = read_file(tv / "snp/s01_milan_gosevguest/report.bin");
  const Collateral c = coll(read_file(tv / "snp/s01_milan_gosevguest/vcek.der"));
  const VerifyOptions o = opts(kNow);
  ASSERT_NO_THROW(genuine().verify(report, c, o));
  for (std::size_t i = 0x2A0; i < 0x2A0 + 144; ++i) {
    for (int b = 0; b < 8; ++b) {
      Bytes bad = report;
      bad[i] ^= static_cast<std::uint8_t>(1u << b);
      EXPECT_EQ(error_code([&] { genuine().verify(bad, c, o); }), "snp.report.signature_invalid")
          << "byte 0x" << std::hex << i << " bit " << b;
    }
  }
  // The rest of the signature field is reserved and must stay zero.
  Bytes bad = report;
  bad[0x400] = 1;
  EXPECT_EQ(error_code([&] { genuine().verify(bad, c, o); }), "snp.report.reserved_nonzero");
}

TEST(SnpVerifyReal, VerifierCachesChains) {
  SNP_REQUIRE_VECTORS(tv);
  Verifier v;
  const Bytes report = read_file(tv / "snp/s01_milan_gosevguest/report.bin");
  const Collateral c = coll(read_file(tv / "snp/s01_milan_gosevguest/vcek.der"));
  v.verify(report, c, opts(kNow));
  v.verify(report, c, opts(kNow));
  EXPECT_EQ(v.cached_chains(), 1u);
  // Time checks still apply on the cached path.
  EXPECT_EQ(error_code([&] { v.verify(report, c, opts("2040-01-01T00:00:00Z")); }),
            "snp.chain.expired");
  v.clear_cache();
  EXPECT_EQ(v.cached_chains(), 0u);
}

TEST(SnpVerifyReal, MissingOrGarbageVcek) {
  SNP_REQUIRE_VECTORS(tv);
  const Bytes report = read_file(tv / "snp/s01_milan_gosevguest/report.bin");
  EXPECT_EQ(error_code([&] { genuine().verify(report, Collateral{}, opts(kNow)); }),
            "snp.vcek.missing");
  EXPECT_EQ(error_code([&] { genuine().verify(report, coll(Bytes{0x30, 0x03, 1, 2, 3}), opts(kNow)); }),
            "snp.vcek.malformed");
}

// ---------------- simulated chains ----------------

struct Sim {
  SimChain chain;
  SimLeaf leaf;
  Verifier verifier;
  explicit Sim(Product p = Product::Milan, SimLeafSpec spec = {})
      : chain(make_sim_root(p)), leaf(make_sim_leaf(chain, spec)), verifier({chain.root}) {}
  Collateral collateral() const { return coll(leaf.cert.to_der()); }
  Verified verify(Bytes report, const char* t = "2024-06-01T00:00:00Z") const {
    sign_report(report, leaf.key);
    return verifier.verify(report, collateral(), opts(t));
  }
};

TEST(SnpVerifySim, AcceptedOnlyWhenSimulatedAllowed) {
  Sim sim;
  Verified v = sim.verify(make_report_body());
  EXPECT_TRUE(v.simulated);
  Appraisal a = appraise(v, Policy::strict());
  EXPECT_EQ(codes(a), std::vector<std::string>{"policy.simulated_not_allowed"});
  EXPECT_EQ(a.claims["simulated"], true);
  Policy p;
  p.allow_simulated = true;
  EXPECT_TRUE(appraise(v, p).accepted());
}

TEST(SnpVerifySim, TcbMismatch) {
  SimLeafSpec spec;
  spec.ucode = 116;
  Sim sim(Product::Milan, spec);
  EXPECT_EQ(error_code([&] { sim.verify(make_report_body()); }), "snp.tcb_mismatch");
}

TEST(SnpVerifySim, ChipIdMismatchAndMasking) {
  SimLeafSpec spec;
  spec.hw_id = Bytes(64, 0xCD);
  Sim sim(Product::Milan, spec);
  EXPECT_EQ(error_code([&] { sim.verify(make_report_body()); }), "snp.chip_id_mismatch");
  Bytes masked = make_report_body();
  std::memset(masked.data() + 0x1A0, 0, 64);
  EXPECT_TRUE(sim.verify(masked).chip_id_masked);
}

TEST(SnpVerifySim, ExpiredAndNotYetValidVcek) {
  Sim sim;
  EXPECT_EQ(error_code([&] { sim.verify(make_report_body(), "2031-01-01T00:00:00Z"); }),
            "snp.chain.expired");
  EXPECT_EQ(error_code([&] { sim.verify(make_report_body(), "2022-01-01T00:00:00Z"); }),
            "snp.chain.not_yet_valid");
}

TEST(SnpVerifySim, WrongProductRoot) {
  // A Genoa root whose VCEK says Genoa, but the report's CPUID says Milan.
  SimLeafSpec genoa;
  genoa.product_name = "Genoa";
  Sim sim(Product::Genoa, genoa);
  EXPECT_EQ(error_code([&] { sim.verify(make_report_body()); }), "snp.chain.wrong_product");
  // A VCEK naming Milan under a Genoa root.
  Sim mixed(Product::Genoa, SimLeafSpec{});
  Bytes v2 = make_report_body(2);
  EXPECT_EQ(error_code([&] { mixed.verify(v2); }), "snp.chain.wrong_product");
}

TEST(SnpVerifySim, KeyKindMismatchAndVlek) {
  Sim sim;
  Bytes r = make_report_body();
  r[0x048] = 1 << 2;  // says VLEK
  EXPECT_EQ(error_code([&] { sim.verify(r); }), "snp.chain.key_kind_mismatch");
  SimLeafSpec vlek;
  vlek.vlek = true;
  Sim vsim(Product::Milan, vlek);
  Verified v = vsim.verify(r);
  EXPECT_EQ(v.signing_key, SigningKey::Vlek);
  Policy p;
  p.allow_simulated = true;
  p.allow_vlek = false;
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"snp.policy.vlek_not_allowed"});
}

TEST(SnpVerifySim, UnsignedReport) {
  Sim sim;
  Bytes r = make_report_body();
  r[0x048] = 0x2;  // MASK_CHIP_KEY
  EXPECT_EQ(error_code([&] { sim.verify(r); }), "snp.report.unsigned");
}

TEST(SnpVerifySim, TurinTcbWithFmc) {
  SimLeafSpec spec;
  spec.product_name = "Turin";
  spec.fmc = 1;
  spec.bl = 2;
  spec.tee = 3;
  spec.snp = 4;
  spec.ucode = 9;
  spec.hw_id = Bytes{0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d};
  Sim sim(Product::Turin, spec);
  Bytes r = make_report_body();
  r[0x188] = 0x1A;
  r[0x189] = 0x02;
  put64(r, 0x180, turin_tcb(1, 2, 3, 4, 9));
  std::memset(r.data() + 0x1A0, 0, 64);
  std::memcpy(r.data() + 0x1A0, spec.hw_id->data(), 8);
  Verified v = sim.verify(r);
  EXPECT_EQ(v.reported_tcb.fmc, 1);
  EXPECT_EQ(v.reported_tcb.snp, 4);
  Policy p;
  p.allow_simulated = true;
  Appraisal a = appraise(v, p);
  EXPECT_TRUE(a.accepted());
  EXPECT_EQ(a.claims["snp"]["tcb"]["reported"]["fmc"], 1);
  EXPECT_EQ(a.claims["snp"]["product"], "Turin");
  // FMC SPL differs.
  put64(r, 0x180, turin_tcb(2, 2, 3, 4, 9));
  EXPECT_EQ(error_code([&] { sim.verify(r); }), "snp.tcb_mismatch");
}

TEST(SnpVerifySim, CrlRevocationAndSignature) {
  Sim sim;
  const auto from = at("2024-01-01T00:00:00Z"), until = at("2025-01-01T00:00:00Z");
  Bytes r = make_report_body();
  sign_report(r, sim.leaf.key);
  Collateral c = sim.collateral();
  c.crls = {make_crl(sim.chain.root.ark, sim.chain.ark_key, {sim.chain.root.ask.serial()}, from, until)};
  EXPECT_EQ(error_code([&] { sim.verifier.verify(r, c, opts("2024-06-01T00:00:00Z")); }),
            "snp.crl.revoked");
  c.crls = {make_crl(sim.chain.root.ark, sim.chain.ask_key, {}, from, until)};  // wrong signer
  EXPECT_EQ(error_code([&] { sim.verifier.verify(r, c, opts("2024-06-01T00:00:00Z")); }),
            "snp.crl.bad_signature");
  c.crls = {make_crl(sim.chain.root.ark, sim.chain.ark_key, {Bytes{0x42}}, from, until)};
  Verified v = sim.verifier.verify(r, c, opts("2024-06-01T00:00:00Z"));
  EXPECT_EQ(v.crls.size(), 1u);
  EXPECT_EQ(error_code([&] { sim.verifier.verify(r, c, opts("2025-06-01T00:00:00Z")); }),
            "snp.crl.expired");
  VerifyOptions age = opts("2024-06-01T00:00:00Z");
  age.crl_max_age = std::chrono::hours(24);
  EXPECT_EQ(error_code([&] { sim.verifier.verify(r, c, age); }), "snp.crl.expired");
  // A CRL from the ASK revoking the VCEK.
  c.crls = {make_crl(sim.chain.root.ask, sim.chain.ask_key, {Bytes{0}}, from, until)};
  EXPECT_EQ(error_code([&] { sim.verifier.verify(r, c, opts("2024-06-01T00:00:00Z")); }),
            "snp.crl.revoked");
}

TEST(SnpVerifySim, KeyBinding) {
  Sim sim;
  PrivateKey keep = PrivateKey::generate(KeyType::EcP384);
  const Bytes spki = keep.public_key().spki_der();
  Bytes r = make_report_body();
  const Bytes h = sha384(spki);
  std::memcpy(r.data() + 0x050, h.data(), 48);
  Verified v = sim.verify(r);
  Policy p;
  p.allow_simulated = true;
  EXPECT_TRUE(appraise(v, p, spki).accepted());
  const Bytes other = PrivateKey::generate(KeyType::EcP384).public_key().spki_der();
  EXPECT_EQ(codes(appraise(v, p, other)),
            std::vector<std::string>{"snp.policy.report_data_mismatch"});
  r[0x050 + 60] = 1;  // bytes 48..63 must be zero
  Verified v2 = sim.verify(r);
  EXPECT_EQ(codes(appraise(v2, p, spki)),
            std::vector<std::string>{"snp.policy.report_data_mismatch"});
}

TEST(SnpVerifySim, DebugAndMeasurementPolicies) {
  Sim sim;
  Bytes r = make_report_body();
  put64(r, 0x008, 0x30133 | (1u << 19));
  Verified v = sim.verify(r);
  Policy p;
  p.allow_simulated = true;
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"snp.policy.debug_not_allowed"});
  p.allow_debug = true;
  EXPECT_TRUE(appraise(v, p).accepted());
  p.hash = {Bytes(48, 0x77)};
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"snp.policy.measurement_not_allowed"});
  Bytes m(48);
  for (std::size_t i = 0; i < 48; ++i) m[i] = static_cast<std::uint8_t>(i);
  p.hash = {m};
  EXPECT_TRUE(appraise(v, p).accepted());
  p.hash.clear();
  p.hash_blacklist = {m};
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"snp.policy.measurement_denied"});
}

}  // namespace
}  // namespace enarx::attest::snp

namespace enarx::attest::snp {
namespace {

// The cache is keyed on what verification depends on (the VCEK's DER, not its spelling) and
// filled only by reports that verified: neither re-spelled certificates nor failing reports can
// make it grow.
TEST(SnpVerifyReal, CacheKeyIsTheCertificateAndOnlyVerifiedReportsFillIt) {
  SNP_REQUIRE_VECTORS(tv);
  Verifier v;
  const Bytes report = read_file(tv / "snp/s01_milan_gosevguest/report.bin");
  const Bytes der = read_file(tv / "snp/s01_milan_gosevguest/vcek.der");
  const std::string pem = Certificate::from_der(der).to_pem();
  for (int i = 0; i < 200; ++i) {
    // The same certificate as PEM, with a different comment line in front each time.
    const std::string spelled = "comment " + std::to_string(i) + "\n" + pem;
    v.verify(report, coll(to_bytes(spelled)), opts(kNow));
  }
  EXPECT_EQ(v.cached_chains(), 1u);
  v.clear_cache();
  for (int i = 0; i < 50; ++i) {
    Bytes bad = report;
    bad[0x90 + i] ^= 1;  // the measurement, covered by the signature
    EXPECT_EQ(error_code([&] { v.verify(bad, coll(der), opts(kNow)); }), "snp.report.signature_invalid");
  }
  EXPECT_EQ(v.cached_chains(), 0u);
}

}  // namespace
}  // namespace enarx::attest::snp
