// Policy loading (steward.toml compatibility, our keys, errors), semver requirements, every
// policy failure code, and the whole real Enarx CSR through the evidence container.
#include <gtest/gtest.h>

#include "attest/enarx/oids.h"
#include "attest/enarx/snp_evidence.h"
#include "attest/snp/appraise.h"
#include "attest/snp/policy.h"
#include "core/csr.h"
#include "snp_test_util.h"

namespace enarx::attest::snp {
namespace {

using namespace testing;  // NOLINT

std::string load_error(std::string_view toml_text) {
  try {
    Policy::from_toml_file_text(toml_text);
  } catch (const Error& e) {
    return e.code() + ": " + e.what();
  }
  return "(no error)";
}

std::vector<std::string> codes(const Appraisal& a) {
  std::vector<std::string> out;
  for (const auto& f : a.failures) out.push_back(f.code);
  return out;
}

TEST(SnpPolicy, StewardPolicyLoadsUnchanged) {
  SNP_REQUIRE_VECTORS(tv);
  Policy p = Policy::from_toml_file_text(as_string(read_file(tv / "csr/steward_policy.toml")));
  ASSERT_EQ(p.signer.size(), 1u);
  EXPECT_EQ(to_hex(p.signer[0]).substr(0, 8), "7dc22240");
  ASSERT_EQ(p.id_key_digest.size(), 1u);
  ASSERT_EQ(p.hash.size(), 1u);
  ASSERT_TRUE(p.abi);
  EXPECT_TRUE(p.abi->matches(1, 51));
  EXPECT_FALSE(p.abi->matches(1, 50));
  ASSERT_TRUE(p.policy_flags);
  EXPECT_EQ(*p.policy_flags, std::vector<std::string>{"SMT"});
  EXPECT_EQ(p.platform_info_flags, 1);
  EXPECT_FALSE(p.allow_debug);
}

TEST(SnpPolicy, OurKeys) {
  Policy p = Policy::from_toml_file_text(R"(
[snp]
allow_debug = true
allow_simulated = true
allow_migration_agent = true
require_single_socket = true
allow_smt = false
allow_vlek = false
max_vmpl = 2
min_tcb = { bootloader = 3, tee = 0, snp = 8, microcode = 115, fmc = 1 }
min_abi_major = 1
min_abi_minor = 51
min_guest_svn = 4
family_id = "00112233445566778899aabbccddeeff"
image_id = ["00112233445566778899aabbccddeeff"]
host_data = "0000000000000000000000000000000000000000000000000000000000000000"
require_platform_info = ["TSME", "ALIAS_CHECK_COMPLETE"]
deny_platform_info = ["SMT_EN"]
require_crl = true
crl_grace_seconds = 3600
crl_max_age_seconds = 86400
)");
  EXPECT_TRUE(p.allow_debug);
  EXPECT_TRUE(p.allow_simulated);
  EXPECT_TRUE(p.require_single_socket);
  EXPECT_FALSE(p.allow_smt);
  EXPECT_FALSE(p.allow_vlek);
  EXPECT_EQ(p.max_vmpl, 2u);
  EXPECT_EQ(p.min_tcb.microcode, 115u);
  EXPECT_EQ(p.min_tcb.fmc, 1u);
  EXPECT_EQ(p.min_abi_minor, 51u);
  EXPECT_EQ(p.min_guest_svn, 4u);
  EXPECT_EQ(p.family_id.size(), 1u);
  EXPECT_EQ(p.host_data.size(), 1u);
  EXPECT_EQ(p.require_platform_info.size(), 2u);
  VerifyOptions o = p.verify_options(at("2024-01-01T00:00:00Z"));
  EXPECT_TRUE(o.require_crl);
  EXPECT_EQ(o.crl_grace, std::chrono::seconds(3600));
  EXPECT_EQ(o.crl_max_age, std::chrono::seconds(86400));
}

TEST(SnpPolicy, LoadErrors) {
  EXPECT_EQ(load_error("[snp]\nbogus = 1\n").substr(0, 30), "snp.policy_config.unknown_key:");
  EXPECT_NE(load_error("[snp]\nbogus = 1\n").find("bogus"), std::string::npos);
  EXPECT_NE(load_error("[snp]\nmin_tcb = { foo = 1 }\n").find("min_tcb.foo"), std::string::npos);
  EXPECT_EQ(load_error("[snp]\nhash = [\"abcd\"]\n").substr(0, 25), "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\nhash = [\"zz\"]\n").substr(0, 25), "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\nallow_debug = \"yes\"\n").substr(0, 25), "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\nmax_vmpl = 4\n").substr(0, 25), "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\nabi = \">=x\"\n").substr(0, 25), "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\npolicy_flags = [\"Fast\"]\n").substr(0, 25),
            "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp]\nplatform_info_flags = \"XYZ\"\n").substr(0, 25),
            "snp.policy_config.invalid");
  EXPECT_EQ(load_error("[snp\n").substr(0, 25), "snp.policy_config.invalid");
  const std::string d(96, 'a');
  EXPECT_EQ(load_error("[snp]\nhash = [\"" + d + "\"]\nhash_blacklist = [\"" + d + "\"]\n").substr(0, 25),
            "snp.policy_config.invalid");
  // No [snp] section: the strict default.
  EXPECT_EQ(load_error("[sgx]\nsigner = []\n"), "(no error)");
}

