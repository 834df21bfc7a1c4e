// The issued-certificate index (src/steward/index/cert_index.h): one conformance suite over
// both back ends — SQLite, and a real throw-away PostgreSQL cluster (tests/support/pg_cluster.h).
// "Replicas" are independent CertIndex objects (own connections) on the same file / database.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/file.h"
#include "steward/index/cert_index.h"
#include "steward/index/index_detail.h"
#include "support/error_code.h"
#include "support/pg_cluster.h"
#include "support/sqlite_writer.h"

using namespace enarx;
using namespace enarx::steward;
using enarx::support::error_code;
using enarx::support::kNoError;
using revocation::Reason;
using namespace std::chrono_literals;

namespace {

const TimePoint kT0 = std::chrono::sys_days{std::chrono::year{2030} / 1 / 1};
const TimePoint kNow = kT0 + 1h;  // "now" of most tests: certificates below live until kT0 + 24h

struct SqliteBackend {
  static constexpr bool kPg = false;
  TempDir dir{"cert-index"};
  std::string file = "index.sqlite3";
  std::string path() const { return (dir.path() / "state" / file).string(); }
  void fresh() { file = "fresh.sqlite3"; }
  // Every call opens another connection to the same file: another replica.
  std::shared_ptr<CertIndex> open() { return open_cert_index(path()); }
  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }
  void set_schema_version(int v) {
    exec("UPDATE meta SET value = '" + std::to_string(v) + "' WHERE key = 'schema_version'");
  }
  static constexpr const char* kTablePrefix = "";
  // The certificate table's index names, sorted (SQLite's own primary-key index left out).
  std::vector<std::string> certificate_indexes() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    std::vector<std::string> out;
    sqlite3_exec(
        db, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' AND sql IS NOT NULL ORDER BY name",
        [](void* o, int, char** v, char**) {
          static_cast<std::vector<std::string>*>(o)->push_back(v[0]);
          return 0;
        },
        &out, nullptr);
    sqlite3_close(db);
    return out;
  }
};

struct PgBackend {
  static constexpr bool kPg = true;
  std::string db;
  // Every call opens another connection pool to the same database: another replica. Through
  // open_cert_index with a postgresql:// URL, as configured.
  std::shared_ptr<CertIndex> open() {
    if (db.empty()) db = pgtest::shared_cluster().new_database_name();
    return open_cert_index(pgtest::shared_cluster().url(db));
  }
  void fresh() { db = pgtest::shared_cluster().new_database_name(); }
  void exec(const std::string& sql) {
    pqxx::connection c(pgtest::shared_cluster().conninfo(db));
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  void set_schema_version(int v) {
    exec("UPDATE steward_meta SET value = '" + std::to_string(v) + "' WHERE key = 'schema_version'");
  }
  static constexpr const char* kTablePrefix = "steward_";
  std::vector<std::string> certificate_indexes() {
    pqxx::connection c(pgtest::shared_cluster().conninfo(db));
    pqxx::work w(c);
    std::vector<std::string> out;
    for (const auto& row : w.exec("SELECT indexname FROM pg_indexes WHERE tablename = 'steward_certificates' AND "
                                  "indexname <> 'steward_certificates_pkey' ORDER BY indexname COLLATE \"C\""))
      out.push_back(row[0].as<std::string>().substr(std::string("steward_").size()));
    return out;
  }
};

std::string hex(unsigned n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%x", n);
  return buf;
}

IssuedCertificate make_cert(const std::string& serial, TimePoint issued = kT0,
                            TimePoint not_after = kT0 + 24h) {
  IssuedCertificate c;
  c.serial = serial;
  c.issued_at = issued;
  c.not_before = issued - 1min;
  c.not_after = not_after;
  c.sans = {"dns:" + serial + ".example"};
  c.platform = "kvm";
  c.policy_digest = "pd";
  c.issued_by = "https://steward-a.example";
  c.der = {0x30, 0x03, 0x02, 0x01, 0x01};
  return c;
}

RevocationRecord how(Reason reason = Reason::kKeyCompromise, std::string detail = "test",
                     TimePoint at = kNow) {
  RevocationRecord r;
  r.revoked_at = at;
  r.reason = reason;
  r.detail = std::move(detail);
  r.revoked_by = "cli";
  return r;
}

RevocationRecord how_one(const std::string& serial, Reason reason = Reason::kKeyCompromise,
                         std::string detail = "test", TimePoint at = kNow) {
  auto r = how(reason, std::move(detail), at);
  r.serial = serial;
  return r;
}

void expect_same(const IssuedCertificate& a, const IssuedCertificate& b) {
  EXPECT_EQ(a.serial, b.serial);
  EXPECT_EQ(a.issued_at, b.issued_at);
  EXPECT_EQ(a.not_before, b.not_before);
  EXPECT_EQ(a.not_after, b.not_after);
  EXPECT_EQ(a.sans, b.sans);
  EXPECT_EQ(a.platform, b.platform);
  EXPECT_EQ(a.measurement, b.measurement);
  EXPECT_EQ(a.signer, b.signer);
  EXPECT_EQ(a.tcb_status, b.tcb_status);
  EXPECT_EQ(a.tcb_level, b.tcb_level);
  EXPECT_EQ(a.chip_id, b.chip_id);
  EXPECT_EQ(a.ppid, b.ppid);
  EXPECT_EQ(a.fmspc, b.fmspc);
  EXPECT_EQ(a.keep_identity, b.keep_identity);
  EXPECT_EQ(a.policy_digest, b.policy_digest);
  EXPECT_EQ(a.collateral_digests, b.collateral_digests);
  EXPECT_EQ(a.insecure, b.insecure);
  EXPECT_EQ(a.issued_by, b.issued_by);
  EXPECT_EQ(a.der, b.der);
}

std::vector<std::string> serials_of(const std::vector<IssuedCertificate>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.serial);
  return out;
}

std::vector<std::string> serials_of(const std::vector<RevocationRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.serial);
  return out;
}

template <typename F>
ErrorKind kind_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "nothing was thrown";
  return ErrorKind::kInternal;
}

template <typename B>
class CertIndexConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (B::kPg) ENARX_REQUIRE_PG();
    index = backend.open();
  }

  // A fleet of certificates over every platform, issued one minute apart (so list order is
  // this order), all unexpired at kNow except the last two.
  //   1 snp  m1 s1 chip-a UpToDate  k1        2 snp  m2 s1 chip-b OutOfDate k2
  //   3 sgx  m1 s2 ppid-1 fmspc-1 UpToDate    4 sgx  m3 s2 ppid-2 fmspc-1 OutOfDate
  //   5 tdx  m4 s3 ppid-1 fmspc-2 OutOfDate   6 kvm  (nothing attested)
  //   7 snp  m1 s1 chip-a UpToDate, EXPIRED   8 sgx m3 fmspc-1 OutOfDate, EXPIRED (not_after == kNow)
  void populate() {
    auto at = [](int i) { return kT0 + std::chrono::minutes(i); };
    auto c = make_cert("1", at(1));
    c.platform = "snp", c.measurement = "m1", c.signer = "s1", c.chip_id = "chip-a", c.tcb_status = "UpToDate",
    c.keep_identity = "k1";
    index->record_issued(c);
    c = make_cert("2", at(2));
    c.platform = "snp", c.measurement = "m2", c.signer = "s1", c.chip_id = "chip-b", c.tcb_status = "OutOfDate",
    c.keep_identity = "k2";
    index->record_issued(c);
    c = make_cert("3", at(3));
    c.platform = "sgx", c.measurement = "m1", c.signer = "s2", c.ppid = "ppid-1", c.fmspc = "fmspc-1",
    c.tcb_status = "UpToDate", c.keep_identity = "k3";
    index->record_issued(c);
    c = make_cert("4", at(4));
    c.platform = "sgx", c.measurement = "m3", c.signer = "s2", c.ppid = "ppid-2", c.fmspc = "fmspc-1",
    c.tcb_status = "OutOfDate", c.keep_identity = "k4";
    index->record_issued(c);
    c = make_cert("5", at(5));
    c.platform = "tdx", c.measurement = "m4", c.signer = "s3", c.ppid = "ppid-1", c.fmspc = "fmspc-2",
    c.tcb_status = "OutOfDate", c.keep_identity = "k5";
    index->record_issued(c);
    c = make_cert("6", at(6));
    index->record_issued(c);
    c = make_cert("7", at(-120), kT0 - 1h);
    c.platform = "snp", c.measurement = "m1", c.signer = "s1", c.chip_id = "chip-a", c.tcb_status = "UpToDate";
    index->record_issued(c);
    c = make_cert("8", at(-60), kNow);
    c.platform = "sgx", c.measurement = "m3", c.fmspc = "fmspc-1", c.tcb_status = "OutOfDate";
    index->record_issued(c);
  }

  std::vector<std::string> listed(const CertSelector& s, bool include_revoked = false, TimePoint now = kNow) {
    return serials_of(index->list(s, now, include_revoked, kMaxListLimit));
  }

  B backend;
  std::shared_ptr<CertIndex> index;
};

