// CrlMonitor: what drawbridge consults for keep certificates — fail closed until a first valid
// CRL, refuse forged, stale and replayed CRLs, metrics and the refresh thread.
#include <gtest/gtest.h>

#include <thread>

#include "net/metrics.h"
#include "revocation/crl.h"
#include "revocation/crl_monitor.h"
#include "revocation_pki.h"

namespace enarx::revocation {
namespace {

using namespace test;
using State = CrlMonitor::State;

class OneUrl final : public Fetcher {
 public:
  std::function<Bytes()> answer;
  std::atomic<int> calls{0};
  Bytes get(const std::string&, std::size_t max_size) override {
    ++calls;
    if (!answer) throw Error(ErrorKind::kUnavailable, "http.connect_failed", "down");
    Bytes b = answer();
    if (b.size() > max_size) throw Error(ErrorKind::kTooLarge, "http.too_large", "big");
    return b;
  }
  Bytes post(const std::string&, std::string_view, ByteView, std::size_t) override { return {}; }
};

struct Steward {
  Issued ca = make_ca();
  Issued other_ca = make_ca("Other CA");
  Issued keep = make_leaf(ca, "keep");
  Issued foreign_keep = make_leaf(other_ca, "foreign keep");
  TimePoint t0 = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::shared_ptr<FixedClock> clock = std::make_shared<FixedClock>(t0);
  std::shared_ptr<OneUrl> fetcher = std::make_shared<OneUrl>();
  Bytes crl(std::uint64_t number, bool keep_revoked, TimePoint next_update, const Issued* by = nullptr) const {
    const Issued& signer = by ? *by : ca;
    std::vector<CrlEntry> entries;
    if (keep_revoked) entries.push_back({keep.cert.serial(), t0, Reason::kCessationOfOperation});
    return build_crl(signer.key, signer.cert, entries, number, clock->now() - std::chrono::seconds(1), next_update);
  }
  std::unique_ptr<CrlMonitor> monitor(std::chrono::seconds grace = std::chrono::seconds(0)) {
    return std::make_unique<CrlMonitor>(
        CrlMonitorOptions{.url = "http://steward.test/crl", .issuers = {ca.cert, other_ca.cert}, .grace = grace,
                          .clock = clock},
        fetcher);
  }
};

TEST(CrlMonitor, FailsClosedUntilAFirstValidCrl) {
  Steward s;
  auto m = s.monitor();
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kNoCrl);
  EXPECT_FALSE(m->refresh());  // unreachable
  EXPECT_EQ(m->info().last_error, "http.connect_failed");
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kNoCrl);
  s.fetcher->answer = [&] { return s.crl(1, false, s.t0 + std::chrono::hours(1)); };
  EXPECT_TRUE(m->refresh());
  const auto v = m->status(s.keep.cert, s.ca.cert);
  EXPECT_EQ(v.state, State::kGood);
  EXPECT_EQ(v.number, 1);
  EXPECT_TRUE(m->info().last_error.empty());
}

TEST(CrlMonitor, RevokedAfterTheCrlListsTheCertificate) {
  Steward s;
  auto m = s.monitor();
  s.fetcher->answer = [&] { return s.crl(1, false, s.t0 + std::chrono::hours(1)); };
  ASSERT_TRUE(m->refresh());
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kGood);
  s.clock->set(s.t0 + std::chrono::minutes(5));
  s.fetcher->answer = [&] { return s.crl(2, true, s.t0 + std::chrono::hours(2)); };
  ASSERT_TRUE(m->refresh());
  const auto v = m->status(s.keep.cert, s.ca.cert);
  EXPECT_EQ(v.state, State::kRevoked);
  EXPECT_EQ(v.reason, Reason::kCessationOfOperation);
  EXPECT_EQ(v.number, 2);
}

