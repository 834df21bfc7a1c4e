// Steward as a CA that revokes: every issued certificate lands in the index with its attested
// facts, revocation by serial and by selector, the CRL and OCSP answers that follow (checked with
// the openssl CLI), distribution points in issued certificates, and TCB-driven revocation with the
// simulated DCAP PKI (a TCB recovery making the level OutOfDate; a PCK CRL revoking the PCK;
// stale collateral that must NOT revoke anything).
#include <nlohmann/json.hpp>

#include <future>
#include <set>
#include <thread>

#include "attest/enarx/tdx_evidence.h"
#include "core/openssl.h"
#include "simulation/dcap.h"
#include "simulation/snp_chain.h"
#include "steward/audit.h"
#include "steward/reevaluate.h"
#include "steward/status_service.h"
#include "support/process.h"
#include "support/dcap_cache.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;
namespace dcap = attest::dcap;
using revocation::Reason;

// An index that is down: issuance must refuse rather than hand out an unrevocable certificate.
class BrokenIndex final : public CertIndex {
 public:
  using CertIndex::revoke;  // and the one-argument form
  [[noreturn]] static void down() {
    throw Error(ErrorKind::kUnavailable, "steward.index.unavailable", "database down");
  }
  std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate>,
                                              std::span<const nlohmann::json>) override { down(); }
  std::optional<IssuedCertificate> find(std::string_view) const override { down(); }
  std::vector<IssuedCertificate> list(const CertSelector&, TimePoint, bool, std::size_t,
                                      std::string_view) const override { down(); }
  std::size_t count_issued() const override { down(); }
  std::size_t prune_expired(TimePoint, std::size_t) override { down(); }
  bool revoke(const RevocationRecord&, const nlohmann::json&) override { down(); }
  std::vector<std::string> revoke_matching(const CertSelector&, const RevocationRecord&, TimePoint) override { down(); }
  std::optional<RevocationRecord> revocation(std::string_view) const override { down(); }
  std::vector<RevocationRecord> revoked_unexpired(TimePoint) const override { down(); }
  std::uint64_t revocation_epoch() const override { down(); }
  std::optional<CrlRecord> current_crl() const override { down(); }
  bool publish_crl(std::uint64_t, const CrlRecord&) override { down(); }
  void append_audit(TimePoint, const nlohmann::json&) override { down(); }
  std::vector<AuditEntry> audit_entries(std::int64_t, std::size_t) const override { down(); }
};

// A real index where a `steward revoke` by selector runs while an issuance is in flight: after
// steward judged the evidence and signed, before its row commits.
class RevokedWhileInFlight final : public CertIndex {
 public:
  using CertIndex::revoke;  // and the one-argument form
  RevokedWhileInFlight(std::shared_ptr<CertIndex> inner, CertSelector selector, RevocationRecord how)
      : inner_(std::move(inner)), selector_(std::move(selector)), how_(std::move(how)) {}
  std::vector<std::string> revoked_meanwhile;

  std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate> certs,
                                              std::span<const nlohmann::json> audit) override {
    revoked_meanwhile = inner_->revoke_matching(selector_, how_, how_.revoked_at);
    return inner_->record_issued(certs, audit);
  }
  std::optional<IssuedCertificate> find(std::string_view s) const override { return inner_->find(s); }
  std::vector<IssuedCertificate> list(const CertSelector& s, TimePoint now, bool r, std::size_t l,
                                      std::string_view a) const override { return inner_->list(s, now, r, l, a); }
  std::size_t count_issued() const override { return inner_->count_issued(); }
  std::size_t prune_expired(TimePoint t, std::size_t l) override { return inner_->prune_expired(t, l); }
  bool revoke(const RevocationRecord& r, const nlohmann::json& a) override { return inner_->revoke(r, a); }
  std::vector<std::string> revoke_matching(const CertSelector& s, const RevocationRecord& h, TimePoint now) override {
    return inner_->revoke_matching(s, h, now);
  }
  std::optional<RevocationRecord> revocation(std::string_view s) const override { return inner_->revocation(s); }
  std::vector<RevocationRecord> revoked_unexpired(TimePoint now) const override { return inner_->revoked_unexpired(now); }
  std::uint64_t revocation_epoch() const override { return inner_->revocation_epoch(); }
  std::optional<CrlRecord> current_crl() const override { return inner_->current_crl(); }
  bool publish_crl(std::uint64_t n, const CrlRecord& c) override { return inner_->publish_crl(n, c); }
  void append_audit(TimePoint t, const nlohmann::json& r) override { inner_->append_audit(t, r); }
  std::vector<AuditEntry> audit_entries(std::int64_t a, std::size_t l) const override {
    return inner_->audit_entries(a, l);
  }

 private:
  std::shared_ptr<CertIndex> inner_;
  CertSelector selector_;
  RevocationRecord how_;
};