using Backends = ::testing::Types<SqliteBackend, PgBackend>;
TYPED_TEST_SUITE(CertIndexConformance, Backends, pgtest::BackendNames);

TYPED_TEST(CertIndexConformance, RecordAndFindRoundTripEveryField) {
  auto& idx = *this->index;
  IssuedCertificate c;
  c.serial = "7f3a9c0b1d2e4f5061728394a5b6c7d8e9f00112";  // 40 digits: 20 octets
  c.issued_at = kT0 + 123456789ns;
  c.not_before = kT0 - 5min + 1ns;
  c.not_after = kT0 + 24h + 999ns;
  c.sans = {"dns:api.example.com", "uri:spiffe://example.com/ns/a", "dns:x\"y"};
  c.platform = "sgx";
  c.measurement = "aa11";
  c.signer = "bb22";
  c.tcb_status = "SWHardeningNeeded";
  c.tcb_level = "sgx svn 1 2 3 \xc3\xbc";
  c.chip_id = "";
  c.ppid = "cc33";
  c.fmspc = "00906ed50000";
  c.keep_identity = "dd44";
  c.policy_digest = "ee55";
  c.collateral_digests = {"01", "02", "03"};
  c.insecure = true;
  c.issued_by = "https://steward-b.example:8443";
  c.der = {0x30, 0x00, 0xff, 0x00, 0x7f, 0x80};
  EXPECT_EQ(idx.count_issued(), 0u);
  idx.record_issued(c);
  EXPECT_EQ(idx.count_issued(), 1u);
  auto got = idx.find(c.serial);
  ASSERT_TRUE(got);
  expect_same(*got, c);
  // Empty lists and strings round-trip too.
  auto bare = make_cert("1");
  bare.sans = {};
  bare.collateral_digests = {};
  bare.der = {};
  bare.policy_digest = "";
  bare.issued_by = "";
  idx.record_issued(bare);
  got = idx.find("1");
  ASSERT_TRUE(got);
  expect_same(*got, bare);
  EXPECT_FALSE(idx.find("abc"));
  EXPECT_FALSE(idx.revocation(c.serial));
}

// Rows of one commit travel together (PostgreSQL: as array literals): what is special in such a
// literal — quotes, backslashes, braces, commas, spaces, the word NULL, empty strings — and
// every byte value of the DER come back exactly, in every row, with the audit records.
TYPED_TEST(CertIndexConformance, EveryCharacterRoundTripsInAGroupOfRows) {
  auto& idx = *this->index;
  const std::vector<std::string> tricky = {"\"", "\\", "{", "}", ",", " lead and trail ", "NULL", "", "a\"b\\c{d}e,f",
                                           "\\x00", "\xc3\xa9\xe2\x82\xac", "'; DROP TABLE x; --", "\t\n\r"};
  std::vector<IssuedCertificate> rows;
  std::vector<nlohmann::json> audit;
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    auto c = make_cert(std::to_string(i + 1), kT0 + std::chrono::seconds(i));
    const auto& t = tricky[i];
    c.sans = {"dns:" + t, "uri:" + t};
    c.platform = t;
    c.measurement = t;
    c.signer = t;
    c.tcb_status = t;
    c.tcb_level = t;
    c.chip_id = t;
    c.ppid = t;
    c.fmspc = t;
    c.keep_identity = t;
    c.policy_digest = t;
    c.collateral_digests = {t, t + t};
    c.insecure = i % 2 == 1;
    c.issued_by = t;
    c.der.clear();
    for (int b = 0; b < 256; ++b) c.der.push_back(static_cast<std::uint8_t>((b + i) % 256));
    rows.push_back(c);
    audit.push_back(nlohmann::json{{"decision", "issued"}, {"serial", c.serial}, {"text", t}, {"n", i}});
  }
  idx.record_issued(rows, audit);
  for (const auto& c : rows) {
    auto got = idx.find(c.serial);
    ASSERT_TRUE(got) << c.serial;
    expect_same(*got, c);
  }
  const auto entries = idx.audit_entries(0, 100);
  ASSERT_EQ(entries.size(), audit.size());
  for (std::size_t i = 0; i < audit.size(); ++i) EXPECT_EQ(entries[i].record, audit[i]) << i;  // in order
}

TYPED_TEST(CertIndexConformance, DuplicateSerialIsRefusedAndKeepsTheFirst) {
  auto& idx = *this->index;
  auto first = make_cert("abc");
  first.platform = "snp";
  idx.record_issued(first);
  auto second = make_cert("abc");
  second.platform = "sgx";
  EXPECT_EQ(error_code([&] { idx.record_issued(second); }), "steward.index.duplicate_serial");
  EXPECT_EQ(kind_of([&] { idx.record_issued(second); }), ErrorKind::kConflict);
  EXPECT_EQ(idx.find("abc")->platform, "snp");
  EXPECT_EQ(idx.count_issued(), 1u);
}

TYPED_TEST(CertIndexConformance, SeveralCertificatesAreRecordedAllOrNone) {
  auto& idx = *this->index;
  idx.record_issued(make_cert("abc"));
  // A bundle whose last row repeats a recorded serial: none of its rows are recorded.
  const std::vector<IssuedCertificate> bundle = {make_cert("b1"), make_cert("b2"), make_cert("abc")};
  EXPECT_EQ(error_code([&] { idx.record_issued(bundle); }), "steward.index.duplicate_serial");
  EXPECT_FALSE(idx.find("b1"));
  EXPECT_FALSE(idx.find("b2"));
  // ... nor a bundle that names one serial twice.
  const std::vector<IssuedCertificate> twice = {make_cert("c1"), make_cert("c1")};
  EXPECT_EQ(error_code([&] { idx.record_issued(twice); }), "steward.index.duplicate_serial");
  EXPECT_FALSE(idx.find("c1"));
  const std::vector<IssuedCertificate> good = {make_cert("d1"), make_cert("d2")};
  idx.record_issued(good);
  EXPECT_TRUE(idx.find("d1"));
  EXPECT_TRUE(idx.find("d2"));
  EXPECT_EQ(idx.count_issued(), 3u);
  // Audit records go in with their certificates, or not at all.
  const std::vector<nlohmann::json> audit{nlohmann::json{{"decision", "issued"}, {"serial", "e1"}}};
  const std::vector<IssuedCertificate> refused = {make_cert("e1"), make_cert("abc")};
  EXPECT_EQ(error_code([&] { idx.record_issued(refused, audit); }), "steward.index.duplicate_serial");
  EXPECT_TRUE(idx.audit_entries(0, 10).empty());
  const std::vector<IssuedCertificate> accepted = {make_cert("e1", kT0 + 5s)};
  idx.record_issued(accepted, audit);
  const auto entries = idx.audit_entries(0, 10);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].record, audit[0]);
  EXPECT_EQ(entries[0].at, kT0 + 5s);
}

