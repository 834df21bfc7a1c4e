// Policy loading ([sgx] superset of Enarx steward.toml, [tdx]) and appraisal rules on simulated
// quotes: debug, simulated roots, MRSIGNER/MRENCLAVE lists, features, key binding, revocation.
#include <gtest/gtest.h>

#include "attest/dcap/appraise.h"
#include "attest/enarx/binding.h"
#include "simulation/dcap.h"
#include "dcap_test_util.h"

namespace enarx::attest::dcap {
namespace {

using namespace testing;

std::vector<std::string> codes(const Appraisal& a) {
  std::vector<std::string> out;
  for (const auto& f : a.failures) out.push_back(f.code);
  return out;
}

SimulationOptions sim_options() {
  SimulationOptions o;
  o.not_before = at("2025-01-01T00:00:00Z");
  o.not_after = at("2027-01-01T00:00:00Z");
  return o;
}

const SimulatedPlatform& platform() {
  static const SimulatedPlatform p(sim_options());
  return p;
}

VerifyOptions opts() {
  VerifyOptions o;
  o.at = at("2026-01-01T00:00:00Z");
  return o;
}

VerifiedQuote verify_sgx(const SgxEnclaveFields& f) {
  return verify_quote(parse_quote(platform().sgx_quote(f), {.strict_trailing = true}),
                      platform().collateral(false), platform().trust_store(), opts());
}

TEST(DcapPolicy, StewardPolicyLoadsUnchanged) {
  DCAP_REQUIRE_VECTORS();
  const auto doc = toml::parse_file(tv("csr/steward_policy.toml").string());
  const SgxPolicy p = SgxPolicy::from_toml(*doc["sgx"].as_table());
  ASSERT_EQ(p.signer.size(), 1u);
  EXPECT_EQ(to_hex(p.signer[0]), "7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a");
  EXPECT_EQ(p.hash.size(), 1u);
  ASSERT_TRUE(p.features);
  EXPECT_EQ(*p.features, kSgxFlagDebug | kSgxFlagProvisionKey | kSgxFlagEinitTokenKey | kSgxFlagKss);
  EXPECT_EQ(p.enclave_security_version, 0);
  EXPECT_EQ(p.enclave_product_id, 0);
  ASSERT_TRUE(p.allowed_advisories);
  EXPECT_EQ(p.allowed_advisories->size(), 9u);
  EXPECT_FALSE(p.allowed_tcb_statuses);
  EXPECT_TRUE(p.require_qe_identity);
  EXPECT_FALSE(p.allow_debug);
}

TEST(DcapPolicy, UnknownKeysAndBadValues) {
  auto load_sgx = [](const char* text) {
    return error_code([&] { SgxPolicy::from_toml(*toml::parse(text)["sgx"].as_table()); });
  };
  auto load_tdx = [](const char* text) {
    return error_code([&] { TdxPolicy::from_toml(*toml::parse(text)["tdx"].as_table()); });
  };
  EXPECT_EQ(load_sgx("[sgx]\nsigner = []\nallow_debug = true\nallowed_tcb_statuses = [\"UpToDate\", \"SWHardeningNeeded\"]\n"
                     "require_crls = false\nrequire_qe_identity = false\ncollateral_grace_seconds = 3600\n"
                     "isv_family_id = [\"00000000000000000000000000000000\"]\nmin_config_svn = 1\nmisc_select = [\"EXINFO\"]\n"
                     "required_features = [\"KSS\"]\nallow_simulated = true\n"),
            "");
  try {
    SgxPolicy::from_toml(*toml::parse("[sgx]\nsigers = []\n")["sgx"].as_table());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "dcap.policy.unknown_key");
    EXPECT_NE(std::string(e.what()).find("sigers"), std::string::npos);
  }
  EXPECT_EQ(load_sgx("[sgx]\nsigner = [\"abcd\"]\n"), "dcap.policy.invalid");
  EXPECT_EQ(load_sgx("[sgx]\nfeatures = [\"Flying\"]\n"), "dcap.policy.invalid");
  EXPECT_EQ(load_sgx("[sgx]\nallowed_tcb_statuses = [\"Fine\"]\n"), "dcap.policy.invalid");
  EXPECT_EQ(load_sgx("[sgx]\nenclave_security_version = \"1\"\n"), "dcap.policy.invalid");
  const std::string h(64, 'a');
  EXPECT_EQ(load_sgx(("[sgx]\nhash = [\"" + h + "\"]\nhash_blacklist = [\"" + h + "\"]\n").c_str()),
            "dcap.policy.invalid");
  EXPECT_EQ(load_tdx("[tdx]\nmrtd = []\nrtmr0 = []\nrtmr3 = []\nmin_seam_svn = 3\nmin_tee_tcb_svn = \"00000000000000000000000000000000\"\n"
                     "td_attributes_mask = \"0100000000000000\"\ntd_attributes = \"0000000000000000\"\nallowed_advisories = []\n"),
            "");
  EXPECT_EQ(load_tdx("[tdx]\nrtmr4 = []\n"), "dcap.policy.unknown_key");
  EXPECT_EQ(load_tdx("[tdx]\nmrtd = [\"00\"]\n"), "dcap.policy.invalid");
}

TEST(DcapPolicy, SimulatedSgxAcceptedOnlyWhenAllowed) {
  const auto v = verify_sgx({});
  EXPECT_TRUE(v.simulated);
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_TRUE(claims(v)["simulated"]);
  SgxPolicy p;
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"sgx.policy.simulated_not_allowed"});
  p.allow_simulated = true;
  EXPECT_TRUE(appraise(v, p).accepted());
  // Simulated evidence never verifies against the pinned Intel root.
  EXPECT_EQ(error_code([] {
              verify_quote(parse_quote(platform().sgx_quote({})), platform().collateral(false),
                           TrustStore::intel(), opts());
            }),
            "dcap.pck.chain_untrusted");
}

