// Simulated SEV-SNP: real report format, verified by the attest library only with the sim root.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "attest/dcap/quote.h"
#include "attest/dcap/verify.h"
#include "attest/enarx/snp_evidence.h"
#include "attest/enarx/tcb_package.h"
#include "attest/snp/report.h"
#include "attest/snp/verify.h"
#include "core/csr.h"
#include "core/der.h"
#include "core/error.h"
#include "core/file.h"
#include "platform/csr_evidence.h"
#include "simulation/platforms.h"
#include "attest/enarx/oids.h"

namespace fs = std::filesystem;
using namespace enarx;
using namespace enarx::platform;
namespace snp = enarx::attest::snp;

namespace {

// One PKI for the whole suite: key generation is the slow part.
class SimSnp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("platform-sim");
    sim::SnpSimConfig c;
    c.chip_id = Bytes(64, 0x5a);
    sim::init_snp(dir_->path(), c, std::chrono::system_clock::now());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static snp::TrustRoot sim_root() {
    auto f = sim::load_snp(dir_->path());
    snp::TrustRoot r;
    r.product = snp::Product::Milan;
    r.ark = f.ark;
    r.ask = f.ask;
    r.simulated = true;
    return r;
  }
  static TempDir* dir_;
};
TempDir* SimSnp::dir_ = nullptr;

Bytes report_data() {
  Bytes rd(64, 0);
  for (int i = 0; i < 48; ++i) rd[i] = static_cast<std::uint8_t>(0xa0 + i);
  return rd;
}

}  // namespace