Bytes contract_report_data(ByteView spki) {
  Bytes rd = sha384(spki);
  rd.resize(64, 0);
  return rd;
}

class StewardRevocation : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    clock_ = std::make_shared<FixedClock>(now_);
    dcap::SimulationOptions o;
    o.not_before = now_ - std::chrono::hours(24);
    o.not_after = now_ + std::chrono::hours(24 * 365);
    sim_ = std::make_unique<dcap::SimulatedPlatform>(o);
    write_file_atomic(dir_.path() / "root.pem", sim_->root().to_pem());
    cache_ = dir_.path() / "intel";
    support::write_intel_cache(cache_, *sim_);
    index_ = open_sqlite_cert_index((dir_.path() / "index.sqlite3").string());
  }

  Policy policy(const std::string& issuance = "") const {
    return Policy::parse("[issuance]\nallow_insecure = true\nintel_collateral_dir = \"" + cache_.string() +
                         "\"\n" + issuance + "[simulated]\nroots = [\"" +
                         (dir_.path() / "root.pem").string() + "\"]\n");
  }

  std::unique_ptr<Steward> make_steward(const std::string& issuance = "") {
    auto s = std::make_unique<Steward>(make_ca(now_), policy(issuance), clock_);
    register_default_verifiers(*s);
    s->set_cert_index(index_);
    return s;
  }

  Bytes tdx_csr(const PrivateKey& key) const {
    dcap::TdFields td;
    td.report_data = contract_report_data(key.public_key().spki_der());
    attest::TdxEvidence ev;
    ev.quote = sim_->tdx_quote(td);
    ev.crls = {{std::string(dcap::kSimulatedRootCrlUrl), sim_->root_crl()},
               {std::string(dcap::kSimulatedPckCrlUrl), sim_->pck_ca_crl()}};
    ev.tcb = attest::TcbPackage{{sim_->tcb_signer(), sim_->root()}, to_bytes(sim_->tcb_info_document(true))};
    ev.qe_identity = to_bytes(sim_->qe_identity_document(true));
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kTdxEvidence), false, attest::encode_tdx_evidence(ev)});
    return b.build_der(key);
  }

  Certificate issue(Steward& steward, const Bytes& csr) {
    auto r = steward.handle(kPkcs10, csr);
    EXPECT_EQ(r.status, 200) << body_text(r);
    return pkipath(r).back();
  }

  TimePoint now_;
  std::shared_ptr<FixedClock> clock_;
  std::unique_ptr<dcap::SimulatedPlatform> sim_;
  TempDir dir_{"steward-revocation"};
  std::filesystem::path cache_;
  std::shared_ptr<CertIndex> index_;
};