// Concurrent issuers share commits (group commit); every one of them still gets exactly its own
// outcome: every good row is recorded once, and only the callers that repeat a serial fail.
TYPED_TEST(CertIndexConformance, ConcurrentIssuersEachGetTheirOwnOutcome) {
  auto& idx = *this->index;
  idx.record_issued(make_cert("dead"));
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> duplicates{0}, other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        char serial[16];
        std::snprintf(serial, sizeof serial, "%x%03x", t + 1, i);
        try {
          idx.record_issued(make_cert(serial));
          if (i % 5 == 0) idx.record_issued(make_cert("dead"));  // always a duplicate
        } catch (const Error& e) {
          (e.code() == "steward.index.duplicate_serial" ? duplicates : other_errors)++;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(duplicates.load(), kThreads * kEach / 5);
  EXPECT_EQ(idx.count_issued(), static_cast<std::size_t>(kThreads * kEach + 1));
  EXPECT_TRUE(idx.find("1000"));
  EXPECT_TRUE(idx.find("8018"));
}

TYPED_TEST(CertIndexConformance, PruningDeletesOnlyCertificatesExpiredBeforeTheCutOff) {
  auto& idx = *this->index;
  idx.record_issued(make_cert("a1", kT0 - 72h, kT0 - 48h));  // expired first
  idx.record_issued(make_cert("a2", kT0 - 48h, kT0 - 24h));
  idx.record_issued(make_cert("a3", kT0 - 24h, kT0 - 1h));
  idx.record_issued(make_cert("b1", kT0, kT0 + 24h));         // unexpired
  RevocationRecord rec;
  rec.reason = revocation::Reason::kKeyCompromise;
  rec.revoked_at = kT0 - 50h;
  rec.serial = "a1";
  ASSERT_TRUE(idx.revoke(rec));  // a revoked one goes with its revocation record
  rec.serial = "b1";
  ASSERT_TRUE(idx.revoke(rec));
  EXPECT_EQ(error_code([&] { idx.prune_expired(kT0, kMaxPruneLimit + 1); }), "steward.index.bad_limit");
  EXPECT_EQ(idx.prune_expired(kT0, 0), 0u);
  // Oldest expiry first, at most `limit` per call.
  EXPECT_EQ(idx.prune_expired(kT0 - 2h, 1), 1u);
  EXPECT_FALSE(idx.find("a1"));
  EXPECT_FALSE(idx.revocation("a1"));
  EXPECT_TRUE(idx.find("a2"));
  EXPECT_EQ(idx.prune_expired(kT0 - 2h, 10), 1u);  // a2; a3 expired after the cut-off
  EXPECT_FALSE(idx.find("a2"));
  EXPECT_TRUE(idx.find("a3"));
  EXPECT_EQ(idx.prune_expired(kT0 - 2h, 10), 0u);
  EXPECT_EQ(idx.prune_expired(kT0 + 1h, 10), 1u);
  EXPECT_EQ(idx.count_issued(), 1u);
  EXPECT_TRUE(idx.revocation("b1"));
  EXPECT_EQ(idx.revoked_unexpired(kT0).size(), 1u);
  // The serial can no longer collide with anything: a pruned serial may be recorded again
  // only because it is gone (serials are random; this checks nothing of it is left behind).
  idx.record_issued(make_cert("a1"));
  EXPECT_FALSE(idx.revocation("a1"));
}

TYPED_TEST(CertIndexConformance, SerialsAreLowerCaseHexOfAtMost20Octets) {
  auto& idx = *this->index;
  const std::string forty(40, 'f');
  idx.record_issued(make_cert(forty));
  EXPECT_TRUE(idx.find(forty));
  for (const std::string& bad : std::vector<std::string>{"", "0", "0a", "ABC", "aBc", "g1", "12 ", "-1", "0x1f", std::string(41, 'f')}) {
    SCOPED_TRACE("serial '" + bad + "'");
    EXPECT_EQ(error_code([&] { idx.record_issued(make_cert(bad)); }), "steward.index.bad_serial");
    EXPECT_EQ(kind_of([&] { idx.record_issued(make_cert(bad)); }), ErrorKind::kInvalidInput);
    EXPECT_EQ(error_code([&] { idx.find(bad); }), "steward.index.bad_serial");
    EXPECT_EQ(error_code([&] { idx.revoke(how_one(bad)); }), "steward.index.bad_serial");
    EXPECT_EQ(error_code([&] { idx.revocation(bad); }), "steward.index.bad_serial");
    CertSelector s;
    s.serial = bad;
    EXPECT_EQ(error_code([&] { idx.list(s, kNow, true, 10); }), "steward.index.bad_serial");
    EXPECT_EQ(error_code([&] { idx.revoke_matching(s, how(), kNow); }), "steward.index.bad_serial");
    if (!bad.empty()) {
      EXPECT_EQ(error_code([&] { idx.list({}, kNow, true, 10, bad); }), "steward.index.bad_serial");
    }
  }
  EXPECT_EQ(idx.count_issued(), 1u);
}

// Both back ends store the same strings: UTF-8 without NUL (PostgreSQL's text refuses the rest).
TYPED_TEST(CertIndexConformance, TextFieldsAreUtf8WithoutNul) {
  auto& idx = *this->index;
  const std::vector<std::string> bad = {std::string("a\0b", 3), "\xff", "\xc3", "\xc0\x80", "\xed\xa0\x80",
                                        "\xf4\x90\x80\x80"};
  for (const auto& text : bad) {
    auto c = make_cert("1");
    c.tcb_level = text;
    EXPECT_EQ(error_code([&] { idx.record_issued(c); }), "steward.index.bad_text");
    c = make_cert("1");
    c.sans.push_back("dns:" + text);
    EXPECT_EQ(error_code([&] { idx.record_issued(c); }), "steward.index.bad_text");
    c = make_cert("1");
    c.issued_by = text;
    EXPECT_EQ(kind_of([&] { idx.record_issued(c); }), ErrorKind::kInvalidInput);
  }
  EXPECT_EQ(idx.count_issued(), 0u);
  auto c = make_cert("1");
  c.tcb_level = "\xe2\x82\xac \xf0\x9f\x94\x91 \xc3\xa9";  // 3-, 4- and 2-byte forms are fine
  idx.record_issued(c);
  EXPECT_EQ(idx.find("1")->tcb_level, c.tcb_level);
  auto r = how_one("1", Reason::kKeyCompromise, "\xff");
  EXPECT_EQ(error_code([&] { idx.revoke(r); }), "steward.index.bad_text");
  CertSelector s;
  s.platform = "kvm";
  EXPECT_EQ(error_code([&] { idx.revoke_matching(s, how(Reason::kKeyCompromise, std::string("\0", 1)), kNow); }),
            "steward.index.bad_text");
  s.measurement = "\xff";
  EXPECT_EQ(error_code([&] { idx.list(s, kNow, true, 10); }), "steward.index.bad_text");
  EXPECT_FALSE(idx.revocation("1"));
  EXPECT_EQ(idx.revocation_epoch(), 0u);
}

TYPED_TEST(CertIndexConformance, ListFiltersByEachSelectorField) {
  this->populate();
  using V = std::vector<std::string>;
  auto sel = [](auto field, const char* value) {
    CertSelector s;
    s.*field = value;
    return s;
  };
  EXPECT_EQ(this->listed({}), (V{"1", "2", "3", "4", "5", "6"}));  // 7 and 8 expired
  EXPECT_EQ(this->listed(sel(&CertSelector::serial, "4")), (V{"4"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::platform, "snp")), (V{"1", "2"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::platform, "kvm")), (V{"6"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::measurement, "m1")), (V{"1", "3"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::signer, "s2")), (V{"3", "4"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::chip_id, "chip-a")), (V{"1"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::ppid, "ppid-1")), (V{"3", "5"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::fmspc, "fmspc-1")), (V{"3", "4"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::tcb_status, "OutOfDate")), (V{"2", "4", "5"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::keep_identity, "k5")), (V{"5"}));
  EXPECT_EQ(this->listed(sel(&CertSelector::keep_identity, "nope")), V{});
  // AND of every set field.
  CertSelector both;
  both.fmspc = "fmspc-1";
  both.tcb_status = "OutOfDate";
  EXPECT_EQ(this->listed(both), (V{"4"}));
  both.platform = "tdx";
  EXPECT_EQ(this->listed(both), V{});
  CertSelector m1snp;
  m1snp.measurement = "m1";
  m1snp.platform = "snp";
  EXPECT_EQ(this->listed(m1snp), (V{"1"}));
  // A field set to "" matches certificates whose evidence lacks it (listing only).
  EXPECT_EQ(this->listed(sel(&CertSelector::measurement, "")), (V{"6"}));
  // Values are compared exactly.
  EXPECT_EQ(this->listed(sel(&CertSelector::platform, "SNP")), V{});
}

TYPED_TEST(CertIndexConformance, ListLeavesOutExpiredAndUnlessAskedRevoked) {
  this->populate();
  using V = std::vector<std::string>;
  // not_after == now is expired; one nanosecond before it is not.
  CertSelector eight;
  eight.serial = "8";
  EXPECT_EQ(this->listed(eight), V{});
  EXPECT_EQ(this->listed(eight, false, kNow - 1ns), (V{"8"}));
  EXPECT_EQ(this->listed({}, false, kT0 - 2h), (V{"7", "8", "1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(this->listed({}, false, kT0 + 24h), V{});
  ASSERT_TRUE(this->index->revoke(how_one("3")));
  EXPECT_EQ(this->listed({}), (V{"1", "2", "4", "5", "6"}));
  EXPECT_EQ(this->listed({}, true), (V{"1", "2", "3", "4", "5", "6"}));
  CertSelector three;
  three.serial = "3";
  EXPECT_EQ(this->listed(three), V{});
  EXPECT_EQ(this->listed(three, true), (V{"3"}));
}

TYPED_TEST(CertIndexConformance, ListPagesInIssuanceOrderWithABoundedLimit) {
  auto& idx = *this->index;
  // 25 certificates whose issuance order is not their serials' order, with ties broken by serial.
  std::vector<std::pair<TimePoint, std::string>> expected;
  for (unsigned i = 1; i <= 25; ++i) {
    const auto serial = hex(1000 - 37 * i);
    const auto at = kT0 + std::chrono::seconds((i * 7) % 11);
    idx.record_issued(make_cert(serial, at));
    expected.emplace_back(at, serial);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> want;
  for (const auto& e : expected) want.push_back(e.second);

  std::vector<std::string> got;
  std::string after;
  std::vector<std::size_t> pages;
  for (;;) {
    auto page = idx.list({}, kNow, false, 10, after);
    pages.push_back(page.size());
    for (const auto& c : page) got.push_back(c.serial);
    if (page.size() < 10) break;
    after = page.back().serial;
  }
  EXPECT_EQ(pages, (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(got, want);
  EXPECT_TRUE(idx.list({}, kNow, false, 10, want.back()).empty());

  EXPECT_TRUE(idx.list({}, kNow, true, 0).empty());
  EXPECT_EQ(idx.list({}, kNow, true, kMaxListLimit).size(), 25u);
  EXPECT_EQ(error_code([&] { idx.list({}, kNow, true, kMaxListLimit + 1); }), "steward.index.bad_limit");
  EXPECT_EQ(error_code([&] { idx.list({}, kNow, true, std::numeric_limits<std::size_t>::max()); }),
            "steward.index.bad_limit");
  EXPECT_EQ(error_code([&] { idx.list({}, kNow, true, 10, "abcdef"); }), "steward.index.bad_cursor");
  EXPECT_EQ(kind_of([&] { idx.list({}, kNow, true, 10, "abcdef"); }), ErrorKind::kInvalidInput);
}

TYPED_TEST(CertIndexConformance, RevokeOneKeepsTheFirstRecord) {
  auto& idx = *this->index;
  idx.record_issued(make_cert("a1"));
  EXPECT_EQ(idx.revocation_epoch(), 0u);
  EXPECT_FALSE(idx.revoke(how_one("b2")));  // unknown
  EXPECT_EQ(idx.revocation_epoch(), 0u);
  EXPECT_FALSE(idx.revocation("b2"));

  auto first = how_one("a1", Reason::kKeyCompromise, "key leaked", kNow);
  first.revoked_by = "https://steward-a.example";
  EXPECT_TRUE(idx.revoke(first));
  EXPECT_EQ(idx.revocation_epoch(), 1u);
  auto r = idx.revocation("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->serial, "a1");
  EXPECT_EQ(r->revoked_at, kNow);
  EXPECT_EQ(r->reason, Reason::kKeyCompromise);
  EXPECT_EQ(r->detail, "key leaked");
  EXPECT_EQ(r->revoked_by, "https://steward-a.example");

  EXPECT_TRUE(idx.revoke(how_one("a1", Reason::kSuperseded, "again", kNow + 1h)));
  r = idx.revocation("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kKeyCompromise);
  EXPECT_EQ(r->revoked_at, kNow);
  EXPECT_EQ(r->detail, "key leaked");
  EXPECT_EQ(idx.revocation_epoch(), 1u);  // nothing new was revoked

  // An expired certificate can be revoked too (it just never shows on a CRL).
  idx.record_issued(make_cert("c3", kT0 - 48h, kT0 - 24h));
  EXPECT_TRUE(idx.revoke(how_one("c3", Reason::kCessationOfOperation)));
  EXPECT_EQ(idx.revocation_epoch(), 2u);
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kNow)), (std::vector<std::string>{"a1"}));

  // Every RFC 5280 reason steward uses round-trips; certificateHold (6), removeFromCRL (8) and
  // garbage are refused.
  unsigned n = 0x100;
  for (auto reason : {Reason::kUnspecified, Reason::kCaCompromise, Reason::kAffiliationChanged,
                      Reason::kPrivilegeWithdrawn, Reason::kAaCompromise}) {
    const auto serial = hex(++n);
    idx.record_issued(make_cert(serial));
    ASSERT_TRUE(idx.revoke(how_one(serial, reason)));
    EXPECT_EQ(idx.revocation(serial)->reason, reason);
  }
  idx.record_issued(make_cert("d4"));
  for (unsigned bad : {6u, 8u, 11u, 255u}) {
    EXPECT_EQ(error_code([&] { idx.revoke(how_one("d4", static_cast<Reason>(bad))); }), "steward.index.bad_reason");
    CertSelector s;
    s.serial = "d4";
    EXPECT_EQ(error_code([&] { idx.revoke_matching(s, how(static_cast<Reason>(bad)), kNow); }),
              "steward.index.bad_reason");
  }
  EXPECT_FALSE(idx.revocation("d4"));
}

TYPED_TEST(CertIndexConformance, RevokeMatchingByChipIdLeavesExpiredAndOthers) {
  this->populate();
  auto& idx = *this->index;
  CertSelector s;
  s.chip_id = "chip-a";
  auto revoked = idx.revoke_matching(s, how(Reason::kKeyCompromise, "chip compromised"), kNow);
  EXPECT_EQ(revoked, (std::vector<std::string>{"1"}));  // 7 has chip-a but is expired
  EXPECT_FALSE(idx.revocation("7"));
  auto r = idx.revocation("1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->detail, "chip compromised");
  EXPECT_EQ(r->revoked_by, "cli");
  EXPECT_EQ(r->revoked_at, kNow);
  EXPECT_EQ(idx.revocation_epoch(), 1u);
  // Again: nothing left to revoke, the epoch stays.
  EXPECT_TRUE(idx.revoke_matching(s, how(), kNow).empty());
  EXPECT_EQ(idx.revocation_epoch(), 1u);
  EXPECT_FALSE(idx.revocation("2"));
}

// A certificate whose issuance began before a selector revocation but whose row commits after
// the revocation's scan (which therefore could not see it) is revoked by that revocation in its
// own transaction; one whose issuance began after it is not (revocation is not a ban).
TYPED_TEST(CertIndexConformance, ASelectorRevocationCoversCertificatesStillInFlight) {
  auto& idx = *this->index;
  auto chip = [](const std::string& serial, const std::string& chip_id, TimePoint issued) {
    auto c = make_cert(serial, issued);
    c.platform = "snp", c.chip_id = chip_id, c.measurement = "m1";
    return c;
  };
  CertSelector chip_x;
  chip_x.chip_id = "chip-x";
  EXPECT_TRUE(idx.revoke_matching(chip_x, how(Reason::kKeyCompromise, "chip leaked", kNow), kNow).empty());
  EXPECT_EQ(idx.revocation_epoch(), 0u) << "nothing was revoked yet";

  // In flight: began a second before, and at the same instant.
  auto got = idx.record_issued(chip("f1", "chip-x", kNow - 1s));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].serial, "f1");
  EXPECT_EQ(got[0].reason, Reason::kKeyCompromise);
  auto r = idx.revocation("f1");
  ASSERT_TRUE(r) << "the certificate in flight escaped the revocation";
  EXPECT_EQ(r->revoked_at, kNow);
  EXPECT_EQ(r->detail, "chip leaked");
  EXPECT_EQ(r->revoked_by, "cli");
  EXPECT_EQ(idx.revocation_epoch(), 1u) << "the CRL must be rebuilt";
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kNow)), (std::vector<std::string>{"f1"}));
  EXPECT_EQ(idx.record_issued(chip("f2", "chip-x", kNow)).size(), 1u);
  EXPECT_TRUE(idx.revocation("f2"));
  EXPECT_EQ(idx.revocation_epoch(), 2u);

  // Not covered: began after the revocation, or another chip.
  EXPECT_TRUE(idx.record_issued(chip("f3", "chip-x", kNow + 1s)).empty());
  EXPECT_TRUE(idx.record_issued(chip("e1", "chip-y", kNow - 1s)).empty());
  EXPECT_FALSE(idx.revocation("f3"));
  EXPECT_FALSE(idx.revocation("e1"));
  EXPECT_EQ(idx.revocation_epoch(), 2u);

  // A bundle: only its covered rows are revoked, all rows are recorded.
  const std::vector<IssuedCertificate> bundle = {chip("b1", "chip-y", kNow - 1s), chip("b2", "chip-x", kNow - 1s)};
  got = idx.record_issued(bundle);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].serial, "b2");
  EXPECT_TRUE(idx.find("b1"));
  EXPECT_FALSE(idx.revocation("b1"));

  // Two revocations cover a row: the earlier one's record stands, as with revoke().
  CertSelector m1;
  m1.measurement = "m1";
  EXPECT_EQ(idx.revoke_matching(m1, how(Reason::kSuperseded, "m1 withdrawn", kNow + 10s), kNow + 10s),
            (std::vector<std::string>{"b1", "e1", "f3"}));
  got = idx.record_issued(chip("f4", "chip-x", kNow - 1s));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(idx.revocation("f4")->reason, Reason::kKeyCompromise);
  got = idx.record_issued(chip("f5", "chip-y", kNow + 5s));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(idx.revocation("f5")->reason, Reason::kSuperseded);

  // The shared trail says which revocation took each, marked as taken during issuance.
  int during = 0;
  for (const auto& e : idx.audit_entries(0, 100))
    if (e.record.value("during_issuance", false)) {
      ++during;
      EXPECT_EQ(e.record.value("decision", ""), "revoked");
    }
  EXPECT_EQ(during, 5);

  // Pruning forgets revocations made before its cut-off (with the certificates expired then).
  idx.prune_expired(kNow + 1s, kMaxPruneLimit);
  auto f6 = chip("f6", "chip-x", kNow - 1s);
  f6.measurement = "m2";
  EXPECT_TRUE(idx.record_issued(f6).empty());
  EXPECT_EQ(idx.record_issued(chip("f7", "chip-z", kNow - 1s)).size(), 1u) << "m1's revocation is younger";
}