TEST_F(SimSnp, FilesAndKeyModes) {
  fs::path d = sim::snp_dir(dir_->path());
  for (auto name : {"ark.key", "ask.key", "vcek.key"}) {
    struct stat st {};
    ASSERT_EQ(::stat((d / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  for (auto name : {"ark.pem", "ask.pem", "vcek.pem", "vcek.der", "cert_chain.pem", "crl.der",
                    "config.json"})
    EXPECT_TRUE(fs::exists(d / name)) << name;
  auto chain = Certificate::chain_from_pem(read_text_file(d / "cert_chain.pem"));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].subject_common_name(), "SEV-Milan");
  EXPECT_EQ(chain[1].subject_common_name(), "ARK-Milan");
}

TEST_F(SimSnp, ReportParsesAndVerifiesWithSimRootOnly) {
  auto provider = sim::make_sim_snp_provider(dir_->path());
  EXPECT_TRUE(provider->simulated());
  Evidence ev = provider->acquire(report_data());
  EXPECT_TRUE(ev.simulated);
  ASSERT_EQ(ev.report_or_quote.size(), 1184u);
  snp::Report r = snp::parse_report(ev.report_or_quote);
  EXPECT_EQ(r.version, 3u);
  EXPECT_FALSE(r.policy.debug);
  EXPECT_EQ(Bytes(r.report_data.begin(), r.report_data.end()), report_data());
  EXPECT_EQ(Bytes(r.chip_id.begin(), r.chip_id.end()), Bytes(64, 0x5a));

  snp::Collateral col;
  col.vcek_der = *ev.endorsement_cert();
  col.crls.push_back(sim::load_snp(dir_->path()).crl);
  snp::VerifyOptions opt;
  opt.at = std::chrono::system_clock::now();
  opt.require_crl = true;

  snp::Verifier trusting({sim_root()});
  snp::Verified v = trusting.verify(ev.report_or_quote, col, opt);
  EXPECT_TRUE(v.simulated);
  EXPECT_EQ(v.product, snp::Product::Milan);
  EXPECT_EQ(v.reported_tcb.bootloader, 3);
  EXPECT_EQ(v.reported_tcb.microcode, 115);

  snp::Verifier production;  // pinned AMD roots only
  try {
    production.verify(ev.report_or_quote, col, opt);
    FAIL() << "simulated evidence accepted by the production roots";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "snp.chain.untrusted_root") << e.describe();
  }
}

TEST_F(SimSnp, TamperedReportFailsSignature) {
  auto provider = sim::make_sim_snp_provider(dir_->path());
  Evidence ev = provider->acquire(report_data());
  ev.report_or_quote[0x90] ^= 1;  // measurement
  snp::Collateral col;
  col.vcek_der = *ev.endorsement_cert();
  snp::VerifyOptions opt;
  opt.at = std::chrono::system_clock::now();
  snp::Verifier trusting({sim_root()});
  try {
    trusting.verify(ev.report_or_quote, col, opt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "snp.report.signature_invalid");
  }
}

TEST_F(SimSnp, CsrExtensionRoundTrip) {
  auto provider = sim::make_sim_snp_provider(dir_->path());
  PrivateKey key = PrivateKey::generate(KeyType::EcP384);
  Bytes spki = key.public_key().spki_der();
  Evidence ev = provider->acquire(report_data_for_spki(Platform::Snp, spki));
  HostCollateral hc;
  hc.crls.push_back({"https://kdsintf.amd.com/vcek/v1/Milan/crl", sim::load_snp(dir_->path()).crl});
  Extension ext = evidence_extension(ev, hc);
  EXPECT_EQ(ext.oid, oids::kSnpEvidence);
  EXPECT_FALSE(ext.critical);
  auto decoded = attest::decode_snp_evidence(ext.value);
  EXPECT_EQ(decoded.report, ev.report_or_quote);
  EXPECT_EQ(decoded.vcek_der, *ev.endorsement_cert());
  ASSERT_EQ(decoded.crls.size(), 1u);
  EXPECT_EQ(decoded.crls[0].url, "https://kdsintf.amd.com/vcek/v1/Milan/crl");

  Bytes csr = CsrBuilder().add_extension(ext).build_der(key);
  auto parsed = CertificationRequest::from_der(csr);
  ASSERT_EQ(parsed.extensions().size(), 1u);
  Bytes rd = report_data_for_spki(Platform::Snp, parsed.spki_der());
  snp::Report r = snp::parse_report(decoded.report);
  EXPECT_TRUE(std::equal(rd.begin(), rd.begin() + 48, r.report_data.begin()));
}

TEST_F(SimSnp, MissingSimDir) {
  TempDir empty;
  try {
    sim::make_sim_snp_provider(empty.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "sim.not_initialized");
  }
}

TEST(CsrEvidence, KvmIsEmptyAndSgxNeedsTcb) {
  Evidence kvm;
  kvm.platform = Platform::Kvm;
  Extension e = evidence_extension(kvm, {});
  EXPECT_EQ(e.oid, oids::kKvmEvidence);
  EXPECT_TRUE(e.value.empty());
  Evidence sgx;
  sgx.platform = Platform::Sgx;
  sgx.report_or_quote = Bytes(100, 1);
  try {
    evidence_extension(sgx, {});
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), "platform.evidence.no_tcb");
  }
  HostCollateral hc;
  hc.tcb_package_der = attest::encode_tcb_package({}, to_bytes("{}"));
  Extension s = evidence_extension(sgx, hc);
  EXPECT_EQ(s.oid, oids::kSgxEvidence);
  // SEQUENCE { OCTET STRING(100), CrlList = SEQUENCE { SEQUENCE {} },
  //            TcbPackage = SEQUENCE { SEQUENCE {}, OCTET STRING "{}" } }
  EXPECT_EQ(to_hex(s.value).substr(0, 8), "30720464");
  EXPECT_EQ(to_hex(s.value).substr(2 * 102 + 4), "300230003006300004027b7d");
  // A corrupt cache fails here, on the keep, and says what is wrong.
  hc.tcb_package_der = from_hex("3000");
  try {
    evidence_extension(sgx, hc);
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), "evidence.tcb_package_malformed");
  }
  Evidence snp_no_vcek;
  snp_no_vcek.platform = Platform::Snp;
  snp_no_vcek.report_or_quote = Bytes(1184, 0);
  try {
    evidence_extension(snp_no_vcek, {});
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), "platform.evidence.no_vcek");
  }
}

// ---- simulated DCAP (sim-tdx / sim-sgx) ----------------------------------------------------

namespace dcap = enarx::attest::dcap;

