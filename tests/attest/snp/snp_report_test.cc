// Report parsing: every real report's fields as MANIFEST.md lists them, version handling, and
// bounds/reserved-field checks.
#include <gtest/gtest.h>

#include <algorithm>

#include "attest/snp/report.h"
#include "attest/snp/vcek.h"
#include "snp_test_util.h"

namespace enarx::attest::snp {
namespace {

using testing::make_report_body;

template <std::size_t N>
std::string h(const std::array<std::uint8_t, N>& a) {
  return to_hex(ByteView(a.data(), N));
}

void expect_code(const std::function<void()>& fn, const std::string& code) {
  try {
    fn();
    ADD_FAILURE() << "expected error " << code;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

TEST(SnpReport, MilanV2GoSevGuest) {
  SNP_REQUIRE_VECTORS(tv);
  Report r = parse_report(read_file(tv / "snp/s01_milan_gosevguest/report.bin"));
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(r.guest_svn, 0u);
  EXPECT_EQ(r.policy.raw, 0xb0000u);
  EXPECT_TRUE(r.policy.debug);
  EXPECT_TRUE(r.policy.smt);
  EXPECT_FALSE(r.policy.migrate_ma);
  EXPECT_EQ(r.vmpl, 0u);
  EXPECT_EQ(r.signing_key, SigningKey::Vcek);
  EXPECT_FALSE(r.author_key_en);
  EXPECT_EQ(r.platform_info.raw, 1u);
  EXPECT_TRUE(r.platform_info.smt_en);
  EXPECT_EQ(h(r.measurement),
            "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01");
  EXPECT_EQ(h(r.report_data).substr(0, 10), "0102030405");
  EXPECT_EQ(h(r.report_id), "8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a");
  EXPECT_EQ(h(r.chip_id).substr(0, 32), "3ac3fe21e13fb0990eb28a802e3fb6a2");
  EXPECT_EQ(r.reported_tcb, 0x4405000000000002u);
  EXPECT_EQ(r.current_tcb, 0x4405000000000002u);
  EXPECT_EQ(r.committed_tcb, 0x4405000000000002u);
  EXPECT_EQ(r.launch_tcb, 0x4405000000000002u);
  TcbVersion t = TcbVersion::decode(r.reported_tcb, Product::Milan);
  EXPECT_EQ(t.bootloader, 2);
  EXPECT_EQ(t.tee, 0);
  EXPECT_EQ(t.snp, 5);
  EXPECT_EQ(t.microcode, 68);
  EXPECT_FALSE(t.fmc);
  EXPECT_EQ(r.current_fw.major, 1);
  EXPECT_EQ(r.current_fw.minor, 49);
  EXPECT_EQ(r.current_fw.build, 3);
  EXPECT_FALSE(r.cpuid);
  EXPECT_EQ(r.cpuid_product(), Product::Unknown);
  // MANIFEST.md shows R and S big-endian; the report stores them little-endian.
  std::array<std::uint8_t, 72> r_be = r.signature_r, s_be = r.signature_s;
  std::reverse(r_be.begin(), r_be.end());
  std::reverse(s_be.begin(), s_be.end());
  EXPECT_EQ(h(r_be).substr(48, 24), "21c89c9932a2504bd2a590c9");
  EXPECT_EQ(h(s_be).substr(48, 24), "e0105d55989411f6ec1b31c9");
}

TEST(SnpReport, MilanV3VlekAws) {
  SNP_REQUIRE_VECTORS(tv);
  Report r = parse_report(read_file(tv / "snp/s03_milan_vlek_aws/report.bin"));
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.policy.raw, 0x30000u);
  EXPECT_EQ(r.vmpl, 1u);
  EXPECT_EQ(r.signing_key, SigningKey::Vlek);
  EXPECT_EQ(r.platform_info.raw, 0x27u);
  EXPECT_TRUE(r.platform_info.tsme_en);
  EXPECT_TRUE(r.platform_info.ecc_en);
  EXPECT_TRUE(r.platform_info.alias_check_complete);
  EXPECT_TRUE(r.chip_id_masked());
  ASSERT_TRUE(r.cpuid);
  EXPECT_EQ(r.cpuid->family, 0x19);
  EXPECT_EQ(r.cpuid->model, 0x01);
  EXPECT_EQ(r.cpuid->stepping, 0x01);
  EXPECT_EQ(r.cpuid_product(), Product::Milan);
  EXPECT_EQ(r.current_tcb, 0xdc18000000000004u);
  EXPECT_EQ(r.reported_tcb, 0xd918000000000004u);
  EXPECT_EQ(r.committed_tcb, 0xdb18000000000004u);
  EXPECT_EQ(r.launch_tcb, 0xdb18000000000004u);
  EXPECT_EQ(r.current_fw.major, 1);
  EXPECT_EQ(r.current_fw.minor, 55);
  EXPECT_EQ(r.current_fw.build, 29);
  EXPECT_EQ(h(r.measurement).substr(0, 16), "8922ebbdd00ec2c5");
}

TEST(SnpReport, HexInputVirtee) {
  SNP_REQUIRE_VECTORS(tv);
  Bytes raw = decode_report_file(read_file(tv / "snp/s04_milan_virtee/report.hex"));
  Report r = parse_report(raw);
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(h(r.report_data).substr(0, 8), "d447b55d");
  EXPECT_EQ(h(r.chip_id).substr(0, 16), "d49554ec717f4e5b");
  EXPECT_EQ(r.reported_tcb, 0x7308000000000003u);
}

TEST(SnpReport, AzureHclEmbedded) {
  SNP_REQUIRE_VECTORS(tv);
  Bytes hcl = read_file(tv / "snp/s05_milan_azure/hcl_report.bin");
  EXPECT_EQ(decode_report_file(hcl), Bytes(hcl.begin() + 0x20, hcl.begin() + 0x20 + kReportSize));
  Report r = parse_report(ByteView(hcl).subspan(0x20, kReportSize));
  EXPECT_EQ(r.guest_svn, 5u);
  EXPECT_EQ(r.policy.raw, 0x3001fu);
  EXPECT_EQ(r.policy.abi_major, 0);
  EXPECT_EQ(r.policy.abi_minor, 31);
  EXPECT_EQ(r.current_tcb, 0xd208000000000003u);
  EXPECT_EQ(r.reported_tcb, 0x7308000000000003u);
  EXPECT_EQ(h(r.id_key_digest).substr(0, 16), "0356215882a82527");
}

TEST(SnpReport, StewardReport) {
  SNP_REQUIRE_VECTORS(tv);
  Report r = parse_report(read_file(tv / "snp/s07_milan_steward/report.bin"));
  EXPECT_EQ(r.guest_svn, 1u);
  EXPECT_EQ(r.policy.abi_major, 1);
  EXPECT_EQ(r.policy.abi_minor, 51);
  EXPECT_TRUE(r.author_key_en);
  EXPECT_EQ(h(r.id_key_digest).substr(0, 16), "d71a4d1da440d515");
  EXPECT_EQ(r.reported_tcb, 0x5d06000000000002u);
}

TEST(SnpReport, SizeAndVersionErrors) {
  Bytes r = make_report_body();
  EXPECT_NO_THROW(parse_report(r));
  expect_code([&] { parse_report(ByteView(r).first(kReportSize - 1)); }, "snp.report.size");
  Bytes longer = r;
  longer.push_back(0);
  expect_code([&] { parse_report(longer); }, "snp.report.size");
  expect_code([&] { parse_report({}); }, "snp.report.size");
  for (std::uint32_t v : {0u, 1u, 6u, 0xffffffffu}) {
    Bytes bad = r;
    testing::put32(bad, 0, v);
    expect_code([&] { parse_report(bad); }, "snp.report.unsupported_version");
  }
  for (std::uint32_t v : {2u, 3u, 4u, 5u}) {
    Bytes ok = make_report_body(v);
    EXPECT_EQ(parse_report(ok).version, v);
  }
}

TEST(SnpReport, FieldChecks) {
  Bytes base = make_report_body(3);
  {
    Bytes b = base;
    testing::put32(b, 0x034, 2);
    expect_code([&] { parse_report(b); }, "snp.report.signature_algo");
  }
  {
    Bytes b = base;
    testing::put64(b, 0x008, 0x10133);  // reserved bit 17 clear
    expect_code([&] { parse_report(b); }, "snp.report.policy_reserved");
  }
  {
    Bytes b = base;
    b[0x048] = 2 << 2;  // SIGNING_KEY 2 is reserved
    expect_code([&] { parse_report(b); }, "snp.report.signing_key");
  }
  for (std::size_t off : {0x04Cu, 0x18Bu, 0x19Fu, 0x1EBu, 0x1EFu, 0x208u, 0x29Fu, 0x330u, 0x49Fu}) {
    Bytes b = base;
    b[off] = 1;
    expect_code([&] { parse_report(b); }, "snp.report.reserved_nonzero");
  }
  {
    // v2: CPUID bytes are reserved.
    Bytes b = make_report_body(2);
    b[0x188] = 0x19;
    expect_code([&] { parse_report(b); }, "snp.report.reserved_nonzero");
  }
  {
    Bytes b = make_report_body(2);  // v2: the mitigation-vector area is strictly reserved
    b[0x1F8] = 1;
    expect_code([&] { parse_report(b); }, "snp.report.reserved_nonzero");
    Bytes v3 = make_report_body(3);  // v3/v4 firmware may fill it early: kept
    v3[0x1F8] = 1;
    EXPECT_EQ(parse_report(v3).launch_mit_vector, 1u);
  }
  {
    Bytes b = make_report_body(5);
    testing::put64(b, 0x1F8, 0x11);
    testing::put64(b, 0x200, 0x13);
    Report r = parse_report(b);
    EXPECT_EQ(r.launch_mit_vector, 0x11u);
    EXPECT_EQ(r.current_mit_vector, 0x13u);
    b[0x208] = 1;
    expect_code([&] { parse_report(b); }, "snp.report.reserved_nonzero");
  }
  {
    Bytes b = base;
    b[0x048] = 0x1 | 0x2 | (7 << 2);
    Report r = parse_report(b);
    EXPECT_TRUE(r.author_key_en);
    EXPECT_TRUE(r.mask_chip_key);
    EXPECT_EQ(r.signing_key, SigningKey::None);
  }
}

TEST(SnpReport, TurinTcbLayout) {
  TcbVersion t = TcbVersion::decode(testing::turin_tcb(1, 2, 3, 4, 9), Product::Turin);
  EXPECT_EQ(t.fmc, 1);
  EXPECT_EQ(t.bootloader, 2);
  EXPECT_EQ(t.tee, 3);
  EXPECT_EQ(t.snp, 4);
  EXPECT_EQ(t.microcode, 9);
  Bytes b = make_report_body(3);
  b[0x188] = 0x1A;
  b[0x189] = 0x02;
  EXPECT_EQ(parse_report(b).cpuid_product(), Product::Turin);
  b[0x188] = 0x19;
  b[0x189] = 0x11;
  EXPECT_EQ(parse_report(b).cpuid_product(), Product::Genoa);
  b[0x189] = 0xA0;
  EXPECT_EQ(parse_report(b).cpuid_product(), Product::Genoa);
}

TEST(SnpReport, HexDecoding) {
  Bytes raw = make_report_body();
  Bytes rsp(0x20, 0);
  testing::put32(rsp, 4, kReportSize);
  rsp.insert(rsp.end(), raw.begin(), raw.end());
  EXPECT_EQ(decode_report_file(rsp), raw);  // MSG_REPORT_RSP
  std::string hex = to_hex(raw);
  for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  hex.insert(100, "\n");
  hex += "\n";
  EXPECT_EQ(decode_report_file(as_bytes(hex)), raw);
  expect_code([&] { decode_report_file(as_bytes(hex.substr(0, 200))); }, "snp.report.size");
  hex[10] = 'g';
  expect_code([&] { decode_report_file(as_bytes(hex)); }, "snp.report.size");
}

TEST(SnpReport, ProductNames) {
  EXPECT_EQ(product_from_name("Milan-B0"), Product::Milan);
  EXPECT_EQ(product_from_name("Genoa"), Product::Genoa);
  EXPECT_EQ(product_from_name("turin"), Product::Turin);
  EXPECT_EQ(product_from_name("Rome"), Product::Unknown);
  EXPECT_EQ(product_from_name(""), Product::Unknown);
}

TEST(SnpVcekExtensions, RealCertificates) {
  SNP_REQUIRE_VECTORS(tv);
  {
    auto c = Certificate::from_bytes(read_file(tv / "snp/s01_milan_gosevguest/vcek.der"));
    VcekInfo i = parse_vcek_extensions(c);
    EXPECT_EQ(i.product_name, "Milan-B0");
    EXPECT_EQ(i.product, Product::Milan);
    EXPECT_EQ(i.bl_spl, 2);
    EXPECT_EQ(i.tee_spl, 0);
    EXPECT_EQ(i.snp_spl, 5);
    EXPECT_EQ(i.ucode_spl, 68);
    ASSERT_TRUE(i.hw_id);
    EXPECT_EQ(i.hw_id->size(), 64u);
    EXPECT_EQ(to_hex(*i.hw_id).substr(0, 16), "3ac3fe21e13fb099");
  }
  {
    auto c = Certificate::from_bytes(read_file(tv / "snp/s03_milan_vlek_aws/vlek.der"));
    VcekInfo i = parse_vcek_extensions(c);
    EXPECT_EQ(i.product, Product::Milan);
    EXPECT_EQ(i.bl_spl, 4);
    EXPECT_EQ(i.snp_spl, 24);
    EXPECT_EQ(i.ucode_spl, 217);
    EXPECT_FALSE(i.hw_id);
    ASSERT_TRUE(i.csp_id);
    EXPECT_EQ(*i.csp_id, "CN=cc-us-east-2.amazonaws.com");
  }
  {
    auto c = Certificate::from_bytes(read_file(tv / "snp/s08_turin_vcek_only/vcek.der"));
    VcekInfo i = parse_vcek_extensions(c);
    EXPECT_EQ(i.product, Product::Turin);
    EXPECT_EQ(i.struct_version, 1);
    EXPECT_EQ(i.fmc_spl, 0);
    EXPECT_EQ(i.ucode_spl, 9);
    ASSERT_TRUE(i.hw_id);
    EXPECT_EQ(to_hex(*i.hw_id), "1e550a8ee5cf9f4d");
  }
  {
    auto c = Certificate::from_bytes(
        read_file(tv / "snp/n01_tampered_vcek/neg_vcek_tampered_hwid.der"));
    VcekInfo i = parse_vcek_extensions(c);
    ASSERT_TRUE(i.hw_id);
    EXPECT_EQ(to_hex(*i.hw_id).substr(0, 16), "0001020304050607");
    EXPECT_EQ(i.hw_id->size(), 64u);
    EXPECT_EQ(i.bl_spl, 3);
    EXPECT_EQ(i.snp_spl, 10);
    EXPECT_EQ(i.ucode_spl, 169);
  }
}

}  // namespace
}  // namespace enarx::attest::snp
