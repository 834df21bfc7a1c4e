// Evidence acquisition against fake configfs-tsm / /dev/sev-guest / Gramine trees.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/file.h"
#include "platform/detect.h"
#include "platform/platform.h"
#include "platform/tee_interfaces.h"

namespace fs = std::filesystem;
using namespace enarx;
using namespace enarx::platform;

namespace {

void put(const fs::path& p, std::string_view text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}
void put(const fs::path& p, const Bytes& b) {
  put(p, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

Bytes fake_report(ByteView report_data) {
  Bytes r(1184, 0);
  r[0] = 3;
  std::memcpy(r.data() + 0x50, report_data.data(), 64);
  return r;
}

Bytes sample_report_data() {
  Bytes rd(64);
  for (int i = 0; i < 64; ++i) rd[i] = static_cast<std::uint8_t>(i + 1);
  return rd;
}

std::vector<CertTableEntry> sample_certs() {
  return {{std::string(kGuidVcek), "vcek", to_bytes("VCEK-DER")},
          {std::string(kGuidAsk), "ask", to_bytes("ASK-DER-BYTES")},
          {std::string(kGuidArk), "ark", to_bytes("ARK")}};
}

// configfs pretends: mkdir creates the attribute files (outblob is produced "by the kernel"
// from a fixed report, generation already counts the writes the caller is going to make).
class FakeTsm : public TsmDirOps {
 public:
  std::string provider = "sev_guest";
  std::uint64_t generation = 1;
  Bytes outblob = Bytes(1184, 0xab);
  Bytes auxblob;
  Bytes last_inblob;
  std::string last_privlevel;
  int made = 0, removed = 0;
  void make_entry(const fs::path& e) override {
    ++made;
    fs::create_directory(e);
    put(e / "provider", provider + "\n");
    put(e / "generation", std::to_string(generation) + "\n");
    put(e / "inblob", "");
    put(e / "privlevel", "");
    put(e / "outblob", outblob);
    if (!auxblob.empty()) put(e / "auxblob", auxblob);
  }
  void remove_entry(const fs::path& e) override {
    ++removed;
    last_inblob = read_file(e / "inblob");
    last_privlevel = read_text_file(e / "privlevel");
    fs::remove_all(e);
  }
};

}  // namespace

TEST(CertTable, RoundTripAndNames) {
  auto certs = sample_certs();
  Bytes table = encode_cert_table(certs);
  auto parsed = parse_cert_table(table);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0].guid, kGuidVcek);
  EXPECT_EQ(parsed[0].name, "vcek");
  EXPECT_EQ(parsed[1].name, "ask");
  EXPECT_EQ(parsed[2].name, "ark");
  EXPECT_EQ(parsed[1].der, to_bytes("ASK-DER-BYTES"));
  // GUID bytes are in the order the string reads.
  EXPECT_EQ(to_hex(ByteView(table).first(4)), "63da758d");
}

TEST(CertTable, UnknownGuidAndVlek) {
  std::vector<CertTableEntry> certs{{"00112233-4455-6677-8899-aabbccddeeff", "", to_bytes("x")},
                                    {std::string(kGuidVlek), "vlek", to_bytes("VLEK")}};
  auto parsed = parse_cert_table(encode_cert_table(certs));
  EXPECT_EQ(parsed[0].name, "");
  Evidence ev;
  ev.certs = parsed;
  EXPECT_EQ(*ev.endorsement_cert(), to_bytes("VLEK"));
}