// record_issued_async (what steward's HTTP workers use): the same rows and audit records as
// record_issued, the outcome handed to the completion — off the caller's thread once queued,
// at once for a row that fails its checks; a duplicate serial fails only its own unit.
TYPED_TEST(CertIndexConformance, AsynchronousIssuanceRecordsLikeTheSynchronousOne) {
  auto& idx = *this->index;
  struct Outcome {
    std::string code = "pending";
    bool on_caller = false;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Outcome> outcomes;
  const auto caller = std::this_thread::get_id();
  auto completion = [&](std::string name) {
    return [&, name](std::exception_ptr error, std::vector<RevocationRecord>) {
      const std::string code = error ? support::error_code([&] { std::rethrow_exception(error); }) : "";
      std::lock_guard lock(mu);
      outcomes[name] = {code, std::this_thread::get_id() == caller};
      cv.notify_all();
    };
  };
  idx.record_issued(make_cert("dd"));
  const std::vector<IssuedCertificate> a = {make_cert("b1"), make_cert("b2")}, dup = {make_cert("dd")};
  const std::vector<nlohmann::json> a_audit = {{{"decision", "issued"}, {"serial", "b1"}},
                                               {{"decision", "issued"}, {"serial", "b2"}}};
  auto bad = make_cert("cc");
  bad.platform = std::string("a\0b", 3);
  idx.record_issued_async(a, a_audit, completion("a"));
  idx.record_issued_async(dup, {}, completion("dup"));
  idx.record_issued_async(std::span(&bad, 1), {}, completion("bad"));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return outcomes.size() == 3; }));
  }
  EXPECT_EQ(outcomes["a"].code, "");
  EXPECT_FALSE(outcomes["a"].on_caller);
  EXPECT_EQ(outcomes["dup"].code, "steward.index.duplicate_serial");
  EXPECT_EQ(outcomes["bad"].code, "steward.index.bad_text");
  EXPECT_TRUE(outcomes["bad"].on_caller);
  EXPECT_TRUE(idx.find("b1"));
  EXPECT_TRUE(idx.find("b2"));
  const auto trail = idx.audit_entries(0, 100);
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[0].record.value("serial", ""), "b1");
  EXPECT_EQ(trail[1].record.value("serial", ""), "b2");
}