TEST(SnpPolicy, VersionRequirements) {
  auto m = [](const char* req, unsigned maj, unsigned min) {
    return VersionReq::parse(req).matches(maj, min, 0);
  };
  EXPECT_TRUE(m(">=1.51", 1, 51));
  EXPECT_TRUE(m(">=1.51", 2, 0));
  EXPECT_FALSE(m(">=1.51", 1, 50));
  EXPECT_FALSE(m(">254.0", 1, 51));
  EXPECT_TRUE(m("*", 0, 0));
  EXPECT_TRUE(m("1.51", 1, 60));   // caret
  EXPECT_FALSE(m("1.51", 2, 0));
  EXPECT_TRUE(m("^0.31", 0, 31));
  EXPECT_FALSE(m("^0.31", 0, 32));
  EXPECT_TRUE(m("~1.51", 1, 51));
  EXPECT_FALSE(m("~1.51", 1, 52));
  EXPECT_TRUE(m("=1", 1, 99));
  EXPECT_FALSE(m("<1.51", 1, 51));
  EXPECT_TRUE(m("<=1.51", 1, 51));
  EXPECT_TRUE(m(">=1.0, <2", 1, 55));
  EXPECT_FALSE(m(">=1.0, <2", 2, 0));
  EXPECT_TRUE(m("1.*", 1, 3));
  EXPECT_TRUE(m(">1", 2, 0));
  EXPECT_FALSE(m(">1", 1, 99));
}

