// Parsing only (no signatures): quotes v3/v4/v5, PCK extensions, TCB info, QE identity, the
// exact-span JSON scanner, malformed input.
#include <gtest/gtest.h>

#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/quote.h"
#include "dcap_test_util.h"

namespace enarx::attest::dcap {
namespace {

using namespace testing;

TEST(DcapQuote, SgxV3Phala) {
  DCAP_REQUIRE_VECTORS();
  const Quote q = parse_quote(load_quote("sgx/g01_phala/quote.bin"));
  EXPECT_EQ(q.header.version, 3);
  EXPECT_EQ(q.header.qe_svn, 10);
  EXPECT_EQ(q.header.pce_svn, 15);
  ASSERT_TRUE(q.sgx);
  EXPECT_FALSE(q.is_tdx());
  EXPECT_EQ(to_hex(q.sgx->cpusvn), "0b0b1a18ffff04000000000000000000");
  EXPECT_EQ(to_hex(q.sgx->attributes), "0500000000000000e700000000000000");
  EXPECT_FALSE(q.sgx->debug());
  EXPECT_EQ(to_hex(q.sgx->mrenclave), "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(to_hex(q.sgx->mrsigner), "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
  EXPECT_EQ(q.sgx->isv_prod_id, 0);
  EXPECT_EQ(as_string(ByteView(q.sgx->report_data).first(13)), "Hello, world!");
  EXPECT_EQ(q.signed_data.size(), 432u);
  EXPECT_EQ(q.qe_report.isv_prod_id, 1);
  EXPECT_EQ(q.qe_report.isv_svn, 10);
  EXPECT_EQ(q.qe_auth_data.size(), 32u);
  EXPECT_EQ(q.cert_data_type, 5);
  EXPECT_EQ(q.trailing_bytes, 0u);
  EXPECT_EQ(q.size, 4600u);
}

TEST(DcapQuote, SgxV3CertDataWithNulAndLongerPck) {
  DCAP_REQUIRE_VECTORS();
  const Quote g2 = parse_quote(load_quote("sgx/g02_mobilecoin/quote.bin"));
  EXPECT_EQ(g2.cert_data.size(), 3548u);
  EXPECT_EQ(g2.cert_data.back(), 0);
  // MANIFEST's prose calls this enclave DEBUG, but its parsed ATTRIBUTES (and the bytes) are 0x05.
  EXPECT_FALSE(g2.sgx->debug());
  const Quote g3 = parse_quote(load_quote("sgx/g03_mobilecoin_sgxcrate/quote.bin"));
  EXPECT_EQ(g3.cert_data.size(), 3551u);
  EXPECT_EQ(g3.size, 4603u);
  EXPECT_TRUE(g3.sgx->debug());
  const Quote g5 = parse_quote(load_quote("sgx/g05_steward_xeon/quote.bin"));
  EXPECT_EQ(g5.sgx->misc_select, 1u);
  EXPECT_FALSE(g5.sgx->debug());
  EXPECT_EQ(to_hex(g5.sgx->mrenclave), "4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15");
}

TEST(DcapQuote, TdxV4WithPadding) {
  DCAP_REQUIRE_VECTORS();
  const Quote q = parse_quote(load_quote("tdx/t01_phala/quote.bin"));
  EXPECT_EQ(q.header.version, 4);
  EXPECT_EQ(q.header.tee_type, kTeeTypeTdx);
  ASSERT_TRUE(q.td);
  EXPECT_EQ(q.body_type, 2);
  EXPECT_EQ(q.signed_data.size(), 632u);
  EXPECT_EQ(q.trailing_bytes, 70u);
  EXPECT_EQ(q.outer_cert_data_type, 6);
  EXPECT_EQ(to_hex(q.td->tee_tcb_svn), "06010300000000000000000000000000");
  EXPECT_EQ(to_hex(q.td->mrtd),
            "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7");
  EXPECT_EQ(to_hex(q.td->rtmr[2]),
            "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132");
  EXPECT_EQ(to_hex(q.td->td_attributes), "0000001000000000");
  EXPECT_FALSE(q.td->debug());
  EXPECT_EQ(q.td->td_attributes_u64() & kTdAttrSeptVeDisable, kTdAttrSeptVeDisable);
  EXPECT_EQ(to_hex(q.td->xfam), "e702060000000000");
  EXPECT_FALSE(q.td->tee_tcb_svn2);
  EXPECT_EQ(q.qe_report.isv_prod_id, 2);
}

TEST(DcapQuote, TdxV4GcpLargePadding) {
  DCAP_REQUIRE_VECTORS();
  const Quote q = parse_quote(load_quote("tdx/t12_gcp_cos/quote.bin"));
  EXPECT_EQ(q.trailing_bytes, 3065u);
  EXPECT_EQ(q.size + q.trailing_bytes, 8000u);
}

TEST(DcapQuote, TdxV5Td15) {
  DCAP_REQUIRE_VECTORS();
  const Quote q = parse_quote(load_quote("tdx/t02_phala_outdated/quote.bin"));
  EXPECT_EQ(q.header.version, 5);
  EXPECT_EQ(q.body_type, 3);
  EXPECT_EQ(q.signed_data.size(), 702u);
  ASSERT_TRUE(q.td && q.td->tee_tcb_svn2);
  EXPECT_EQ(to_hex(*q.td->tee_tcb_svn2), "0d010300000000000000000000000000");
  EXPECT_EQ(to_hex(q.td->tee_tcb_svn), "07010300000000000000000000000000");
  const Quote q5 = parse_quote(load_quote("tdx/t05_gotdx_v5/quote.bin"));
  EXPECT_EQ(q5.body_type, 3);
  EXPECT_EQ(to_hex(q5.td->tee_tcb_svn), "0b010400000000000000000000000000");
}

TEST(DcapQuote, HexFileAndDebugTd) {
  DCAP_REQUIRE_VECTORS();
  const Quote q = parse_quote(load_quote("tdx/t04_phala_tappd/quote.hex"));
  EXPECT_EQ(q.header.version, 4);
  EXPECT_EQ(q.trailing_bytes, 70u);
  const Quote d = parse_quote(load_quote("tdx/t07_trustee_debug_td/quote.bin"));
  EXPECT_TRUE(d.td->debug());
  const Quote s = parse_quote(load_quote("tdx/t06_gotdx_spr/quote.bin"));
  EXPECT_EQ(s.trailing_bytes, 39u);  // text, not zeros ("extra bytes(only for testing purpose)")
  EXPECT_FALSE(s.trailing_all_zero);
  EXPECT_EQ(error_code([] {
              parse_quote(load_quote("tdx/t06_gotdx_spr/quote.bin"), ParseOptions{.strict_trailing = true});
            }),
            "dcap.quote.trailing_data");
  EXPECT_EQ(s.td->td_attributes_u64() & kTdAttrPks, kTdAttrPks);
}

TEST(DcapQuote, EveryTruncationIsAnError) {
  DCAP_REQUIRE_VECTORS();
  for (const char* rel : {"sgx/g01_phala/quote.bin", "tdx/t01_phala/quote.bin", "tdx/t02_phala_outdated/quote.bin"}) {
    const Bytes raw = load_quote(rel);
    const Quote full = parse_quote(raw);
    for (std::size_t n = 0; n < full.size; n += (n < 800 ? 1 : 97)) {
      const std::string code = error_code([&] { parse_quote(ByteView(raw).first(n)); });
      EXPECT_FALSE(code.empty()) << rel << " prefix " << n;
      EXPECT_EQ(code.rfind("dcap.quote.", 0), 0u) << code;
    }
  }
}

TEST(DcapQuote, HeaderAndLengthErrors) {
  DCAP_REQUIRE_VECTORS();
  const Bytes raw = load_quote("tdx/t01_phala/quote.bin");
  auto mutated = [&](std::size_t off, std::uint8_t v) {
    Bytes b = raw;
    b[off] = v;
    return error_code([&] { parse_quote(b); });
  };
  EXPECT_EQ(mutated(0, 2), "dcap.quote.unsupported_version");
  EXPECT_EQ(mutated(2, 3), "dcap.quote.unsupported_key_type");
  EXPECT_EQ(mutated(4, 0x82), "dcap.quote.unsupported_tee_type");
  EXPECT_EQ(mutated(12, 0x00), "dcap.quote.unknown_qe_vendor");
  {
    Bytes b = raw;
    b.back() = 1;
    EXPECT_EQ(error_code([&] { parse_quote(b, ParseOptions{.strict_trailing = true}); }),
              "dcap.quote.trailing_data");
    EXPECT_EQ(parse_quote(b).trailing_bytes, 70u);
  }
  // The signature data length pointing past the end.
  EXPECT_EQ(mutated(632 + 3, 0x7f), "dcap.quote.truncated");
  // Outer certification data type must be 6 in v4.
  EXPECT_EQ(mutated(632 + 4 + 128, 5), "dcap.quote.unsupported_cert_data_type");
  EXPECT_EQ(error_code([] { decode_quote_file(as_bytes("0x12zz")); }), "");  // not hex text: raw
  EXPECT_EQ(error_code([] { parse_quote(decode_quote_file(as_bytes("04000200"))); }),
            "dcap.quote.truncated");
}

TEST(DcapPck, ExtensionsOfRealPcks) {
  DCAP_REQUIRE_VECTORS();
  struct Case {
    const char* quote;
    const char* fmspc;
    std::uint16_t pcesvn;
    std::array<std::uint8_t, 16> comps;
    int type;
  };
  const Case cases[] = {
      {"sgx/g01_phala/quote.bin", "00a067110000", 13, {11, 11, 2, 2, 255, 1}, 0},
      {"sgx/g02_mobilecoin/quote.bin", "00906ed50000", 13, {20, 20, 2, 4, 1, 128, 14}, 0},
      {"sgx/g05_steward_xeon/quote.bin", "00606a000000", 11, {4, 4, 3, 3, 255, 255}, 1},
      {"tdx/t10_trustee_q6/quote.bin", "00a06d080000", 11, {2, 2, 7, 7, 4, 1, 0, 2}, 2},
  };
  for (const auto& c : cases) {
    const Quote q = parse_quote(load_quote(c.quote));
    std::string text = std::string(as_string(q.cert_data));
    text = text.substr(0, text.rfind("-----END CERTIFICATE-----") + 25);
    const auto chain = Certificate::chain_from_pem(text);
    ASSERT_EQ(chain.size(), 3u);
    const PckExtension p = parse_pck_extension(chain[0]);
    EXPECT_EQ(to_hex(p.fmspc), c.fmspc) << c.quote;
    EXPECT_EQ(p.pcesvn, c.pcesvn);
    EXPECT_EQ(p.tcb_components, c.comps);
    EXPECT_EQ(p.sgx_type, c.type);
    EXPECT_EQ(to_hex(p.pce_id), "0000");
    EXPECT_EQ(p.ppid.size(), 16u);
    EXPECT_EQ(ByteView(p.cpusvn).first(2)[0], c.comps[0]);
    if (c.type >= 1) {
      EXPECT_TRUE(p.platform_instance_id);
      EXPECT_TRUE(p.dynamic_platform.value_or(false));
    }
    EXPECT_EQ(error_code([&] { parse_pck_extension(chain[1]); }), "dcap.pck.extension_missing");
  }
}

TEST(DcapPck, MalformedExtensionsAreErrors) {
  EXPECT_EQ(error_code([] { parse_pck_extension(Bytes{}); }), "dcap.pck.extension_malformed");
  EXPECT_EQ(error_code([] { parse_pck_extension(Bytes{0x30, 0x00}); }), "dcap.pck.extension_malformed");
  EXPECT_EQ(error_code([] { parse_pck_extension(Bytes{0x30, 0x05, 0x30, 0x03, 0x06, 0x01}); }),
            "dcap.pck.extension_malformed");
}

TEST(DcapCollateral, JsonMemberSpanIsExact) {
  const std::string doc = R"({"tcbInfo" : {"a":"}\"","b":[1,{"c":2}]} ,"signature":"ab"})";
  auto span = json_member_span(doc, "tcbInfo");
  ASSERT_TRUE(span);
  EXPECT_EQ(*span, R"({"a":"}\"","b":[1,{"c":2}]})");
  EXPECT_EQ(*json_member_span(doc, "signature"), "\"ab\"");
  EXPECT_FALSE(json_member_span(doc, "x"));
  EXPECT_EQ(error_code([] { json_member_span(R"({"a":1,"a":2})", "a"); }), "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { json_member_span(R"({"a":[1})", "a"); }), "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { json_member_span(R"({"a":1} x)", "a"); }), "dcap.collateral.malformed");
}