TEST(CrlMonitor, StalePastNextUpdatePlusGrace) {
  Steward s;
  auto m = s.monitor(std::chrono::minutes(10));
  s.fetcher->answer = [&] { return s.crl(1, false, s.t0 + std::chrono::hours(1)); };
  ASSERT_TRUE(m->refresh());
  s.fetcher->answer = nullptr;  // steward goes away
  s.clock->set(s.t0 + std::chrono::minutes(65));
  EXPECT_FALSE(m->refresh());
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kGood);  // within grace
  s.clock->set(s.t0 + std::chrono::minutes(71));
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kStale);
}

TEST(CrlMonitor, ForgedReplayedAndForeignCrlsAreRefused) {
  Steward s;
  auto m = s.monitor();
  s.fetcher->answer = [&] { return s.crl(5, true, s.t0 + std::chrono::hours(1)); };
  ASSERT_TRUE(m->refresh());
  // Signed by another key under the CA's name: refused, the revocation stays in force.
  const Issued impostor = make_ca("Test Steward CA");
  s.fetcher->answer = [&] { return s.crl(6, false, s.t0 + std::chrono::hours(1), &impostor); };
  EXPECT_FALSE(m->refresh());
  EXPECT_EQ(m->info().last_error, "revocation.crl.bad_signature");
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kRevoked);
  // An older CRL (before the revocation), replayed: refused.
  s.fetcher->answer = [&] { return s.crl(4, false, s.t0 + std::chrono::hours(1)); };
  EXPECT_FALSE(m->refresh());
  EXPECT_EQ(m->info().last_error, "revocation.crl.rollback");
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kRevoked);
  // Garbage.
  s.fetcher->answer = [] { return to_bytes("not a CRL"); };
  EXPECT_FALSE(m->refresh());
  EXPECT_EQ(m->status(s.keep.cert, s.ca.cert).state, State::kRevoked);
  // A keep of the other client CA is not covered by this CA's CRL.
  EXPECT_EQ(m->status(s.foreign_keep.cert, s.other_ca.cert).state, State::kOtherIssuer);
  // A CRL of an issuer that is not configured at all.
  const Issued unknown = make_ca("Unknown CA");
  auto fresh = s.monitor();
  s.fetcher->answer = [&] { return s.crl(1, false, s.t0 + std::chrono::hours(1), &unknown); };
  EXPECT_FALSE(fresh->refresh());
  EXPECT_EQ(fresh->status(s.keep.cert, s.ca.cert).state, State::kNoCrl);
}

TEST(CrlMonitor, MetricsShowNumberAndAge) {
  Steward s;
  auto m = s.monitor();
  net::MetricsRegistry metrics;
  m->attach_metrics(metrics, "drawbridge_keep");
  s.fetcher->answer = [&] { return s.crl(42, false, s.t0 + std::chrono::hours(1)); };
  ASSERT_TRUE(m->refresh());
  s.clock->set(s.t0 + std::chrono::seconds(99));
  m->status(s.keep.cert, s.ca.cert);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("drawbridge_keep_crl_number 42"), std::string::npos) << text;
  EXPECT_NE(text.find("drawbridge_keep_crl_age_seconds 100"), std::string::npos) << text;
  EXPECT_NE(text.find("drawbridge_keep_crl_refreshes_total{result=\"installed\"} 1"), std::string::npos) << text;
  s.fetcher->answer = nullptr;
  m->refresh();
  EXPECT_NE(metrics.render().find("drawbridge_keep_crl_refreshes_total{result=\"failed\"} 1"), std::string::npos);
}

TEST(CrlMonitor, RefreshThreadFetchesAtOnceAndStops) {
  Steward s;
  auto m = std::make_unique<CrlMonitor>(
      CrlMonitorOptions{.url = "http://steward.test/crl", .issuers = {s.ca.cert}, .refresh = std::chrono::seconds(3600),
                        .clock = s.clock},
      s.fetcher);
  s.fetcher->answer = [&] { return s.crl(1, false, s.t0 + std::chrono::hours(1)); };
  m->start();
  for (int i = 0; i < 200 && !m->info().have; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(m->info().have);
  m->stop();
  EXPECT_EQ(s.fetcher->calls, 1);
  m.reset();  // joins nothing twice
}

}  // namespace
}  // namespace enarx::revocation