// Every policy failure code, on a simulated report with chosen fields.
TEST(SnpPolicy, EachFailureHasItsCode) {
  SimChain chain = make_sim_root(Product::Milan);
  SimLeaf leaf = make_sim_leaf(chain, SimLeafSpec{});
  Verifier verifier({chain.root});
  auto verify = [&](Bytes r) {
    sign_report(r, leaf.key);
    Collateral c;
    c.vcek_der = leaf.cert.to_der();
    VerifyOptions o;
    o.at = at("2024-06-01T00:00:00Z");
    return verifier.verify(r, c, o);
  };
  Policy base;
  base.allow_simulated = true;
  const Verified plain = verify(make_report_body());
  ASSERT_TRUE(appraise(plain, base).accepted());

  auto only = [&](const Verified& v, const Policy& p, const std::string& code) {
    EXPECT_EQ(codes(appraise(v, p)), std::vector<std::string>{code});
  };
  {
    Bytes r = make_report_body();
    put64(r, 0x008, 0x30133 | (1u << 18));
    only(verify(r), base, "snp.policy.migration_agent_not_allowed");
    Policy p = base;
    p.allow_migration_agent = true;
    EXPECT_TRUE(appraise(verify(r), p).accepted());
  }
  {
    Policy p = base;
    p.require_single_socket = true;
    only(plain, p, "snp.policy.single_socket_required");
  }
  {
    Policy p = base;
    p.allow_smt = false;
    only(plain, p, "snp.policy.smt_not_allowed");
  }
  {
    Policy p = base;
    p.policy_flags = std::vector<std::string>{"SingleSocket"};
    only(plain, p, "snp.policy.policy_flags");
    p.policy_flags = std::vector<std::string>{"SMT"};
    EXPECT_TRUE(appraise(plain, p).accepted());
  }
  {
    Bytes r = make_report_body();
    put32(r, 0x030, 2);
    only(verify(r), base, "snp.policy.vmpl");
  }
  {
    Policy p = base;
    p.min_tcb.microcode = 116;
    only(plain, p, "snp.policy.tcb_too_old");
    EXPECT_EQ(appraise(plain, p).claims["tcb_status"], "OutOfDate");
    p.min_tcb.microcode = 115;
    EXPECT_EQ(appraise(plain, p).claims["tcb_status"], "UpToDate");
    p.min_tcb.fmc = 0;  // Milan has no FMC: a minimum on it cannot be met
    only(plain, p, "snp.policy.tcb_too_old");
  }
  {
    Policy p = base;
    p.min_abi_major = 1;
    p.min_abi_minor = 52;
    only(plain, p, "snp.policy.abi_too_old");
    p.min_abi_major = 0;  // a lower major with a higher minor is fine (unlike Enarx)
    p.min_abi_minor = 99;
    EXPECT_TRUE(appraise(plain, p).accepted());
  }
  {
    Policy p = base;
    p.abi = VersionReq::parse(">254.0");
    only(plain, p, "snp.policy.abi_mismatch");
  }
  {
    Policy p = base;
    p.min_guest_svn = 2;
    only(plain, p, "snp.policy.guest_svn_too_old");
  }
  {
    Policy p = base;
    p.id_key_digest = {Bytes(48, 1)};
    only(plain, p, "snp.policy.id_key_not_allowed");
    p.id_key_digest.clear();
    p.id_key_digest_blacklist = {Bytes(48, 0)};
    only(plain, p, "snp.policy.id_key_denied");
  }
  {
    Policy p = base;
    p.signer = {Bytes(48, 1)};
    only(plain, p, "snp.policy.signer_not_allowed");  // AUTHOR_KEY_EN = 0
    Bytes r = make_report_body();
    r[0x048] = 1;
    std::memset(r.data() + 0x110, 1, 48);
    EXPECT_TRUE(appraise(verify(r), p).accepted());
    p.signer = {Bytes(48, 2)};
    only(verify(r), p, "snp.policy.signer_not_allowed");
  }
  {
    Policy p = base;
    p.family_id = {Bytes(16, 1)};
    only(plain, p, "snp.policy.family_id_mismatch");
    p.family_id.clear();
    p.image_id = {Bytes(16, 1)};
    only(plain, p, "snp.policy.image_id_mismatch");
    p.image_id = {Bytes(16, 0)};
    p.host_data = {Bytes(32, 1)};
    only(plain, p, "snp.policy.host_data_mismatch");
  }
  {
    Policy p = base;
    p.platform_info_flags = 2;
    only(plain, p, "snp.policy.platform_info_flags");
    p.platform_info_flags = 1;
    p.require_platform_info = {"TSME"};
    only(plain, p, "snp.policy.platform_info_required");
    p.require_platform_info.clear();
    p.deny_platform_info = {"SMT"};
    only(plain, p, "snp.policy.platform_info_denied");
  }
  {
    // Several failures are all reported.
    Bytes r = make_report_body();
    put64(r, 0x008, 0x30133 | (1u << 19));
    put32(r, 0x030, 3);
    Policy p;  // strict: not simulated either
    EXPECT_EQ(codes(appraise(verify(r), p)),
              (std::vector<std::string>{"policy.simulated_not_allowed",
                                        "snp.policy.debug_not_allowed", "snp.policy.vmpl"}));
  }
}