TEST(DcapCollateral, TcbInfoDocuments) {
  DCAP_REQUIRE_VECTORS();
  const auto g2 = tcb_info("sgx/g02_mobilecoin/tcbinfo_00906ED50000_2023-07-12.json");
  EXPECT_EQ(g2.value.id, "SGX");
  EXPECT_EQ(g2.value.version, 3);
  EXPECT_EQ(g2.value.levels.size(), 17u);
  EXPECT_EQ(g2.value.tcb_evaluation_data_number, 15);
  EXPECT_EQ(g2.value.levels[0].status, "SWHardeningNeeded");
  EXPECT_EQ(g2.signature.size(), 64u);
  EXPECT_EQ(g2.signed_body.rfind("{\"id\":\"SGX\"", 0), 0u);

  const auto t10 = tcb_info("tdx/t10_trustee_q6/tcbinfo_00A06D080000_2025-10-27.json");
  EXPECT_EQ(t10.value.id, "TDX");
  ASSERT_EQ(t10.value.tdx_module_identities.size(), 2u);
  EXPECT_EQ(t10.value.tdx_module_identities[0].id, "TDX_03");
  ASSERT_TRUE(t10.value.levels[0].tdx_components);

  const auto qe = qe_identity("tdx/t12_gcp_cos/td_qe_identity_2025-10-13.json");
  EXPECT_EQ(qe.value.id, "TD_QE");
  EXPECT_EQ(qe.value.isvprodid, 2);
  EXPECT_EQ(qe.value.miscselect_mask, 0xffffffffu);
  EXPECT_EQ(qe.value.levels.at(0).isvsvn, 4);

  const auto c = qvl_collateral("tdx/t01_phala/collateral.json");
  ASSERT_TRUE(c.tcb_info && c.qe_identity);
  EXPECT_EQ(c.crls.size(), 2u);
  EXPECT_EQ(c.tcb_signing_chain.size(), 2u);
}