TEST(DcapPolicy, SgxEnclaveRules) {
  SgxPolicy p;
  p.allow_simulated = true;
  SgxEnclaveFields debug;
  debug.flags |= kSgxFlagDebug;
  EXPECT_EQ(codes(appraise(verify_sgx(debug), p)), std::vector<std::string>{"sgx.policy.debug_not_allowed"});
  p.allow_debug = true;
  EXPECT_TRUE(appraise(verify_sgx(debug), p).accepted());
  p.allow_debug = false;

  p.signer = {Bytes(32, 0x99)};
  EXPECT_EQ(codes(appraise(verify_sgx({}), p)), std::vector<std::string>{"sgx.policy.signer_not_allowed"});
  p.signer = {Bytes(32, 0x22)};
  p.hash = {Bytes(32, 0x98)};
  EXPECT_EQ(codes(appraise(verify_sgx({}), p)), std::vector<std::string>{"sgx.policy.measurement_not_allowed"});
  p.hash.clear();
  p.hash_blacklist = {Bytes(32, 0x11)};
  EXPECT_EQ(codes(appraise(verify_sgx({}), p)), std::vector<std::string>{"sgx.policy.measurement_blacklisted"});
  p.hash_blacklist.clear();

  SgxEnclaveFields e;
  e.isv_prod_id = 3;
  e.isv_svn = 2;
  e.flags |= kSgxFlagProvisionKey;
  e.misc_select = 1;
  p.enclave_product_id = 4;
  p.enclave_security_version = 3;
  p.features = kSgxFlagKss;
  p.required_features = kSgxFlagKss;
  p.misc_select = 0;
  EXPECT_EQ(codes(appraise(verify_sgx(e), p)),
            (std::vector<std::string>{"sgx.policy.product_id_mismatch", "sgx.policy.security_version_too_low",
                                      "sgx.policy.feature_not_allowed", "sgx.policy.feature_missing",
                                      "sgx.policy.misc_select_not_allowed"}));
  SgxPolicy kss;
  kss.allow_simulated = true;
  kss.isv_family_id = {Bytes(16, 1)};
  kss.config_id = {Bytes(64, 2)};
  kss.min_config_svn = 1;
  EXPECT_EQ(codes(appraise(verify_sgx({}), kss)),
            (std::vector<std::string>{"sgx.policy.family_id_not_allowed", "sgx.policy.config_id_not_allowed",
                                      "sgx.policy.config_svn_too_low"}));
}

TEST(DcapPolicy, SgxKeyBinding) {
  const auto key = PrivateKey::generate(KeyType::EcP256);
  const Bytes spki = key.public_key().spki_der();
  SgxEnclaveFields e;
  e.report_data = report_data_for_spki(Platform::Sgx, spki);
  SgxPolicy p;
  p.allow_simulated = true;
  EXPECT_TRUE(appraise(verify_sgx(e), p, ByteView(spki)).accepted());
  const Bytes other = PrivateKey::generate(KeyType::EcP256).public_key().spki_der();
  EXPECT_EQ(codes(appraise(verify_sgx(e), p, ByteView(other))),
            std::vector<std::string>{"sgx.policy.report_data_mismatch"});
  e.report_data[40] = 1;  // the rest must be zero
  EXPECT_EQ(codes(appraise(verify_sgx(e), p, ByteView(spki))),
            std::vector<std::string>{"sgx.policy.report_data_mismatch"});
}

TEST(DcapPolicy, TcbStatusRules) {
  SimulationOptions o = sim_options();
  o.tcb_status = "SWHardeningNeeded";
  o.advisory_ids = {"INTEL-SA-00615"};
  const SimulatedPlatform sw(o);
  const auto v = verify_quote(parse_quote(sw.sgx_quote({})), sw.collateral(false), sw.trust_store(), opts());
  EXPECT_EQ(v.tcb->status, "SWHardeningNeeded");
  SgxPolicy p;
  p.allow_simulated = true;
  EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{"sgx.policy.tcb_status_not_allowed"});
  p.allowed_tcb_statuses = {"UpToDate", "SWHardeningNeeded"};
  EXPECT_TRUE(appraise(v, p).accepted());
  // Enarx semantics: allowed_advisories alone judges advisories, not the status.
  SgxPolicy enarx;
  enarx.allow_simulated = true;
  enarx.allowed_advisories = std::vector<std::string>{"INTEL-SA-00615"};
  EXPECT_TRUE(appraise(v, enarx).accepted());
  enarx.allowed_advisories = std::vector<std::string>{};
  EXPECT_EQ(codes(appraise(v, enarx)), std::vector<std::string>{"sgx.policy.advisory_not_allowed"});

  o.tcb_status = "Revoked";
  const SimulatedPlatform revoked(o);
  const auto r = verify_quote(parse_quote(revoked.sgx_quote({})), revoked.collateral(false),
                              revoked.trust_store(), opts());
  enarx.allowed_advisories = std::vector<std::string>{"INTEL-SA-00615"};
  EXPECT_EQ(codes(appraise(r, enarx)), std::vector<std::string>{"sgx.policy.tcb_status_not_allowed"});
}

