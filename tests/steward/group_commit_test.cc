// Group commit of index rows (src/steward/index/group_commit.h), with a writer the test controls:
// which rows share a transaction, and which callers see which failure.
#include "steward/index/group_commit.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_scheduling.h"
#include "../support/error_code.h"

namespace enarx::steward::index_detail {
namespace {

std::vector<IssuedCertificate> rows(const std::vector<std::string>& serials) {
  std::vector<IssuedCertificate> out(serials.size());
  for (std::size_t i = 0; i < serials.size(); ++i) out[i].serial = serials[i];
  return out;
}

// Records every transaction's serials; the first one can be held open until the test lets
// it go, so that other callers queue behind it. A row "dup" is a conflict; a row "down" makes
// the whole transaction fail as an unreachable database would; a row whose serial starts "rev"
// is reported revoked in its transaction (a selector revocation made while it was in flight).
class FakeStore {
 public:
  std::vector<RevocationRecord> write(std::span<const IssuedCertificate* const> batch,
                                      std::span<const GroupCommit::AuditRecord> audit) {
    std::vector<std::string> serials;
    for (const auto* r : batch) serials.push_back(r->serial);
    for (const auto& a : audit) serials.push_back("audit:" + a.record->at("n").get<std::string>());
    {
      std::unique_lock lock(mu_);
      transactions_.push_back(serials);
      if (hold_first_ && transactions_.size() == 1) released_.wait(lock, [&] { return !hold_first_; });
    }
    for (const auto& s : serials) {
      if (s == "dup") throw Error(ErrorKind::kConflict, "steward.index.duplicate_serial", "dup");
      if (s == "down") throw Error(ErrorKind::kUnavailable, "steward.index.unavailable", "down");
    }
    std::vector<RevocationRecord> revoked;
    for (const auto& s : serials)
      if (s.starts_with("rev")) revoked.push_back(RevocationRecord{s, {}, revocation::Reason::kKeyCompromise, "", ""});
    return revoked;
  }
  void hold_first() { hold_first_ = true; }
  void release() {
    std::lock_guard lock(mu_);
    hold_first_ = false;
    released_.notify_all();
  }
  std::vector<std::vector<std::string>> transactions() {
    std::lock_guard lock(mu_);
    return transactions_;
  }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  bool hold_first_ = false;
  std::vector<std::vector<std::string>> transactions_;
};

struct Fixture : ::testing::Test {
  FakeStore store;
  GroupCommit group{[this](std::span<const IssuedCertificate* const> b, std::span<const GroupCommit::AuditRecord> a) {
    return store.write(b, a);
  }};