TEST(DcapCollateral, TcbInfoV2) {
  std::string levels;
  std::string comps;
  for (int i = 1; i <= 16; ++i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "\"sgxtcbcomp%02dsvn\":%d,", i, i);
    comps += buf;
  }
  const std::string body = R"({"version":2,"issueDate":"2020-01-01T00:00:00Z","nextUpdate":"2020-02-01T00:00:00Z","fmspc":"00906ED50000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":5,"tcbLevels":[{"tcb":{)" +
                           comps + R"("pcesvn":10},"tcbDate":"2019-01-01T00:00:00Z","tcbStatus":"OutOfDate"}]})";
  const TcbInfo t = parse_tcb_info_body(body);
  EXPECT_EQ(t.id, "SGX");
  EXPECT_EQ(t.version, 2);
  EXPECT_EQ(t.levels.at(0).sgx_components[15], 16);
  EXPECT_EQ(t.levels.at(0).pcesvn, 10);
}

TEST(DcapCollateral, MalformedCollateral) {
  EXPECT_EQ(error_code([] { parse_tcb_info_document("{"); }), "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { parse_tcb_info_document(R"({"signature":"00"})"); }), "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { parse_tcb_info_body(R"({"version":4})"); }), "dcap.collateral.unsupported_version");
  EXPECT_EQ(error_code([] { parse_tcb_info_body(R"({"version":3,"id":"SGX"})"); }), "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { parse_enclave_identity_body(R"({"version":2,"id":"XX"})"); }),
            "dcap.collateral.malformed");
  EXPECT_EQ(error_code([] { parse_tcb_info_parts("{}", "abcd"); }), "dcap.collateral.malformed");
}

}  // namespace
}  // namespace enarx::attest::dcap