TEST(DcapPolicy, RevokedPckViaCrl) {
  const auto& sim = platform();
  Collateral c = sim.collateral(false);
  c.crls = {sim.root_crl(), sim.pck_ca_crl({sim.pck()})};
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts());
            }),
            "dcap.pck.revoked");
  c.crls = {sim.root_crl({sim.pck_ca()}), sim.pck_ca_crl()};
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts());
            }),
            "dcap.pck.ca_revoked");
  c.crls = {sim.root_crl({sim.tcb_signer()}), sim.pck_ca_crl()};
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts());
            }),
            "dcap.collateral.signer_revoked");
  // A CRL with the right issuer name but another key's signature.
  const SimulatedPlatform other(sim_options());
  c.crls = {sim.root_crl(), other.pck_ca_crl()};
  // other's PCK CA has the same subject name; its CRL must not pass for ours.
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts());
            }),
            "dcap.crl.bad_signature");
  c.crls = {sim.root_crl()};
  EXPECT_EQ(error_code([&] {
              verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts());
            }),
            "dcap.crl.missing");
}

TEST(DcapPolicy, SimulatedTdxRules) {
  const auto& sim = platform();
  auto verify_td = [&](const TdFields& f) {
    return verify_quote(parse_quote(sim.tdx_quote(f)), sim.collateral(true), sim.trust_store(), opts());
  };
  const auto v = verify_td({});
  EXPECT_EQ(v.tcb->status, "UpToDate");
  EXPECT_EQ(v.tcb->tdx_module_id, "TDX_01");
  TdxPolicy p;
  p.allow_simulated = true;
  EXPECT_TRUE(appraise(v, p).accepted());
  TdFields debug;
  debug.td_attributes |= kTdAttrDebug;
  EXPECT_EQ(codes(appraise(verify_td(debug), p)), std::vector<std::string>{"tdx.policy.debug_not_allowed"});

  p.mrtd = {Bytes(48, 1)};
  p.rtmr[1] = {Bytes(48, 1)};
  p.mrsignerseam = {Bytes(48, 1)};
  p.min_seam_svn = 6;
  p.min_tee_tcb_svn = Bytes{0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  p.td_attributes_mask = kTdAttrSeptVeDisable;
  p.td_attributes_value = 0;
  EXPECT_EQ(codes(appraise(v, p)),
            (std::vector<std::string>{"tdx.policy.mrtd_not_allowed", "tdx.policy.rtmr1_not_allowed",
                                      "tdx.policy.mrsignerseam_not_allowed", "tdx.policy.tee_tcb_svn_too_low",
                                      "tdx.policy.seam_svn_too_low", "tdx.policy.td_attributes_mismatch"}));

  const auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes spki = key.public_key().spki_der();
  TdFields bound;
  bound.report_data = report_data_for_spki(Platform::Tdx, spki);
  TdxPolicy q;
  q.allow_simulated = true;
  EXPECT_TRUE(appraise(verify_td(bound), q, ByteView(spki)).accepted());
  EXPECT_EQ(codes(appraise(verify_td({}), q, ByteView(spki))),
            std::vector<std::string>{"tdx.policy.report_data_mismatch"});
  // Wrong platform.
  EXPECT_EQ(codes(appraise(v, SgxPolicy{})), std::vector<std::string>{"sgx.policy.wrong_platform"});
}

TEST(DcapPolicy, SimulatedQeIdentityMismatch) {
  const auto& sim = platform();
  Collateral c = sim.collateral(false);
  c.qe_identity = sim.collateral(true).qe_identity;  // TD_QE identity for an SGX quote
  EXPECT_EQ(error_code([&] { verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts()); }),
            "dcap.collateral.wrong_type");
  std::string doc = sim.qe_identity_document(false);
  doc.replace(doc.find("\"isvprodid\":1"), 13, "\"isvprodid\":9");
  const auto body = *json_member_span(doc, "enclaveIdentity");
  c.qe_identity = parse_enclave_identity_document(sim.sign_document("enclaveIdentity", std::string(body)));
  EXPECT_EQ(error_code([&] { verify_quote(parse_quote(sim.sgx_quote({})), c, sim.trust_store(), opts()); }),
            "dcap.qe_identity.mismatch");
}

}  // namespace
}  // namespace enarx::attest::dcap