TEST_F(StewardRevocation, EveryIssuedCertificateIsIndexedWithItsAttestedFacts) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP384);
  const auto cert = issue(*steward, tdx_csr(key));
  const auto row = index_->find(serial_key(cert.serial()));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->platform, "tdx");
  EXPECT_EQ(row->measurement, to_hex(Bytes(48, 0x44)));  // the simulated MRTD
  EXPECT_EQ(row->fmspc, to_hex(sim_->options().fmspc));
  EXPECT_EQ(row->ppid.size(), 32u);
  EXPECT_EQ(row->tcb_status, "UpToDate");
  EXPECT_FALSE(row->tcb_level.empty());
  EXPECT_TRUE(row->insecure);  // simulated root of trust
  EXPECT_EQ(row->policy_digest, steward->policy().digest);
  EXPECT_FALSE(row->collateral_digests.empty());
  EXPECT_EQ(row->der, cert.to_der());
  EXPECT_EQ(row->not_after, cert.not_after());
}

TEST_F(StewardRevocation, AnSnpCertificateIsIndexedByChipAndReportedTcb) {
  simulation::SnpSim snp(now_);
  write_file_atomic(dir_.path() / "snp-roots.pem", snp.roots_pem());
  auto steward = std::make_unique<Steward>(
      make_ca(now_),
      Policy::parse("[issuance]\nallow_insecure = true\n[simulated]\nroots = [\"" +
                    (dir_.path() / "snp-roots.pem").string() + "\"]\n"),
      clock_);
  register_default_verifiers(*steward);
  steward->set_cert_index(index_);
  const auto cert = issue(*steward, snp.csr(PrivateKey::generate(KeyType::EcP384)));
  const auto row = index_->find(serial_key(cert.serial()));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->platform, "snp");
  EXPECT_EQ(row->chip_id, to_hex(snp.chip_id));
  EXPECT_TRUE(row->tcb_level.starts_with("reported:")) << row->tcb_level;
  EXPECT_NE(row->tcb_level, "reported:null") << row->tcb_level;
  EXPECT_TRUE(row->fmspc.empty());
  CertSelector by_chip;
  by_chip.chip_id = to_hex(snp.chip_id);
  EXPECT_EQ(index_->list(by_chip, now_, false, 10).size(), 1u);
}

TEST_F(StewardRevocation, NoCertificateWithoutItsIndexRow) {
  auto steward = make_steward();
  steward->set_cert_index(std::make_shared<BrokenIndex>());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.code, "steward.index_failed");
  EXPECT_EQ(body_text(r).find("database"), std::string::npos) << "causes stay in the log";
}

TEST_F(StewardRevocation, IssuedCertificatesNameTheCrlAndTheOcspResponder) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP256);
  EXPECT_FALSE(issue(*steward, kvm_csr(key)).crl_distribution_point());
  steward->set_revocation_urls("https://steward.example/crl", "https://steward.example/ocsp");
  const auto cert = issue(*steward, kvm_csr(key));
  EXPECT_EQ(cert.crl_distribution_point(), "https://steward.example/crl");
  EXPECT_EQ(cert.ocsp_responder(), "https://steward.example/ocsp");
}