// Every revocation writes its audit record in its own transaction: with the trail refusing
// writes (a trigger, as a full disk would), no revocation happens at all.
TYPED_TEST(CertIndexConformance, RevocationsAndTheirAuditRecordsCommitTogether) {
  auto& idx = *this->index;
  for (const char* serial : {"a1", "a2", "a3", "a4"}) {
    auto c = make_cert(serial);
    c.chip_id = std::string(serial) < "a3" ? "chip-x" : "chip-y";
    idx.record_issued(c);
  }
  ASSERT_TRUE(idx.revoke(how_one("a1", Reason::kKeyCompromise, "leaked")));
  CertSelector chip_x;
  chip_x.chip_id = "chip-x";
  EXPECT_EQ(idx.revoke_matching(chip_x, how(Reason::kSuperseded, "old chip"), kNow), (std::vector<std::string>{"a2"}));
  auto trail = idx.audit_entries(0, 100);
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[0].record, (nlohmann::json{{"decision", "revoked"}, {"serial", "a1"}, {"reason", "keyCompromise"},
                                             {"detail", "leaked"}, {"by", "cli"}}));
  EXPECT_EQ(trail[1].record.value("serial", ""), "a2");
  EXPECT_EQ(trail[1].record.value("reason", ""), "superseded");
  EXPECT_EQ(trail[0].at, kNow);
  // A caller's own record instead of the standard one (re-evaluation's says why).
  ASSERT_TRUE(idx.revoke(how_one("a3"), nlohmann::json{{"decision", "revoked"}, {"serial", "a3"}, {"code", "x"}}));
  EXPECT_EQ(idx.audit_entries(0, 100).back().record.value("code", ""), "x");
  EXPECT_EQ(idx.revocation_epoch(), 3u);

  if constexpr (TypeParam::kPg)
    this->backend.exec(
        "CREATE OR REPLACE FUNCTION steward_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit refused' USING ERRCODE = '53100'; END $$; "
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON steward_audit FOR EACH ROW EXECUTE FUNCTION steward_refuse_audit()");
  else
    this->backend.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
  EXPECT_THROW(idx.revoke(how_one("a4")), Error);
  CertSelector chip_y;
  chip_y.chip_id = "chip-y";
  EXPECT_THROW(idx.revoke_matching(chip_y, how(), kNow), Error);
  EXPECT_FALSE(idx.revocation("a4")) << "a revocation without its audit record";
  EXPECT_EQ(idx.revocation_epoch(), 3u);
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kNow)), (std::vector<std::string>{"a1", "a2", "a3"}));
}

TYPED_TEST(CertIndexConformance, RevokeMatchingByMeasurement) {
  this->populate();
  auto& idx = *this->index;
  ASSERT_TRUE(idx.revoke(how_one("3", Reason::kSuperseded, "earlier")));
  CertSelector s;
  s.measurement = "m1";
  // 1 matches; 3 matches but is already revoked (its record stays); 7 matches but is expired.
  EXPECT_EQ(idx.revoke_matching(s, how(Reason::kPrivilegeWithdrawn, "measurement withdrawn"), kNow),
            (std::vector<std::string>{"1"}));
  EXPECT_EQ(idx.revocation("1")->reason, Reason::kPrivilegeWithdrawn);
  EXPECT_EQ(idx.revocation("3")->reason, Reason::kSuperseded);
  EXPECT_EQ(idx.revocation("3")->detail, "earlier");
  EXPECT_FALSE(idx.revocation("7"));
  EXPECT_EQ(idx.revocation_epoch(), 2u);
}

TYPED_TEST(CertIndexConformance, RevokeMatchingByFmspcAndTcbStatusIsAnAnd) {
  this->populate();
  auto& idx = *this->index;
  CertSelector s;
  s.fmspc = "fmspc-1";
  s.tcb_status = "OutOfDate";
  // 4 (fmspc-1, OutOfDate); not 3 (UpToDate), not 5 (fmspc-2), not 8 (expired at kNow).
  EXPECT_EQ(idx.revoke_matching(s, how(Reason::kAffiliationChanged), kNow), (std::vector<std::string>{"4"}));
  for (const char* untouched : {"1", "2", "3", "5", "6", "7", "8"}) EXPECT_FALSE(idx.revocation(untouched)) << untouched;
}

TYPED_TEST(CertIndexConformance, RevokeMatchingByPlatform) {
  this->populate();
  auto& idx = *this->index;
  CertSelector s;
  s.platform = "sgx";
  const auto revoked = idx.revoke_matching(s, how(), kNow);
  EXPECT_EQ(revoked, (std::vector<std::string>{"3", "4"}));
  EXPECT_FALSE(idx.revocation("8"));
  EXPECT_EQ(idx.revocation_epoch(), 1u);  // once per call
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kNow)), revoked);
  // The same selector "later": 8 is still expired, the others already revoked.
  EXPECT_TRUE(idx.revoke_matching(s, how(), kNow + 1min).empty());
}

TYPED_TEST(CertIndexConformance, RevokeMatchingRefusesAnEmptySelector) {
  this->populate();
  auto& idx = *this->index;
  EXPECT_EQ(error_code([&] { idx.revoke_matching({}, how(), kNow); }), "steward.index.empty_selector");
  EXPECT_EQ(kind_of([&] { idx.revoke_matching({}, how(), kNow); }), ErrorKind::kInvalidInput);
  // A field set to "" would select every certificate lacking that fact: refused too.
  for (auto field : {&CertSelector::platform, &CertSelector::measurement, &CertSelector::signer,
                     &CertSelector::chip_id, &CertSelector::ppid, &CertSelector::fmspc,
                     &CertSelector::tcb_status, &CertSelector::keep_identity}) {
    CertSelector s;
    s.*field = "";
    EXPECT_EQ(error_code([&] { idx.revoke_matching(s, how(), kNow); }), "steward.index.empty_selector");
    s.platform = "kvm";
    if (field != &CertSelector::platform) {
      EXPECT_EQ(error_code([&] { idx.revoke_matching(s, how(), kNow); }), "steward.index.empty_selector");
    }
  }
  EXPECT_TRUE(idx.revoked_unexpired(kT0 - 24h).empty());
  EXPECT_EQ(idx.revocation_epoch(), 0u);
}