  // Starts `submit(unit)` on its own thread; the future holds its error code ("" = committed).
  std::future<std::string> submit_async(std::vector<IssuedCertificate> unit) {
    return std::async(std::launch::async, [this, unit = std::move(unit)] {
      try {
        group.submit(unit);
        return std::string();
      } catch (const Error& e) {
        return e.code();
      }
    });
  }
  // A lone caller ("l") whose commit stays open until store.release(): whoever submits
  // meanwhile queues for the next group.
  std::future<std::string> hold_a_commit_open() {
    store.hold_first();
    auto leader = submit_async(rows({"l"}));
    while (store.transactions().empty()) std::this_thread::yield();
    return leader;
  }
  void wait_until_waiting(std::size_t n) {
    while (group.waiting() < n) std::this_thread::yield();
  }
};

using GroupCommitTest = Fixture;

TEST_F(GroupCommitTest, ALoneCallerCommitsAtOnce) {
  const auto unit = rows({"a", "b"});
  group.submit(unit);
  EXPECT_EQ(store.transactions(), (std::vector<std::vector<std::string>>{{"a", "b"}}));
  EXPECT_EQ(group.groups(), 1u);
}

TEST_F(GroupCommitTest, CallersArrivingDuringACommitShareTheNextOne) {
  auto leader = hold_a_commit_open();
  auto a = submit_async(rows({"a1", "a2"}));
  wait_until_waiting(1);
  auto b = submit_async(rows({"b"}));
  wait_until_waiting(2);
  auto c = submit_async(rows({"c"}));
  wait_until_waiting(3);
  store.release();
  EXPECT_EQ(leader.get(), "");
  EXPECT_EQ(a.get(), "");
  EXPECT_EQ(b.get(), "");
  EXPECT_EQ(c.get(), "");
  EXPECT_EQ(store.transactions(),
            (std::vector<std::vector<std::string>>{{"l"}, {"a1", "a2", "b", "c"}}));
  EXPECT_EQ(group.groups(), 2u);
  EXPECT_EQ(group.units(), 4u);
}

TEST_F(GroupCommitTest, AuditRecordsTravelWithTheirUnit) {
  auto leader = hold_a_commit_open();
  const std::vector<nlohmann::json> a_audit{nlohmann::json{{"n", "a"}}};
  const std::vector<nlohmann::json> b_audit{nlohmann::json{{"n", "b1"}}, nlohmann::json{{"n", "b2"}}};
  auto a = std::async(std::launch::async, [&] { group.submit(rows({"a"}), a_audit); });
  wait_until_waiting(1);
  auto b = std::async(std::launch::async, [&] { group.submit(rows({"b1", "b2"}), b_audit); });
  wait_until_waiting(2);
  store.release();
  leader.get();
  a.get();
  b.get();
  EXPECT_EQ(store.transactions(), (std::vector<std::vector<std::string>>{
                                      {"l"}, {"a", "b1", "b2", "audit:a", "audit:b1", "audit:b2"}}));
}

TEST_F(GroupCommitTest, EachUnitGetsBackTheRevocationsOfItsOwnRows) {
  auto leader = hold_a_commit_open();
  const auto a_rows = rows({"a", "rev-a"});
  const auto b_rows = rows({"rev-b1", "b", "rev-b2"});
  const auto c_rows = rows({"c"});
  auto a = std::async(std::launch::async, [&] { return group.submit(a_rows); });
  wait_until_waiting(1);
  auto b = std::async(std::launch::async, [&] { return group.submit(b_rows); });
  wait_until_waiting(2);
  auto c = std::async(std::launch::async, [&] { return group.submit(c_rows); });
  wait_until_waiting(3);
  store.release();
  leader.get();
  auto serials = [](const std::vector<RevocationRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.serial);
    return out;
  };
  EXPECT_EQ(serials(a.get()), (std::vector<std::string>{"rev-a"}));
  EXPECT_EQ(serials(b.get()), (std::vector<std::string>{"rev-b1", "rev-b2"}));
  EXPECT_TRUE(c.get().empty());
  EXPECT_EQ(store.transactions().size(), 2u);  // a, b and c shared one transaction
}

TEST_F(GroupCommitTest, AConflictFailsOnlyTheUnitThatHoldsIt) {
  auto leader = hold_a_commit_open();
  auto a = submit_async(rows({"a"}));
  wait_until_waiting(1);
  auto bad = submit_async(rows({"b", "dup"}));
  wait_until_waiting(2);
  auto c = submit_async(rows({"c"}));
  wait_until_waiting(3);
  store.release();
  EXPECT_EQ(leader.get(), "");
  EXPECT_EQ(a.get(), "");
  EXPECT_EQ(bad.get(), "steward.index.duplicate_serial");
  EXPECT_EQ(c.get(), "");
  // The group was rolled back as a whole, then each unit was written on its own.
  EXPECT_EQ(store.transactions(), (std::vector<std::vector<std::string>>{
                                      {"l"}, {"a", "b", "dup", "c"}, {"a"}, {"b", "dup"}, {"c"}}));
}

TEST_F(GroupCommitTest, AnUnavailableDatabaseFailsTheWholeGroupWithoutRetries) {
  auto leader = hold_a_commit_open();
  auto a = submit_async(rows({"a"}));
  wait_until_waiting(1);
  auto b = submit_async(rows({"down"}));
  wait_until_waiting(2);
  store.release();
  EXPECT_EQ(leader.get(), "");
  EXPECT_EQ(a.get(), "steward.index.unavailable");
  EXPECT_EQ(b.get(), "steward.index.unavailable");
  EXPECT_EQ(store.transactions(), (std::vector<std::vector<std::string>>{{"l"}, {"a", "down"}}));
}

TEST_F(GroupCommitTest, AGroupHoldsAtMostTheRowBoundButAnyUnitWhole) {
  auto leader = hold_a_commit_open();
  std::vector<std::string> big(kMaxGroupRows - 10, "x"), bigger(kMaxGroupRows + 5, "y");
  auto a = submit_async(rows(big));
  wait_until_waiting(1);
  auto b = submit_async(rows({"b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11"}));
  wait_until_waiting(2);
  auto c = submit_async(rows(bigger));
  wait_until_waiting(3);
  store.release();
  for (auto* f : {&leader, &a, &b, &c}) EXPECT_EQ(f->get(), "");
  const auto t = store.transactions();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[1].size(), big.size());     // + b's 11 rows would pass the bound
  EXPECT_EQ(t[2].size(), 11u);            // b alone: b + c would pass it
  EXPECT_EQ(t[3].size(), bigger.size());  // one unit over the bound is still one transaction
}