TEST(SimDcap, InitWritesPkiWithPrivateKeyModesAndRestoresIt) {
  TempDir dir("platform-sim-dcap");
  sim::init_dcap(dir.path(), std::chrono::system_clock::now());
  const fs::path d = sim::dcap_dir(dir.path());
  for (const char* key : {"root", "pck_ca", "pck", "tcb_signer", "attestation"}) {
    struct stat st{};
    ASSERT_EQ(::stat((d / (std::string(key) + ".key")).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  const dcap::SimulatedPlatform restored = sim::load_dcap(dir.path());
  EXPECT_EQ(restored.root().to_der(), Certificate::from_pem(read_text_file(d / "root.pem")).to_der());

  // The restored platform's quotes verify against its saved root, and only as simulated.
  for (const char* name : {"sim-tdx", "sim-sgx"}) {
    const bool tdx = std::string(name) == "sim-tdx";
    auto provider = tdx ? sim::make_sim_tdx_provider(dir.path()) : sim::make_sim_sgx_provider(dir.path());
    EXPECT_EQ(provider->platform(), tdx ? Platform::Tdx : Platform::Sgx);
    const Bytes report_data(64, 0x42);
    const Evidence ev = provider->acquire(report_data);
    EXPECT_TRUE(ev.simulated);
    ASSERT_TRUE(ev.crl_list_der && ev.tcb_package_der);
    EXPECT_EQ(ev.qe_identity_json.has_value(), tdx);
    const auto quote = dcap::parse_quote(ev.report_or_quote);
    EXPECT_EQ(quote.is_tdx(), tdx);
    dcap::TrustStore trust;
    trust.add_simulated_root(restored.root());
    dcap::VerifyOptions options;
    options.at = std::chrono::system_clock::now();
    const auto verified = dcap::verify_quote(quote, restored.collateral(tdx), trust, options);
    EXPECT_TRUE(verified.simulated) << name;
    EXPECT_EQ(tdx ? quote.td->report_data : quote.sgx->report_data, report_data) << name;
    EXPECT_THROW(dcap::verify_quote(quote, restored.collateral(tdx), dcap::TrustStore{}, options), Error) << name;
  }
}

TEST(SimDcap, MissingCorruptOrMismatchedPkiIsReported) {
  TempDir dir("platform-sim-dcap");
  try {
    sim::make_sim_tdx_provider(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "sim.not_initialized");
  }
  sim::init_dcap(dir.path(), std::chrono::system_clock::now());
  const fs::path d = sim::dcap_dir(dir.path());
  // A PCK key that does not belong to the PCK certificate would sign unverifiable quotes.
  write_file_atomic(d / "pck.key", PrivateKey::generate(KeyType::EcP256).to_pem_pkcs8(), 0600);
  try {
    sim::load_dcap(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "sim.corrupt");
  }
  write_file_atomic(d / "root.pem", "not a certificate");
  try {
    sim::make_sim_sgx_provider(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "sim.corrupt");
  }
}

TEST(CsrEvidence, TdxCarriesTheCollateralItCameWith) {
  TempDir dir("platform-sim-dcap");
  sim::init_dcap(dir.path(), std::chrono::system_clock::now());
  const Evidence ev = sim::make_sim_tdx_provider(dir.path())->acquire(Bytes(64, 1));
  const Extension ext = evidence_extension(ev, {});
  EXPECT_EQ(ext.oid, oids::kTdxEvidence);
  EXPECT_FALSE(ext.critical);
  // SEQUENCE { quote, CrlList, TcbPackage, [0] QE identity }, each exactly as acquired.
  der::Reader top(ext.value);
  der::Reader seq = top.read_sequence();
  const ByteView quote = seq.read_octet_string();
  EXPECT_EQ(Bytes(quote.begin(), quote.end()), ev.report_or_quote);
  const ByteView crls = seq.read(der::kSequence).whole;
  EXPECT_EQ(Bytes(crls.begin(), crls.end()), *ev.crl_list_der);
  const ByteView tcb = seq.read(der::kSequence).whole;
  EXPECT_EQ(Bytes(tcb.begin(), tcb.end()), *ev.tcb_package_der);
  const ByteView qe = seq.read(0x80).value;
  EXPECT_EQ(Bytes(qe.begin(), qe.end()), *ev.qe_identity_json);
  seq.expect_end();
  top.expect_end();

  // Host collateral, when the host has it, wins over what the evidence brought.
  HostCollateral host;
  host.tcb_package_der = attest::encode_tcb_package({}, to_bytes("{\"tcbInfo\":{}}"));
  const Extension with_host = evidence_extension(ev, host);
  der::Reader again(with_host.value);
  der::Reader seq2 = again.read_sequence();
  seq2.read_octet_string();
  seq2.read(der::kSequence);
  const ByteView host_tcb = seq2.read(der::kSequence).whole;
  EXPECT_EQ(Bytes(host_tcb.begin(), host_tcb.end()), *host.tcb_package_der);
}