TEST_F(StewardRevocation, RevokedBySerialAndSelectorAndTheCrlSaysSo) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  const auto a = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  const auto b = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  const auto c = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  const auto first = status.crl_record();
  EXPECT_EQ(Crl::from_der(first.der).revoked_count(), 0u);

  RevocationRecord rec;
  rec.serial = serial_key(a.serial());
  rec.revoked_at = now_;
  rec.reason = Reason::kKeyCompromise;
  rec.revoked_by = "test";
  EXPECT_TRUE(status.revoke(rec));
  rec.serial = "1234";
  EXPECT_FALSE(status.revoke(rec)) << "steward never issued it";

  CertSelector by_fmspc;
  by_fmspc.fmspc = to_hex(sim_->options().fmspc);
  RevocationRecord how;
  how.revoked_at = now_;
  how.reason = Reason::kCaCompromise;
  how.revoked_by = "test";
  const auto serials = status.revoke_matching(by_fmspc, how);
  EXPECT_EQ(serials.size(), 2u);

  const auto crl_record = status.crl_record();
  EXPECT_GT(crl_record.number, first.number);
  const auto crl = Crl::from_der(crl_record.der);
  EXPECT_TRUE(crl.signed_by(steward->ca().certificate().public_key()));
  EXPECT_EQ(crl.number(), static_cast<std::int64_t>(crl_record.number));
  for (const auto& cert : {a, b, c}) EXPECT_TRUE(crl.is_revoked(cert));
  EXPECT_EQ(crl.revoked_count(), 3u);

  // openssl agrees: verify with -crl_check refuses the revoked one, and prints the reason.
  const auto ca_pem = dir_.path() / "ca.pem";
  write_file_atomic(ca_pem, steward->ca().certificate().to_pem());
  const auto crl_pem = dir_.path() / "crl.der";
  write_file_atomic(crl_pem, crl_record.der);
  const auto leaf = dir_.path() / "a.pem";
  write_file_atomic(leaf, a.to_pem());
  const auto text = support::run_shell("openssl crl -inform DER -in " + crl_pem.string() + " -noout -text");
  EXPECT_NE(text.out.find("Key Compromise"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CA Compromise"), std::string::npos) << text.out;
  const auto crl_as_pem = dir_.path() / "crl.pem";
  support::run_capture("openssl crl -inform DER -in " + crl_pem.string() + " -out " + crl_as_pem.string());
  const auto v = support::run_shell("openssl verify -crl_check -CAfile " + ca_pem.string() + " -CRLfile " +
                                      crl_as_pem.string() + " " + leaf.string() + " 2>&1");
  EXPECT_NE(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("revoked"), std::string::npos) << v.out;

  // The index said it: every replica reading it serves the same CRL bytes.
  StatusService other_replica(index_, steward->ca(), clock_);
  EXPECT_EQ(other_replica.crl(), crl_record.der);
}

TEST_F(StewardRevocation, OcspAnswersFromTheIndexCheckedByOpenssl) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  const auto good = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  const auto bad = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  RevocationRecord rec;
  rec.serial = serial_key(bad.serial());
  rec.revoked_at = now_;
  rec.reason = Reason::kSuperseded;
  ASSERT_TRUE(status.revoke(rec));

  const auto ca_pem = dir_.path() / "ca.pem";
  write_file_atomic(ca_pem, steward->ca().certificate().to_pem());
  auto ask = [&](const Certificate& cert, const std::string& name) {
    const auto leaf = dir_.path() / (name + ".pem");
    const auto req = dir_.path() / (name + ".req");
    const auto resp = dir_.path() / (name + ".resp");
    write_file_atomic(leaf, cert.to_pem());
    support::run_capture("openssl ocsp -issuer " + ca_pem.string() + " -cert " + leaf.string() +
                         " -reqout " + req.string() + " 2>&1");
    write_file_atomic(resp, status.ocsp(read_file(req)));
    // -reqin without -cert: openssl checks the signature against the CA and that the answer
    // echoes the request's nonce (with -cert it would build a new request, with a new nonce).
    return support::run_shell("openssl ocsp -reqin " + req.string() + " -respin " + resp.string() +
                              " -CAfile " + ca_pem.string() + " -verify_other " + ca_pem.string() +
                              " -resp_text 2>&1");
  };
  const auto g = ask(good, "good");
  EXPECT_NE(g.out.find("Response verify OK"), std::string::npos) << g.out;
  EXPECT_EQ(g.out.find("Nonce Verify error"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("Cert Status: good"), std::string::npos) << g.out;
  const auto b = ask(bad, "bad");
  EXPECT_NE(b.out.find("Response verify OK"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("Cert Status: revoked"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("Reason: superseded"), std::string::npos) << b.out;
  // A serial under this CA that steward never issued (not in the index) is unknown, not good;
  // a certificate of another CA is not steward's to answer for.
  const auto never_issued = CertificateBuilder()
                                .subject({{"CN", "never issued"}})
                                .public_key(PrivateKey::generate(KeyType::EcP256).public_key())
                                .validity(now_ - std::chrono::hours(1), now_ + std::chrono::hours(1))
                                .sign(steward->ca().key(), &steward->ca().certificate());
  const auto u = ask(never_issued, "never-issued");
  EXPECT_NE(u.out.find("Response verify OK"), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("Cert Status: unknown"), std::string::npos) << u.out;
  const auto stranger = CertificateBuilder()
                            .subject({{"CN", "stranger"}})
                            .public_key(PrivateKey::generate(KeyType::EcP256).public_key())
                            .validity(now_ - std::chrono::hours(1), now_ + std::chrono::hours(1))
                            .sign(PrivateKey::generate(KeyType::EcP256));
  EXPECT_NE(ask(stranger, "stranger").out.find("unauthorized"), std::string::npos);
}

// The core of the issue: the vendor's collateral moves and steward withdraws the identities it
// vouched for. A TCB recovery makes the simulated TDX platform OutOfDate; a later PCK CRL revokes
// its PCK key.
TEST_F(StewardRevocation, ATcbRecoveryRevokesTheCertificatesOfOutOfDatePlatforms) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  const auto tdx1 = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  const auto tdx2 = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  const auto kvm = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  const std::string before = collateral_fingerprint(steward->policy());

  ReevaluationOptions dry;
  dry.dry_run = true;
  auto report = reevaluate(&status, *index_, steward->policy(), now_, dry);
  EXPECT_EQ(report.examined, 3u);
  EXPECT_EQ(report.still_valid, 3u);

  // Intel publishes a TCB recovery: the same TCB level is now OutOfDate.
  support::write_intel_cache(cache_, support::later_collateral(*sim_, "OutOfDate", 2, now_ - std::chrono::hours(1),
                                       now_ + std::chrono::hours(24 * 30)));
  EXPECT_NE(collateral_fingerprint(steward->policy()), before) << "the service watches this";
  report = reevaluate(&status, *index_, steward->policy(), now_, dry);
  EXPECT_EQ(report.revoked, 2u) << report.to_json().dump(2);
  EXPECT_EQ(report.to_json()["would_revoke"], 2);
  EXPECT_FALSE(index_->revocation(serial_key(tdx1.serial()))) << "a dry run changes nothing";

  ReevaluationOptions real;
  real.trigger = "collateral";
  report = reevaluate(&status, *index_, steward->policy(), now_, real);
  ASSERT_EQ(report.revoked, 2u) << report.to_json().dump(2);
  for (const auto& item : report.items) {
    EXPECT_EQ(item.reason, Reason::kSuperseded);
    EXPECT_NE(item.detail.find("OutOfDate"), std::string::npos) << item.detail;
  }
  const auto r1 = index_->revocation(serial_key(tdx1.serial()));
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->reason, Reason::kSuperseded);
  EXPECT_EQ(r1->revoked_by, "reevaluation");
  EXPECT_FALSE(index_->revocation(serial_key(kvm.serial()))) << "KVM attests no TCB";
  const auto crl = Crl::from_der(status.crl());
  EXPECT_TRUE(crl.is_revoked(tdx1));
  EXPECT_TRUE(crl.is_revoked(tdx2));
  EXPECT_FALSE(crl.is_revoked(kvm));
  // The trail says why, for each.
  const auto trail = index_->audit_entries(0, 100);
  int revoked = 0;
  for (const auto& e : trail)
    if (e.record.value("decision", "") == "revoked" && e.record.value("trigger", "") == "collateral") ++revoked;
  EXPECT_EQ(revoked, 2);
  // Nothing left to do: a second pass revokes nothing more.
  EXPECT_EQ(reevaluate(&status, *index_, steward->policy(), now_, real).revoked, 0u);
}

// The race a selector revocation used to lose: `steward revoke --fmspc` runs after steward judged
// a keep of that FMSPC but before the keep's row committed. The revocation's scan cannot see the
// row; the row's own transaction must see the revocation. The keep gets no certificate (409),
// and the one signed for it is recorded revoked, so the CRL lists it.
TEST_F(StewardRevocation, ASelectorRevocationRacingAnIssuanceStillRevokesIt) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  CertSelector fmspc;
  fmspc.fmspc = to_hex(sim_->options().fmspc);
  RevocationRecord how;
  how.revoked_at = now_;  // steward's clock: the issuance began at the same instant
  how.reason = Reason::kKeyCompromise;
  how.detail = "platform reported compromised";
  how.revoked_by = "cli";
  auto racing = std::make_shared<RevokedWhileInFlight>(index_, fmspc, how);
  steward->set_cert_index(racing);

  const auto r = steward->handle(kPkcs10, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  EXPECT_TRUE(racing->revoked_meanwhile.empty()) << "the revocation's own scan saw nothing";
  EXPECT_EQ(r.status, 409) << body_text(r);
  EXPECT_NE(body_text(r).find("steward.revoked_during_issuance"), std::string::npos) << body_text(r);
  const auto rows = index_->list(fmspc, now_, /*include_revoked=*/true, 10);
  ASSERT_EQ(rows.size(), 1u);
  const auto revoked = index_->revocation(rows[0].serial);
  ASSERT_TRUE(revoked) << "the certificate signed in flight escaped the revocation";
  EXPECT_EQ(revoked->reason, Reason::kKeyCompromise);
  EXPECT_EQ(revoked->revoked_by, "cli");
  EXPECT_TRUE(Crl::from_der(status.crl()).is_revoked(Certificate::from_der(rows[0].der)));

  // A keep attesting after the revocation is not covered by it: revocation is not a ban.
  clock_->set(now_ + std::chrono::seconds(1));
  steward->set_cert_index(index_);
  const auto later = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  EXPECT_FALSE(index_->revocation(serial_key(later.serial())));
}

// The race a collateral change used to lose: an issuance judged on the old collateral commits
// after the change's re-evaluation listed the certificates. The watch's follow-up pass
// ("collateral-settled") catches it.
TEST_F(StewardRevocation, TheWatchRevokesACertificateThatWasInFlightAcrossACollateralChange) {
  // The in-flight certificate: issued (judged, signed) now, its row committed later.
  auto elsewhere = open_sqlite_cert_index((dir_.path() / "elsewhere.sqlite3").string());
  auto issuing = make_steward();
  issuing->set_cert_index(elsewhere);
  const auto in_flight = issue(*issuing, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  const auto row = elsewhere->find(serial_key(in_flight.serial()));
  ASSERT_TRUE(row);

  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  CollateralWatch watch(index_, steward->policy(), status, nullptr, std::chrono::milliseconds(20), clock_);
  watch.set_settle(std::chrono::seconds(3));  // well after the changes have stopped (below)
  watch.start();
  auto wait_for_passes = [&](std::size_t n) {
    for (int i = 0; i < 1000 && watch.passes() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return watch.passes() >= n;
  };
  ASSERT_TRUE(wait_for_passes(1));  // startup
  support::write_intel_cache(cache_, support::later_collateral(*sim_, "OutOfDate", 2, now_ - std::chrono::hours(1),
                                                               now_ + std::chrono::hours(24 * 30)));
  ASSERT_TRUE(wait_for_passes(2));  // the change's pass: the row is not there yet
  // The cache's files are written (and flushed) one by one, so the watch may see the change as
  // several, one pass each: the commit comes once the changes have stopped (300 ms without a
  // pass, 15 polls), so that only the follow-up pass can judge the row.
  for (std::size_t seen = 0; seen != watch.passes();) {
    seen = watch.passes();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_FALSE(index_->find(row->serial));
  index_->record_issued(*row);  // the issuance commits now
  const std::size_t passes_at_commit = watch.passes();
  for (int i = 0; i < 1000 && !index_->revocation(row->serial); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  watch.stop();
  EXPECT_GT(watch.passes(), passes_at_commit) << "no pass after the commit";
  const auto revoked = index_->revocation(row->serial);
  ASSERT_TRUE(revoked) << "the certificate in flight across the change escaped re-evaluation";
  EXPECT_EQ(revoked->reason, Reason::kSuperseded);
}

TEST_F(StewardRevocation, APckCrlRevokingThePlatformKeyRevokesItsKeeps) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  const auto tdx = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  support::write_intel_cache(cache_,
              support::later_collateral(*sim_, "UpToDate", 2, now_ - std::chrono::hours(1), now_ + std::chrono::hours(24 * 30)),
              {sim_->pck()});
  const auto report = reevaluate(&status, *index_, steward->policy(), now_, ReevaluationOptions{});
  ASSERT_EQ(report.revoked, 1u) << report.to_json().dump(2);
  EXPECT_EQ(report.items[0].reason, Reason::kCaCompromise);
  EXPECT_EQ(report.items[0].code, "dcap.pck.revoked");
  EXPECT_TRUE(Crl::from_der(status.crl()).is_revoked(tdx));
}

// The watch's housekeeping: rows of certificates expired longer ago than the retention go
// (in the background, on the watch's interval); younger and unexpired ones stay.
TEST_F(StewardRevocation, TheWatchPrunesCertificatesExpiredPastTheRetention) {
  auto steward = make_steward();
  StatusService status(index_, steward->ca(), clock_);
  const auto fresh = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  IssuedCertificate old_row;
  old_row.serial = "abc123";
  old_row.issued_at = now_ - std::chrono::hours(100);
  old_row.not_before = old_row.issued_at;
  old_row.not_after = now_ - std::chrono::hours(50);
  index_->record_issued(old_row);
  IssuedCertificate recent_row = old_row;
  recent_row.serial = "abc124";
  recent_row.not_after = now_ - std::chrono::hours(10);
  index_->record_issued(recent_row);
  CollateralWatch watch(index_, steward->policy(), status, nullptr, std::chrono::milliseconds(20), clock_);
  watch.set_retention(std::chrono::hours(24));
  watch.start();
  for (int i = 0; i < 500 && index_->find("abc123"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  watch.stop();
  EXPECT_FALSE(index_->find("abc123"));
  EXPECT_TRUE(index_->find("abc124"));
  EXPECT_TRUE(index_->find(serial_key(fresh.serial())));
}

// Steward's own cache going stale says nothing about the platforms: nothing is revoked for it.
TEST_F(StewardRevocation, StaleCollateralRevokesNothing) {
  auto steward = make_steward("certificate_lifetime = \"72h\"\n");
  StatusService status(index_, steward->ca(), clock_);
  const auto tdx = issue(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  // Newer documents (so they win over the evidence's) that expire in an hour.
  support::write_intel_cache(cache_, support::later_collateral(*sim_, "UpToDate", 2, now_ - std::chrono::hours(1), now_ + std::chrono::hours(1)));
  const auto later = now_ + std::chrono::hours(30);
  const auto report = reevaluate(&status, *index_, steward->policy(), later, ReevaluationOptions{});
  EXPECT_EQ(report.revoked, 0u) << report.to_json().dump(2);
  EXPECT_EQ(report.undecidable, 1u) << report.to_json().dump(2);
  EXPECT_FALSE(index_->revocation(serial_key(tdx.serial())));
}

TEST_F(StewardRevocation, TurningInsecureIssuanceOffWithdrawsInsecureCertificates) {
  auto steward = make_steward();
  const auto kvm = issue(*steward, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  StatusService status(index_, steward->ca(), clock_);
  const auto strict = Policy::parse("[issuance]\nallow_insecure = false\n");
  const auto report = reevaluate(&status, *index_, strict, now_, ReevaluationOptions{});
  ASSERT_EQ(report.revoked, 1u);
  EXPECT_EQ(index_->revocation(serial_key(kvm.serial()))->reason, Reason::kPrivilegeWithdrawn);
}

// handle_async (what steward's HTTP workers call, so that none sleeps in a flush) answers
// exactly as handle() does: the certificate after its index row and its audit record are
// durable, from the index's committer or the audit log's flusher; refusals at once; a failed
// index or audit log 500; a revocation in flight 409.
struct AsyncAnswer {
  Response response;
  bool on_caller_thread = false;
};
AsyncAnswer handle_async(const Steward& steward, const Bytes& body, std::string_view content_type = kPkcs10) {
  std::promise<AsyncAnswer> answered;
  const auto caller = std::this_thread::get_id();
  steward.handle_async(content_type, body, [&](Response r) {
    answered.set_value({std::move(r), std::this_thread::get_id() == caller});
  });
  return answered.get_future().get();
}

TEST_F(StewardRevocation, TheAsynchronousPathAnswersAsTheSynchronousOne) {
  auto steward = make_steward();
  auto audit = std::make_shared<AuditLog>(dir_.path() / "audit.log", 0, clock_);
  steward->set_audit_log(audit);

  const auto issued = handle_async(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  ASSERT_EQ(issued.response.status, 200) << body_text(issued.response);
  EXPECT_FALSE(issued.on_caller_thread);  // answered by the committer / flusher
  const auto cert = pkipath(issued.response).back();
  EXPECT_TRUE(index_->find(serial_key(cert.serial())));
  const std::string log_text = read_text_file(dir_.path() / "audit.log");
  EXPECT_NE(log_text.find(to_hex(cert.serial())), std::string::npos) << log_text;

  const auto refused = handle_async(*steward, Bytes{1, 2, 3}, "text/plain");
  EXPECT_EQ(refused.response.status, 400);
  EXPECT_TRUE(refused.on_caller_thread);

  // Many at once: every one answered, each with its own certificate.
  std::vector<std::future<AsyncAnswer>> many;
  for (int i = 0; i < 16; ++i)
    many.push_back(std::async(std::launch::async, [&] {
      return handle_async(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
    }));
  std::set<std::string> serials;
  for (auto& f : many) {
    const auto a = f.get();
    ASSERT_EQ(a.response.status, 200) << body_text(a.response);
    serials.insert(serial_key(pkipath(a.response).back().serial()));
  }
  EXPECT_EQ(serials.size(), 16u);
  for (const auto& serial : serials) EXPECT_TRUE(index_->find(serial)) << serial;

  steward->set_cert_index(std::make_shared<BrokenIndex>());
  const auto broken = handle_async(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  EXPECT_EQ(broken.response.status, 500);
  EXPECT_NE(body_text(broken.response).find("steward.index_failed"), std::string::npos);

  CertSelector fmspc;
  fmspc.fmspc = to_hex(sim_->options().fmspc);
  RevocationRecord how;
  how.revoked_at = now_;
  how.reason = Reason::kKeyCompromise;
  how.revoked_by = "cli";
  steward->set_cert_index(std::make_shared<RevokedWhileInFlight>(index_, fmspc, how));
  const auto raced = handle_async(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  EXPECT_EQ(raced.response.status, 409) << body_text(raced.response);
}

TEST_F(StewardRevocation, NoAsynchronousCertificateWithoutItsAuditRecord) {
  auto steward = make_steward();
  // Every write to /dev/full fails (ENOSPC): the audit record cannot be written.
  steward->set_audit_log(std::make_shared<AuditLog>("/dev/full", 0, clock_));
  const auto r = handle_async(*steward, tdx_csr(PrivateKey::generate(KeyType::EcP384)));
  EXPECT_EQ(r.response.status, 500) << body_text(r.response);
  EXPECT_NE(body_text(r.response).find("steward.audit_failed"), std::string::npos) << body_text(r.response);
}

}  // namespace
}  // namespace enarx::steward