// ---------------- the real Enarx CSR ----------------

TEST(SnpCsr, RealStewardCsrIsAccepted) {
  SNP_REQUIRE_VECTORS(tv);
  auto csr = CertificationRequest::from_der(read_file(tv / "csr/steward_milan_snp.csr"));
  ASSERT_TRUE(csr.verify_self_signature());
  std::optional<Extension> ext;
  for (const auto& e : csr.extensions()) {
    if (e.oid == oids::kSnpEvidence) ext = e;
  }
  ASSERT_TRUE(ext);
  EXPECT_FALSE(ext->critical);
  SnpEvidence ev = decode_snp_evidence(ext->value);
  ASSERT_EQ(ev.crls.size(), 2u);
  EXPECT_NE(ev.crls[0].url.find("Genoa"), std::string::npos);
  EXPECT_NE(ev.crls[1].url.find("Milan"), std::string::npos);
  EXPECT_EQ(ev.report, read_file(tv / "snp/s07_milan_steward/report.bin"));
  EXPECT_EQ(ev.vcek_der, read_file(tv / "snp/s07_milan_steward/vcek.der"));
  EXPECT_EQ(encode_snp_evidence(ev), ext->value);  // byte-exact round trip

  Policy policy =
      Policy::from_toml_file_text(as_string(read_file(tv / "csr/steward_policy.toml")));
  Collateral c;
  c.vcek_der = ev.vcek_der;
  for (const auto& e : ev.crls) c.crls.push_back(e.crl);
  Verifier verifier;
  Verified v = verifier.verify(ev.report, c, policy.verify_options(at("2022-11-15T00:00:00Z")));
  Appraisal a = appraise(v, policy, csr.spki_der());
  EXPECT_TRUE(a.accepted()) << (a.failures.empty() ? "" : a.failures[0].code + ": " + a.failures[0].message);
  EXPECT_EQ(a.claims["measurement"],
            "ff717ae719840c93c1fca3b7db96488454c3c21b43531488eecff51cfed3febcd91da8be87a4cbcbc52a3bae770987c3");

  // Another key, another signer, a stricter ABI: each rejected with its code.
  const Bytes other = PrivateKey::generate(KeyType::EcP384).public_key().spki_der();
  EXPECT_EQ(codes(appraise(v, policy, other)),
            std::vector<std::string>{"snp.policy.report_data_mismatch"});
  Policy wrong_signer = policy;
  wrong_signer.signer = {Bytes(48, 0x11)};
  EXPECT_EQ(codes(appraise(v, wrong_signer, csr.spki_der())),
            std::vector<std::string>{"snp.policy.signer_not_allowed"});
  Policy abi = policy;
  abi.abi = VersionReq::parse(">254.0");
  EXPECT_EQ(codes(appraise(v, abi, csr.spki_der())),
            std::vector<std::string>{"snp.policy.abi_mismatch"});
  Policy black = policy;
  black.id_key_digest.clear();
  black.id_key_digest_blacklist = policy.id_key_digest;
  EXPECT_EQ(codes(appraise(v, black, csr.spki_der())),
            std::vector<std::string>{"snp.policy.id_key_denied"});
}

TEST(SnpCsr, MalformedContainers) {
  auto code = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(code([] { decode_snp_evidence(Bytes{0x30, 0x00}); }), "evidence.snp_malformed");
  EXPECT_EQ(code([] { decode_snp_evidence(Bytes{0x30}); }), "evidence.snp_malformed");
  EXPECT_EQ(code([] { parse_crl_list(Bytes{0x30, 0x02, 0x30, 0x00, 0x00}); }),
            "evidence.crl_list_malformed");
  EXPECT_TRUE(parse_crl_list(Bytes{0x30, 0x02, 0x30, 0x00}).empty());
  EXPECT_EQ(encode_crl_list({}), (Bytes{0x30, 0x02, 0x30, 0x00}));
}

}  // namespace
}  // namespace enarx::attest::snp