// submit_async: the caller goes on at once; the committer thread writes the group and calls
// each unit's completion with its own outcome.
struct AsyncResult {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> outcome;  // first serial -> error code ("" = committed)
  std::map<std::string, std::size_t> revoked;  // first serial -> revocations handed back
  std::set<std::thread::id> threads;
  GroupCommit::Completion completion(std::string name) {
    return [this, name](std::exception_ptr error, std::vector<RevocationRecord> rev) {
      const std::string code = error ? support::error_code([&] { std::rethrow_exception(error); }) : "";
      std::lock_guard lock(mu);
      outcome[name] = code;
      revoked[name] = rev.size();
      threads.insert(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  void wait_for(std::size_t n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outcome.size() >= n; });
  }
};

TEST_F(GroupCommitTest, AsynchronousUnitsShareACommitAndEachGetsItsOwnOutcome) {
  auto leader = hold_a_commit_open();
  AsyncResult result;
  const auto a = rows({"a1", "a2"}), b = rows({"dup"}), c = rows({"rev-c"});
  group.submit_async(a, {}, result.completion("a"));
  group.submit_async(b, {}, result.completion("b"));
  group.submit_async(c, {}, result.completion("c"));
  EXPECT_EQ(group.waiting(), 3u);  // the callers did not wait
  store.release();
  result.wait_for(3);
  EXPECT_EQ(leader.get(), "");
  EXPECT_EQ(result.outcome["a"], "");
  EXPECT_EQ(result.outcome["b"], "steward.index.duplicate_serial");  // only the culprit fails
  EXPECT_EQ(result.outcome["c"], "");
  EXPECT_EQ(result.revoked["c"], 1u);
  EXPECT_EQ(result.revoked["a"], 0u);
  EXPECT_FALSE(result.threads.count(std::this_thread::get_id()));
  const auto tx = store.transactions();
  ASSERT_GE(tx.size(), 2u);
  EXPECT_EQ(tx[1], (std::vector<std::string>{"a1", "a2", "dup", "rev-c"}));  // one group, then retried alone
}

TEST_F(GroupCommitTest, SynchronousAndAsynchronousCallersShareOneQueue) {
  auto leader = hold_a_commit_open();
  AsyncResult result;
  const auto a = rows({"a"});
  group.submit_async(a, {}, result.completion("a"));
  auto sync = submit_async(rows({"s"}));
  wait_until_waiting(2);
  store.release();
  result.wait_for(1);
  EXPECT_EQ(sync.get(), "");
  EXPECT_EQ(leader.get(), "");
  EXPECT_EQ(result.outcome["a"], "");
  const auto tx = store.transactions();
  ASSERT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx[1], (std::vector<std::string>{"a", "s"}));
}

// The committer wakes from a flush for every group: it runs under SCHED_BATCH so that those
// wake-ups do not preempt the workers (core/thread_scheduling.h); a caller's thread, even one
// that leads a group, keeps its own policy.
TEST_F(GroupCommitTest, TheCommitterThreadDoesNotPreemptTheWorkers) {
  ASSERT_FALSE(this_thread_is_batch_scheduled());
  std::mutex mu;
  std::condition_variable cv;
  std::optional<bool> committer_batch;
  const auto a = rows({"a"});
  group.submit_async(a, {}, [&](std::exception_ptr, std::vector<RevocationRecord>) {
    std::lock_guard lock(mu);
    committer_batch = this_thread_is_batch_scheduled();
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return committer_batch.has_value(); }));
  }
  EXPECT_TRUE(*committer_batch);
  group.submit(rows({"b"}));  // led by this thread
  EXPECT_FALSE(this_thread_is_batch_scheduled());
}

TEST_F(GroupCommitTest, StopCommitsWhatIsQueuedThenRefuses) {
  auto leader = hold_a_commit_open();
  AsyncResult result;
  const auto a = rows({"a"}), b = rows({"b"});
  group.submit_async(a, {}, result.completion("a"));
  std::thread stopper([&] { group.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  store.release();
  stopper.join();
  EXPECT_EQ(leader.get(), "");
  result.wait_for(1);
  EXPECT_EQ(result.outcome["a"], "");  // queued before stop: committed
  group.submit_async(b, {}, result.completion("b"));
  result.wait_for(2);
  EXPECT_EQ(result.outcome["b"], "steward.index.unavailable");
  EXPECT_EQ(store.transactions().size(), 2u);
}

TEST_F(GroupCommitTest, AsynchronousCallersWaitWhenTheQueueIsFull) {
  auto leader = hold_a_commit_open();
  AsyncResult result;
  std::vector<std::vector<IssuedCertificate>> units;
  for (std::size_t i = 0; i <= kMaxQueuedAsyncUnits; ++i) units.push_back(rows({"u" + std::to_string(i)}));
  for (std::size_t i = 0; i < kMaxQueuedAsyncUnits; ++i) group.submit_async(units[i], {}, result.completion(units[i][0].serial));
  std::atomic<bool> queued{false};
  std::thread last([&] {
    group.submit_async(units.back(), {}, result.completion(units.back()[0].serial));
    queued = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(queued.load());  // bounded: it waits for room
  EXPECT_EQ(group.waiting(), kMaxQueuedAsyncUnits);
  store.release();
  last.join();
  EXPECT_TRUE(queued.load());
  result.wait_for(kMaxQueuedAsyncUnits + 1);
  EXPECT_EQ(leader.get(), "");
  for (const auto& [name, code] : result.outcome) EXPECT_EQ(code, "") << name;
}

}  // namespace
}  // namespace enarx::steward::index_detail