TYPED_TEST(CertIndexConformance, RevokedUnexpiredIsInSerialNumberOrderAndDropsExpired) {
  auto& idx = *this->index;
  // Numerically: a (10) < 10 (16) < ff (255) < 1f0 (496) < 1000 (4096).
  for (const char* serial : {"1f0", "ff", "1000", "10", "a"}) idx.record_issued(make_cert(serial));
  idx.record_issued(make_cert("b", kT0, kT0 + 2h));  // expires at kT0 + 2h
  for (const char* serial : {"ff", "1000", "a", "1f0", "10", "b"}) ASSERT_TRUE(idx.revoke(how_one(serial)));
  EXPECT_EQ(idx.revocation_epoch(), 6u);
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kNow)), (std::vector<std::string>{"a", "b", "10", "ff", "1f0", "1000"}));
  EXPECT_EQ(serials_of(idx.revoked_unexpired(kT0 + 2h)), (std::vector<std::string>{"a", "10", "ff", "1f0", "1000"}));
  EXPECT_TRUE(idx.revoked_unexpired(kT0 + 24h).empty());
  EXPECT_EQ(idx.revoked_unexpired(kNow)[0].reason, Reason::kKeyCompromise);
  // revoke_matching returns its serials in the same order.
  for (const char* serial : {"1f1", "f1", "1001", "11"}) {
    auto c = make_cert(serial);
    c.keep_identity = "batch";
    idx.record_issued(c);
  }
  CertSelector s;
  s.keep_identity = "batch";
  EXPECT_EQ(idx.revoke_matching(s, how(), kNow), (std::vector<std::string>{"11", "f1", "1f1", "1001"}));
  EXPECT_EQ(idx.revocation_epoch(), 7u);
}

TYPED_TEST(CertIndexConformance, PublishCrlIsACompareAndSet) {
  auto& idx = *this->index;
  EXPECT_FALSE(idx.current_crl());
  CrlRecord one{1, 0, kNow, kNow + 24h, {0x30, 0x01, 0x00}};
  EXPECT_FALSE(idx.publish_crl(0, CrlRecord{0, 0, kNow, kNow, {}}));  // must increase
  EXPECT_FALSE(idx.publish_crl(5, one));                              // 1 is not above 5
  EXPECT_FALSE(idx.current_crl());
  EXPECT_TRUE(idx.publish_crl(0, one));
  auto crl = idx.current_crl();
  ASSERT_TRUE(crl);
  EXPECT_EQ(crl->number, 1u);
  EXPECT_EQ(crl->revocation_epoch, 0u);
  EXPECT_EQ(crl->this_update, kNow);
  EXPECT_EQ(crl->next_update, kNow + 24h);
  EXPECT_EQ(crl->der, one.der);

  CrlRecord five{5, 3, kNow + 1h, kNow + 25h, {0x30, 0x02, 0x05, 0x05}};
  EXPECT_FALSE(idx.publish_crl(0, five));  // stale expectation: 1 is stored
  EXPECT_FALSE(idx.publish_crl(2, five));  // wrong expectation
  EXPECT_FALSE(idx.publish_crl(1, CrlRecord{1, 3, kNow, kNow, {0x01}}));  // not above 1
  EXPECT_TRUE(idx.publish_crl(1, five));
  crl = idx.current_crl();
  ASSERT_TRUE(crl);
  EXPECT_EQ(crl->number, 5u);
  EXPECT_EQ(crl->revocation_epoch, 3u);
  EXPECT_EQ(crl->der, five.der);
  EXPECT_FALSE(idx.publish_crl(1, CrlRecord{9, 3, kNow, kNow, {}}));
  EXPECT_EQ(idx.current_crl()->number, 5u);

  const auto too_big = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
  EXPECT_EQ(error_code([&] { idx.publish_crl(5, CrlRecord{too_big, 3, kNow, kNow, {}}); }), "steward.index.bad_crl");
  EXPECT_EQ(error_code([&] { idx.publish_crl(5, CrlRecord{6, too_big, kNow, kNow, {}}); }), "steward.index.bad_crl");
  EXPECT_FALSE(idx.publish_crl(too_big, CrlRecord{too_big - 1, 0, kNow, kNow, {}}));
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(idx.publish_crl(5, CrlRecord{max, 3, kNow, kNow, {}}));
  EXPECT_EQ(idx.current_crl()->number, max);
}

// Replicas race to publish: in every round each of them reads the stored number and tries to
// store the next one; exactly one wins and everyone then reads the winner's CRL.
TYPED_TEST(CertIndexConformance, ConcurrentPublishersExactlyOneWinsPerRound) {
  constexpr int kReplicas = 4;
  constexpr int kRounds = 15;
  std::vector<std::shared_ptr<CertIndex>> replicas{this->index};
  for (int i = 1; i < kReplicas; ++i) replicas.push_back(this->backend.open());
  std::vector<std::atomic<int>> wins(kRounds);
  std::vector<std::array<std::uint64_t, kReplicas>> seen(kRounds);
  std::barrier sync(kReplicas);
  std::vector<std::thread> threads;
  for (int t = 0; t < kReplicas; ++t) {
    threads.emplace_back([&, t] {
      auto& idx = *replicas[static_cast<std::size_t>(t)];
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();  // everyone has read the previous round's result
        const auto current = idx.current_crl();
        const std::uint64_t expected = current ? current->number : 0;
        sync.arrive_and_wait();  // everyone has read the same number
        CrlRecord next{expected + 1, expected, kNow, kNow + 1h, {static_cast<std::uint8_t>(t)}};
        if (idx.publish_crl(expected, next)) wins[static_cast<std::size_t>(round)]++;
        sync.arrive_and_wait();
        seen[static_cast<std::size_t>(round)][static_cast<std::size_t>(t)] = idx.current_crl()->number;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(wins[static_cast<std::size_t>(round)].load(), 1) << "round " << round;
    for (int t = 0; t < kReplicas; ++t)
      EXPECT_EQ(seen[static_cast<std::size_t>(round)][static_cast<std::size_t>(t)], static_cast<std::uint64_t>(round + 1));
  }
  EXPECT_EQ(this->index->current_crl()->number, static_cast<std::uint64_t>(kRounds));
}

TYPED_TEST(CertIndexConformance, AuditAppendReadOrderAndTail) {
  auto& idx = *this->index;
  EXPECT_TRUE(idx.audit_entries(0, 100).empty());
  for (int i = 0; i < 10; ++i)
    idx.append_audit(kT0 + std::chrono::seconds(i), {{"n", i}, {"decision", "issued"}, {"sans", {"dns:a"}}});
  auto all = idx.audit_entries(0, 100);
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].record["n"], static_cast<int>(i));
    EXPECT_EQ(all[i].at, kT0 + std::chrono::seconds(i));
    if (i > 0) {
      EXPECT_GT(all[i].id, all[i - 1].id);
    }
  }
  EXPECT_EQ(all[3].record, (nlohmann::json{{"n", 3}, {"decision", "issued"}, {"sans", {"dns:a"}}}));
  // The newest `limit`, oldest first.
  auto tail = idx.audit_entries(0, 3);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].record["n"], 7);
  EXPECT_EQ(tail[2].record["n"], 9);
  // Following: everything after the last id seen.
  auto after = idx.audit_entries(all[4].id, 100);
  ASSERT_EQ(after.size(), 5u);
  EXPECT_EQ(after[0].record["n"], 5);
  EXPECT_TRUE(idx.audit_entries(all.back().id, 10).empty());
  idx.append_audit(kNow, {{"n", 10}});
  after = idx.audit_entries(all.back().id, 10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].record["n"], 10);
  EXPECT_TRUE(idx.audit_entries(0, 0).empty());
  EXPECT_EQ(idx.audit_entries(0, kMaxAuditLimit).size(), 11u);
  EXPECT_EQ(error_code([&] { idx.audit_entries(0, kMaxAuditLimit + 1); }), "steward.index.bad_limit");
  // Invalid UTF-8 cannot be JSON text: stored with U+FFFD instead of failing the audit.
  idx.append_audit(kNow, {{"subject", std::string("bad \xff byte")}});
  auto last = idx.audit_entries(0, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].record["subject"], "bad \xef\xbf\xbd byte");
}