TEST(CertTable, MalformedIsRejected) {
  Bytes table = encode_cert_table(sample_certs());
  try {  // no terminator
    parse_cert_table(ByteView(table).first(24));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.cert_table.malformed");
  }
  Bytes bad = table;
  bad[20] = 0xff;  // first entry length way past the end
  bad[21] = 0xff;
  try {
    parse_cert_table(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.cert_table.malformed");
  }
  EXPECT_THROW(parse_cert_table({}), Error);
}

TEST(KeyBinding, Sha384ForSnpAndTdxSha256ForSgx) {
  Bytes spki = to_bytes("not really a SPKI, just bytes");
  Bytes snp = report_data_for_spki(Platform::Snp, spki);
  Bytes sgx = report_data_for_spki(Platform::Sgx, spki);
  ASSERT_EQ(snp.size(), 64u);
  ASSERT_EQ(sgx.size(), 64u);
  // sha384("not really a SPKI, just bytes") / sha256(...) computed independently with openssl.
  EXPECT_EQ(Bytes(snp.begin() + 48, snp.end()), Bytes(16, 0));
  EXPECT_EQ(Bytes(sgx.begin() + 32, sgx.end()), Bytes(32, 0));
  EXPECT_EQ(report_data_for_spki(Platform::Tdx, spki), snp);
  EXPECT_NE(Bytes(snp.begin(), snp.begin() + 32), Bytes(sgx.begin(), sgx.begin() + 32));
  EXPECT_EQ(keep_key_type(Platform::Snp), KeyType::EcP384);
  EXPECT_EQ(keep_key_type(Platform::Sgx), KeyType::EcP256);
}

TEST(KeyBinding, MatchesStewardFixture) {
  // enarx-protocols.md §1.4: SHA-384 of the Milan CSR's SPKI is the report's report_data.
  const char* shared = std::getenv("ENARX_SHARED_DIR");
  if (!shared) GTEST_SKIP() << "ENARX_SHARED_DIR not set";
  fs::path report = fs::path(shared) / "testvectors/snp/s07_milan_steward/report.bin";
  fs::path csr = fs::path(shared) / "testvectors/csr/steward_milan_snp.csr";
  if (!fs::exists(report) || !fs::exists(csr)) GTEST_SKIP();
  Bytes r = read_file(report);
  ASSERT_GE(r.size(), 0x90u);
  // The SPKI is the CSR's second element of CertificationRequestInfo; locate it by its
  // P-384 AlgorithmIdentifier prefix rather than pulling in a DER parser here.
  Bytes c = read_file(csr);
  std::string s(c.begin(), c.end());
  if (s.rfind("-----BEGIN", 0) == 0) GTEST_SKIP() << "PEM CSR";
  const Bytes prefix = from_hex("3076301006072a8648ce3d020106052b81040022036200");
  auto it = std::search(c.begin(), c.end(), prefix.begin(), prefix.end());
  ASSERT_NE(it, c.end());
  Bytes spki(it, it + 0x78);
  Bytes rd = report_data_for_spki(Platform::Snp, spki);
  EXPECT_EQ(to_hex(ByteView(rd).first(48)), to_hex(ByteView(r).subspan(0x50, 48)));
}

TEST(ConfigfsTsm, SnpReportWithCertTable) {
  TempDir root;
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  fake.auxblob = encode_cert_table(sample_certs());
  auto provider = make_snp_provider(root.path(), &fake);
  Bytes rd = sample_report_data();
  Evidence ev = provider->acquire(rd);
  EXPECT_EQ(ev.platform, Platform::Snp);
  EXPECT_EQ(ev.source, "configfs-tsm");
  EXPECT_EQ(ev.report_or_quote, fake.outblob);
  ASSERT_EQ(ev.certs.size(), 3u);
  EXPECT_EQ(*ev.endorsement_cert(), to_bytes("VCEK-DER"));
  EXPECT_EQ(fake.last_inblob, rd);
  EXPECT_EQ(fake.made, 1);
  EXPECT_EQ(fake.removed, 1);
  EXPECT_TRUE(fs::is_empty(root.path() / kTsmReportDir));  // entry cleaned up
}

TEST(ConfigfsTsm, PrivlevelIsWritten) {
  TempDir root;
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  fake.generation = 2;
  TsmOptions o;
  o.root = root.path();
  o.ops = &fake;
  o.privlevel = 2;
  auto r = tsm_get_report(sample_report_data(), o);
  EXPECT_EQ(r.provider, "sev_guest");
  EXPECT_EQ(fake.last_privlevel, "2");
  EXPECT_EQ(r.generation, 2u);
}

TEST(ConfigfsTsm, GenerationRaceIsRetriedThenFails) {
  TempDir root;
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  fake.generation = 7;  // somebody else wrote to "our" entry
  TsmOptions o;
  o.root = root.path();
  o.ops = &fake;
  o.retries = 2;
  try {
    tsm_get_report(sample_report_data(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.tsm.race");
  }
  EXPECT_EQ(fake.made, 3);
  EXPECT_EQ(fake.removed, 3);
}

TEST(ConfigfsTsm, TdxQuoteAndWrongProvider) {
  TempDir root;
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  fake.provider = "tdx_guest";
  fake.outblob = Bytes(5000, 0x04);
  auto tdx = make_tdx_provider(root.path(), &fake);
  Evidence ev = tdx->acquire(sample_report_data());
  EXPECT_EQ(ev.platform, Platform::Tdx);
  EXPECT_EQ(ev.report_or_quote.size(), 5000u);
  auto snp = make_snp_provider(root.path(), &fake);
  try {
    snp->acquire(sample_report_data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.tsm.wrong_provider");
  }
}

TEST(ConfigfsTsm, MissingInterfaceAndBadInput) {
  TempDir root;
  TsmOptions o;
  o.root = root.path();
  try {
    tsm_get_report(sample_report_data(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.tsm.unavailable");
  }
  try {
    tsm_get_report(Bytes(10), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.report_data.size");
  }
}

// ---- /dev/sev-guest -------------------------------------------------------------------------

namespace {
class FakeSevGuest : public SevGuestDevice {
 public:
  Bytes table = encode_cert_table(sample_certs());
  bool support_ext = true;
  std::uint32_t firmware_status = 0;
  int calls = 0;
  std::uint32_t last_vmpl = 99;
  int ioctl(unsigned long request, void* arg) override {
    ++calls;
    auto* io = static_cast<sevguest::GuestRequestIoctl*>(arg);
    auto* resp = reinterpret_cast<sevguest::ReportResp*>(io->resp_data);
    const sevguest::ReportReq* req = nullptr;
    if (request == sevguest::get_ext_report_request()) {
      if (!support_ext) return -ENOTTY;
      auto* ext = reinterpret_cast<sevguest::ExtReportReq*>(io->req_data);
      if (ext->certs_len < table.size()) {
        ext->certs_len = static_cast<std::uint32_t>(table.size());
        io->exitinfo2 = std::uint64_t{sevguest::kVmmErrInvalidLen} << 32;
        return -EIO;
      }
      std::memcpy(reinterpret_cast<void*>(ext->certs_address), table.data(), table.size());
      req = &ext->data;
    } else if (request == sevguest::get_report_request()) {
      req = reinterpret_cast<sevguest::ReportReq*>(io->req_data);
    } else {
      return -ENOTTY;
    }
    last_vmpl = req->vmpl;
    Bytes report = fake_report(ByteView(req->user_data, 64));
    std::uint32_t size = 1184;
    std::memcpy(resp->data, &firmware_status, 4);
    std::memcpy(resp->data + 4, &size, 4);
    std::memcpy(resp->data + 32, report.data(), report.size());
    return 0;
  }
};
}  // namespace

TEST(SevGuest, ExtendedReportGrowsCertBuffer) {
  FakeSevGuest dev;
  dev.table.resize(20000, 0);  // bigger than the first guess: the driver asks for more
  Bytes rd = sample_report_data();
  Evidence ev = sev_guest_acquire(dev, rd, {.vmpl = 1, .extended = true});
  EXPECT_EQ(dev.calls, 2);
  EXPECT_EQ(dev.last_vmpl, 1u);
  ASSERT_EQ(ev.report_or_quote.size(), 1184u);
  EXPECT_EQ(Bytes(ev.report_or_quote.begin() + 0x50, ev.report_or_quote.begin() + 0x90), rd);
  ASSERT_EQ(ev.certs.size(), 3u);
  EXPECT_EQ(ev.certs[0].name, "vcek");
  EXPECT_EQ(ev.source, "sev-guest");
}

TEST(SevGuest, FallsBackToPlainReport) {
  FakeSevGuest dev;
  dev.support_ext = false;
  auto provider = make_snp_provider("/nonexistent-root", nullptr,
                                    std::shared_ptr<SevGuestDevice>(&dev, [](SevGuestDevice*) {}));
  Evidence ev = provider->acquire(sample_report_data());
  EXPECT_EQ(ev.report_or_quote.size(), 1184u);
  EXPECT_TRUE(ev.certs.empty());
}

TEST(SevGuest, FirmwareErrorStatus) {
  FakeSevGuest dev;
  dev.firmware_status = 0x16;
  try {
    sev_guest_acquire(dev, sample_report_data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.sev_guest.bad_response");
  }
}

TEST(SevGuest, MissingDevice) {
  TempDir root;
  try {
    open_sev_guest(root.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.sev_guest.unavailable");
  }
}

// ---- Gramine ---------------------------------------------------------------------------------

TEST(Gramine, WritesReportDataReadsQuote) {
  TempDir root;
  fs::path dir = root.path() / "dev/attestation";
  put(dir / "attestation_type", "dcap");
  put(dir / "user_report_data", "");
  put(dir / "quote", Bytes(1000, 0x03));
  auto provider = make_sgx_provider(root.path());
  Bytes rd = sample_report_data();
  Evidence ev = provider->acquire(rd);
  EXPECT_EQ(ev.platform, Platform::Sgx);
  EXPECT_EQ(ev.report_or_quote.size(), 1000u);
  EXPECT_EQ(read_file(dir / "user_report_data"), rd);
}

TEST(Gramine, EpidAndMissing) {
  TempDir root;
  try {
    gramine_acquire(root.path(), sample_report_data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.gramine.unavailable");
  }
  put(root.path() / "dev/attestation/attestation_type", "epid\n");
  try {
    gramine_acquire(root.path(), sample_report_data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "platform.gramine.not_dcap");
  }
}

// ---- detection ---------------------------------------------------------------------------------

TEST(Detect, EmptyTreeIsNil) {
  TempDir root;
  Detection d = detect(root.path());
  EXPECT_EQ(d.selected, Platform::Nil);
  ASSERT_EQ(d.platforms.size(), 5u);
  EXPECT_EQ(d.platforms[0].platform, Platform::Sgx);
  EXPECT_FALSE(d.platforms[0].available);
  auto j = format_json(d, "0.1.0", "Linux test");
  EXPECT_EQ(j["platform"], "nil");
  // No "null" strings: absent info/mesg are simply left out.
  EXPECT_EQ(j.dump().find("\"null\""), std::string::npos);
  std::string text = format_text(d, "0.1.0", "Linux test");
  EXPECT_NE(text.find("✗ Platform: sgx"), std::string::npos);
  EXPECT_NE(text.find("✔ Platform: nil"), std::string::npos);
  EXPECT_NE(text.find("hint: "), std::string::npos);
}

TEST(Detect, KvmGuest) {
  TempDir root;
  put(root.path() / "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme hypervisor lm\n");
  put(root.path() / "sys/devices/system/clocksource/clocksource0/available_clocksource",
      "kvm-clock tsc hpet acpi_pm\n");
  put(root.path() / "sys/devices/virtual/dmi/id/sys_vendor", "QEMU\n");
  EXPECT_EQ(detect(root.path()).selected, Platform::Kvm);
}

TEST(Detect, SnpGuestViaTsmOrDevice) {
  TempDir root;
  put(root.path() / "proc/cpuinfo", "flags\t\t: fpu hypervisor\n");
  put(root.path() / "sys/devices/system/clocksource/clocksource0/available_clocksource", "kvm-clock");
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  DetectOptions o;
  o.root = root.path();
  o.ops = &fake;
  Detection d = detect(o);
  EXPECT_EQ(d.selected, Platform::Snp);
  auto j = format_json(d, "v", "s");
  EXPECT_EQ(j["platforms"][1]["checks"][0]["checks"][0]["info"], "sev_guest");

  TempDir root2;
  put(root2.path() / "dev/sev-guest", "");
  EXPECT_EQ(detect(root2.path()).selected, Platform::Snp);
}

TEST(Detect, TdxGuest) {
  TempDir root;
  put(root.path() / "proc/cpuinfo", "flags\t\t: fpu hypervisor tdx_guest\n");
  fs::create_directories(root.path() / kTsmReportDir);
  FakeTsm fake;
  fake.provider = "tdx_guest";
  DetectOptions o;
  o.root = root.path();
  o.ops = &fake;
  EXPECT_EQ(detect(o).selected, Platform::Tdx);
}

TEST(Detect, SgxUnderGramineWins) {
  TempDir root;
  put(root.path() / "dev/attestation/attestation_type", "dcap");
  put(root.path() / "dev/attestation/user_report_data", "");
  put(root.path() / "dev/attestation/quote", "");
  put(root.path() / "dev/sev-guest", "");
  EXPECT_EQ(detect(root.path()).selected, Platform::Sgx);
}

TEST(PlatformNames, RoundTrip) {
  for (auto p : {Platform::Nil, Platform::Kvm, Platform::Snp, Platform::Tdx, Platform::Sgx})
    EXPECT_EQ(platform_from_string(to_string(p)), p);
  EXPECT_THROW(platform_from_string("sev"), Error);
}