// Several threads, on one index and on replicas of it, record and audit at once: no row lost.
// The same race for real, on the store's own concurrency (threads; on PostgreSQL separate
// replicas): issuers take their issued_at from a shared clock and then commit, while another
// handle revokes by selector at that clock's current time. Whatever the interleaving, every
// certificate whose issuance began at or before the revocation ends up revoked (later ones are
// revoked only if they committed before the revocation's scan: revoke_matching takes every
// matching row it finds).
TYPED_TEST(CertIndexConformance, ConcurrentIssuanceAndSelectorRevocationMissNothing) {
  constexpr unsigned kIssuers = 2;
  constexpr unsigned kPerIssuer = 60;
  std::vector<std::shared_ptr<CertIndex>> handles{this->index, this->backend.open(), this->backend.open()};
  std::atomic<unsigned> clock{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kIssuers; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < kPerIssuer; ++i) {
        auto c = make_cert(hex(0x10000 * (t + 1) + i), kNow + std::chrono::milliseconds(clock.fetch_add(1)));
        c.platform = "snp", c.chip_id = "chip-x";
        try {
          handles[t]->record_issued(c);
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  TimePoint revoked_at{};
  threads.emplace_back([&] {
    while (clock.load() < kIssuers * kPerIssuer / 3) std::this_thread::yield();
    revoked_at = kNow + std::chrono::milliseconds(clock.load());
    CertSelector s;
    s.chip_id = "chip-x";
    handles[2]->revoke_matching(s, how(Reason::kKeyCompromise, "chip leaked", revoked_at), kNow);
  });
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto& idx = *this->index;
  unsigned covered = 0;
  for (unsigned t = 0; t < kIssuers; ++t) {
    for (unsigned i = 0; i < kPerIssuer; ++i) {
      const auto c = idx.find(hex(0x10000 * (t + 1) + i));
      ASSERT_TRUE(c);
      if (c->issued_at > revoked_at) continue;  // revoked only if it committed before the scan
      ++covered;
      EXPECT_TRUE(idx.revocation(c->serial)) << c->serial << " began before the revocation and escaped it";
    }
  }
  EXPECT_GT(covered, 0u);
}

TYPED_TEST(CertIndexConformance, ConcurrentWritersLoseNoRows) {
  constexpr unsigned kThreads = 4;
  constexpr unsigned kPerThread = 40;
  std::vector<std::shared_ptr<CertIndex>> handles{this->index, this->index, this->backend.open(),
                                                  this->backend.open()};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& idx = *handles[t];
      for (unsigned i = 0; i < kPerThread; ++i) {
        try {
          idx.record_issued(make_cert(hex(0x10000 * (t + 1) + i), kT0 + std::chrono::milliseconds(i)));
          idx.append_audit(kNow, {{"thread", t}, {"i", i}});
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto& idx = *this->index;
  EXPECT_EQ(idx.count_issued(), kThreads * kPerThread);
  for (unsigned t = 0; t < kThreads; ++t)
    for (unsigned i = 0; i < kPerThread; ++i) EXPECT_TRUE(idx.find(hex(0x10000 * (t + 1) + i)));
  auto audit = idx.audit_entries(0, kMaxAuditLimit);
  ASSERT_EQ(audit.size(), kThreads * kPerThread);
  std::set<std::pair<unsigned, unsigned>> seen;
  for (std::size_t i = 0; i < audit.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(audit[i].id, audit[i - 1].id);
    }
    const auto& rec = audit[i].record;
    seen.emplace(rec.at("thread").template get<unsigned>(), rec.at("i").template get<unsigned>());
  }
  EXPECT_EQ(seen.size(), kThreads * kPerThread);
}

// Replicas revoking overlapping sets at once: each serial is revoked once, and the epoch counts
// exactly the revocations (strictly increasing across replicas, none lost).
TYPED_TEST(CertIndexConformance, ConcurrentRevocationsAcrossReplicasKeepTheEpochExact) {
  constexpr unsigned kCerts = 30;
  auto& idx = *this->index;
  for (unsigned i = 1; i <= kCerts; ++i) idx.record_issued(make_cert(hex(i)));
  std::vector<std::shared_ptr<CertIndex>> replicas{this->index, this->backend.open(), this->backend.open()};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (unsigned t = 0; t < replicas.size(); ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 1; i <= kCerts; ++i) {
        try {
          const unsigned n = (i + 7 * t) % kCerts + 1;  // each replica in another order
          if (!replicas[t]->revoke(how_one(hex(n), Reason::kKeyCompromise, "replica " + std::to_string(t)))) ++failures;
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(idx.revocation_epoch(), kCerts);
  EXPECT_EQ(idx.revoked_unexpired(kNow).size(), kCerts);
  for (auto& r : replicas) EXPECT_EQ(r->revocation_epoch(), kCerts);
}

// Two independent connections ("replicas") to the same file / database: what one records, the
// other revokes, and both report the same revocation, epoch and CRL.
TYPED_TEST(CertIndexConformance, ReplicasShareOneIndex) {
  auto a = this->index;
  auto b = this->backend.open();
  auto cert = make_cert("5eed");
  cert.chip_id = "chip-z";
  cert.platform = "snp";
  a->record_issued(cert);
  ASSERT_TRUE(b->find("5eed"));
  expect_same(*b->find("5eed"), cert);
  EXPECT_EQ(error_code([&] { b->record_issued(cert); }), "steward.index.duplicate_serial");

  auto r = how_one("5eed", Reason::kKeyCompromise, "revoked through b");
  r.revoked_by = "https://steward-b.example";
  EXPECT_TRUE(b->revoke(r));
  for (auto* idx : {a.get(), b.get()}) {
    auto got = idx->revocation("5eed");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->revoked_by, "https://steward-b.example");
    EXPECT_EQ(idx->revocation_epoch(), 1u);
    EXPECT_EQ(serials_of(idx->revoked_unexpired(kNow)), (std::vector<std::string>{"5eed"}));
    EXPECT_TRUE(idx->list({}, kNow, false, 10).empty());
  }
  // a sees the epoch moved past its (absent) CRL, builds one, publishes; b serves the same bytes.
  const auto epoch = a->revocation_epoch();
  ASSERT_TRUE(a->publish_crl(0, CrlRecord{1, epoch, kNow, kNow + 1h, {0x30, 0x03, 0x5e, 0xed, 0x01}}));
  EXPECT_FALSE(b->publish_crl(0, CrlRecord{1, epoch, kNow, kNow + 1h, {0x30, 0x00}}));
  auto ca = a->current_crl();
  auto cb = b->current_crl();
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->der, cb->der);
  EXPECT_EQ(cb->revocation_epoch, 1u);
  // A revocation through b makes a's CRL stale for both.
  b->record_issued(make_cert("5eee"));
  CertSelector s;
  s.serial = "5eee";
  EXPECT_EQ(a->revoke_matching(s, how(), kNow), (std::vector<std::string>{"5eee"}));
  EXPECT_EQ(b->revocation_epoch(), 2u);
  EXPECT_GT(b->revocation_epoch(), cb->revocation_epoch);
  a->append_audit(kNow, {{"via", "a"}});
  b->append_audit(kNow, {{"via", "b"}});
  // One trail: both revocations' records (written by b, then a), then a's and b's appends.
  auto trail = a->audit_entries(0, 10);
  ASSERT_EQ(trail.size(), 4u);
  EXPECT_EQ(trail[0].record["serial"], "5eed");
  EXPECT_EQ(trail[1].record["serial"], "5eee");
  EXPECT_EQ(trail[2].record["via"], "a");
  EXPECT_EQ(trail[3].record["via"], "b");
}

TYPED_TEST(CertIndexConformance, ReopeningKeepsEverything) {
  this->index->record_issued(make_cert("abc"));
  ASSERT_TRUE(this->index->revoke(how_one("abc")));
  ASSERT_TRUE(this->index->publish_crl(0, CrlRecord{1, 1, kNow, kNow + 1h, {0x30}}));
  this->index->append_audit(kNow, {{"k", "v"}});
  this->index.reset();
  auto idx = this->backend.open();
  EXPECT_EQ(idx->count_issued(), 1u);
  EXPECT_TRUE(idx->find("abc"));
  EXPECT_TRUE(idx->revocation("abc"));
  EXPECT_EQ(idx->revocation_epoch(), 1u);
  EXPECT_EQ(idx->current_crl()->number, 1u);
  ASSERT_EQ(idx->audit_entries(0, 10).size(), 2u);  // the revocation's record and the append
  // Ids continue after a reopen.
  const auto last = idx->audit_entries(0, 10)[1].id;
  idx->append_audit(kNow, {{"k", "w"}});
  EXPECT_GT(idx->audit_entries(0, 10)[2].id, last);
}

// Replicas starting at once against a fresh store create the schema once between them.
TYPED_TEST(CertIndexConformance, ConcurrentOpensCreateTheSchemaOnce) {
  this->backend.fresh();
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<CertIndex>> opened(4);
  std::atomic<int> failures{0};
  for (std::size_t i = 0; i < opened.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        opened[i] = this->backend.open();
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  opened[0]->record_issued(make_cert("1"));
  for (auto& idx : opened) EXPECT_EQ(idx->count_issued(), 1u);
}

TYPED_TEST(CertIndexConformance, ANewerSchemaIsRefused) {
  this->index->record_issued(make_cert("1"));
  this->index.reset();
  this->backend.set_schema_version(99);
  EXPECT_EQ(error_code([&] { this->backend.open(); }), "steward.index.schema_too_new");
  this->backend.set_schema_version(1);
  EXPECT_EQ(this->backend.open()->count_issued(), 1u);
}

// Version 1 indexed platform and tcb_status alone and the per-platform fields everywhere;
// opening it migrates to version 2 (partial indexes where the field is set), rows intact, and
// every selector still finds what it did.
TYPED_TEST(CertIndexConformance, Version1IsMigratedToSparseIndexes) {
  this->populate();
  this->index.reset();
  const std::string t = std::string(TypeParam::kTablePrefix) + "certificates";
  this->backend.exec("DROP INDEX " + t + "_by_chip_id_set; DROP INDEX " + t + "_by_ppid_set; DROP INDEX " + t +
                     "_by_fmspc_set; DROP INDEX " + t + "_by_keep_identity_set; CREATE INDEX " + t +
                     "_by_platform ON " + t + "(platform); CREATE INDEX " + t + "_by_tcb_status ON " + t +
                     "(tcb_status); CREATE INDEX " + t + "_by_chip_id ON " + t + "(chip_id); CREATE INDEX " + t +
                     "_by_ppid ON " + t + "(ppid); CREATE INDEX " + t + "_by_fmspc ON " + t +
                     "(fmspc, tcb_status); CREATE INDEX " + t + "_by_keep_identity ON " + t + "(keep_identity); DROP TABLE " +
                     TypeParam::kTablePrefix + "selector_revocations");
  this->backend.set_schema_version(1);
  this->index = this->backend.open();
  EXPECT_EQ(this->backend.certificate_indexes(),
            (std::vector<std::string>{"certificates_by_chip_id_set", "certificates_by_fmspc_set",
                                      "certificates_by_issued", "certificates_by_keep_identity_set",
                                      "certificates_by_measurement", "certificates_by_not_after",
                                      "certificates_by_ppid_set", "certificates_by_signer"}));
  EXPECT_EQ(this->index->count_issued(), 8u);
  const std::pair<std::function<void(CertSelector&)>, std::vector<std::string>> cases[] = {
      {[](CertSelector& s) { s.chip_id = "chip-a"; }, {"1"}},
      {[](CertSelector& s) { s.ppid = "ppid-1"; }, {"3", "5"}},
      {[](CertSelector& s) { s.fmspc = "fmspc-1", s.tcb_status = "OutOfDate"; }, {"4"}},
      {[](CertSelector& s) { s.keep_identity = "k2"; }, {"2"}},
      {[](CertSelector& s) { s.platform = "sgx"; }, {"3", "4"}},
      // Listing (not revoking) by an empty field: the certificates without one.
      {[](CertSelector& s) { s.platform = "sgx", s.chip_id = ""; }, {"3", "4"}},
  };
  for (const auto& [set, serials] : cases) {
    CertSelector selector;
    set(selector);
    EXPECT_EQ(this->listed(selector), serials);
  }
}

// The planner uses the sparse index for a selector on a per-platform field (the `<> ''` the
// selector adds is what lets it).
TEST(SqliteCertIndex, ChipIdSelectorUsesThePartialIndex) {
  TempDir dir("cert-index");
  const auto path = (dir.path() / "index.sqlite3").string();
  open_sqlite_cert_index(path)->record_issued(make_cert("1"));
  index_detail::Query q(false);
  q.sql = "EXPLAIN QUERY PLAN SELECT serial FROM certificates c WHERE 1";
  CertSelector s;
  s.chip_id = "chip-a";
  index_detail::append_selector(q, s, "c");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, q.sql.c_str(), -1, &st, nullptr), SQLITE_OK) << q.sql;
  sqlite3_bind_text(st, 1, "chip-a", -1, SQLITE_TRANSIENT);
  std::string plan;
  while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_NE(plan.find("certificates_by_chip_id_set"), std::string::npos) << plan;
}

// Another replica is creating the schema of a fresh index (its write lock held, the file not in
// WAL mode yet): opening waits for it instead of failing. CI failed on this race in
// ConcurrentOpensCreateTheSchemaOnce: `PRAGMA journal_mode=WAL` is busy at once, past the busy
// timeout (src/sqlite/wal_mode.h).
TEST(SqliteCertIndex, OpeningWaitsForAReplicaCreatingTheSchema) {
  TempDir dir("cert-index");
  const auto path = (dir.path() / "index.sqlite3").string();
  {
    enarx::test::SqliteWriterStandIn replica(path, std::chrono::milliseconds(300));
    auto idx = open_sqlite_cert_index(path);
    idx->record_issued(make_cert("1"));
    EXPECT_EQ(idx->count_issued(), 1u);
  }
  EXPECT_EQ(open_sqlite_cert_index(path)->count_issued(), 1u);
}

TEST(SqliteCertIndex, FileIs0600AndNewDirectories0700) {
  TempDir dir("cert-index");
  const auto path = dir.path() / "a" / "b" / "index.sqlite3";
  auto idx = open_sqlite_cert_index(path.string());
  idx->record_issued(make_cert("1"));  // the WAL exists now
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((path.string() + "-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() / "a" / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir.path() / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // An existing directory keeps its mode; a looser existing file is tightened.
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  const auto loose = dir.path() / "loose.sqlite3";
  { std::FILE* f = std::fopen(loose.c_str(), "w"); ASSERT_TRUE(f); std::fclose(f); }
  std::filesystem::permissions(loose, std::filesystem::perms(0644));
  open_sqlite_cert_index(loose.string());
  ASSERT_EQ(::stat(loose.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(SqliteCertIndex, WhatIsNotADatabaseIsAnOpenError) {
  TempDir dir("cert-index");
  EXPECT_EQ(error_code([&] { open_cert_index(""); }), "steward.index.open");
  EXPECT_EQ(error_code([&] { open_cert_index(dir.path().string()); }), "steward.index.open");  // a directory
  const auto junk = dir.path() / "junk.sqlite3";
  write_file_atomic(junk, std::string(4096, 'x'), 0600);
  EXPECT_EQ(error_code([&] { open_cert_index(junk.string()); }), "steward.index.open");
  EXPECT_EQ(kind_of([&] { open_cert_index(junk.string()); }), ErrorKind::kUnavailable);
}

TEST(PgCertIndex, UnreachableServerIsAnOpenError) {
  // Nothing listens on port 1; the connection is refused at once.
  EXPECT_EQ(error_code([] { open_cert_index("postgresql://nobody@127.0.0.1:1/none"); }), "steward.index.open");
  EXPECT_EQ(kind_of([] { open_cert_index("POSTGRES://nobody@127.0.0.1:1/none"); }), ErrorKind::kUnavailable);
}

// The DER column is not compressed with pglz (a third of the server's CPU per certificate):
// lz4 where the server has it, else stored uncompressed; an index created before this is
// changed when it is next opened.
TEST(PgCertIndex, DerColumnAvoidsPglz) {
  ENARX_REQUIRE_PG();
  auto& cluster = pgtest::shared_cluster();
  const auto db = cluster.new_database_name();
  const auto storage = [&] {
    pqxx::connection c(cluster.conninfo(db));
    pqxx::work w(c);
    const auto r = w.exec(
        "SELECT attstorage::text, CASE WHEN current_setting('server_version_num')::int >= 140000 "
        "THEN (SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'steward_certificates'::regclass "
        "AND attname = 'der') ELSE '' END FROM pg_attribute WHERE attrelid = 'steward_certificates'::regclass "
        "AND attname = 'der'");
    return r[0][0].as<std::string>() + "/" + r[0][1].as<std::string>();
  };
  const auto avoids_pglz = [](const std::string& s) { return s.ends_with("/l") || s.starts_with("e/"); };
  {
    auto idx = open_pg_cert_index(cluster.conninfo(db));
    idx->record_issued(make_cert("1"));
  }
  EXPECT_TRUE(avoids_pglz(storage())) << storage();
  {
    pqxx::connection c(cluster.conninfo(db));
    pqxx::work w(c);
    w.exec("ALTER TABLE steward_certificates ALTER COLUMN der SET STORAGE EXTENDED");
    w.exec("ALTER TABLE steward_certificates ALTER COLUMN der SET COMPRESSION pglz");
    w.commit();
  }
  EXPECT_FALSE(avoids_pglz(storage())) << storage();
  auto idx = open_pg_cert_index(cluster.conninfo(db));
  EXPECT_TRUE(avoids_pglz(storage())) << storage();
  EXPECT_EQ(idx->count_issued(), 1u);
  EXPECT_TRUE(idx->find("1"));
}

TEST(PgCertIndex, TakesAKeyValueConninfoToo) {
  ENARX_REQUIRE_PG();
  auto& cluster = pgtest::shared_cluster();
  const auto db = cluster.new_database_name();
  auto a = open_pg_cert_index(cluster.conninfo(db));
  a->record_issued(make_cert("1"));
  EXPECT_EQ(open_cert_index(cluster.url(db))->count_issued(), 1u);
}

}  // namespace
