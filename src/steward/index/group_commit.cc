#include "steward/index/group_commit.h"

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/thread_scheduling.h"

namespace enarx::steward::index_detail {

std::vector<RevocationRecord> GroupCommit::submit(std::span<const IssuedCertificate> unit,
                                                 std::span<const nlohmann::json> audit) {
  if (unit.empty()) return {};
  Pending me{unit, audit, false, nullptr, {}, {}};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (!leading_)
      lead(lock);
    else
      done_.wait(lock);
  }
  if (me.error) std::rethrow_exception(me.error);
  return std::move(me.revoked);
}

void GroupCommit::submit_async(std::span<const IssuedCertificate> unit, std::span<const nlohmann::json> audit,
                               Completion done) {
  if (unit.empty()) return done(nullptr, {});
  std::unique_lock lock(mu_);
  room_.wait(lock, [&] { return stopping_ || queued_async_ < kMaxQueuedAsyncUnits; });
  if (stopping_) {
    lock.unlock();
    return done(std::make_exception_ptr(Error(ErrorKind::kUnavailable, "steward.index.unavailable",
                                              "the certificate index is closing")),
                {});
  }
  if (!committer_.joinable()) committer_ = std::thread([this] { commit_loop(); });
  queue_.push_back(new Pending{unit, audit, false, nullptr, {}, std::move(done)});
  ++queued_async_;
  work_.notify_one();
}

void GroupCommit::commit_loop() {
  // The committer wakes from a flush or a database answer for every group: it must not preempt
  // the workers each time (core/thread_scheduling.h).
  schedule_this_thread_as_batch();
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return (!queue_.empty() && !leading_) || (stopping_ && queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and everything queued is committed
    lead(lock);
  }
}

void GroupCommit::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !committer_.joinable()) return;
    stopping_ = true;
  }
  work_.notify_all();
  room_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void GroupCommit::lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  std::vector<Pending*> group;
  std::size_t rows = 0;
  // At least one unit, however large: a unit over the bound is still one transaction.
  while (!queue_.empty() && (group.empty() || rows + queue_.front()->unit.size() <= kMaxGroupRows)) {
    rows += queue_.front()->unit.size();
    if (queue_.front()->completion) --queued_async_;
    group.push_back(queue_.front());
    queue_.pop_front();
  }
  room_.notify_all();
  lock.unlock();
  write_units(group);
  lock.lock();
  std::vector<Pending*> finished_async;
  for (Pending* p : group) {
    if (p->completion)
      finished_async.push_back(p);
    else
      p->done = true;
  }
  ++groups_;
  units_ += group.size();
  leading_ = false;
  done_.notify_all();
  work_.notify_one();
  if (finished_async.empty()) return;
  // Completions run without the lock (they may submit again), and without holding up the next
  // group: another thread may lead it meanwhile.
  lock.unlock();
  for (Pending* p : finished_async) {
    std::unique_ptr<Pending> owned(p);
    try {
      owned->completion(owned->error, std::move(owned->revoked));
    } catch (...) {
      // A completion's own failure is its caller's to report; the commit itself is done.
    }
  }
  lock.lock();
}

namespace {

void add_unit(std::span<const IssuedCertificate> unit, std::span<const nlohmann::json> audit,
              std::vector<const IssuedCertificate*>& rows, std::vector<GroupCommit::AuditRecord>& records) {
  for (const auto& row : unit) rows.push_back(&row);
  for (const auto& record : audit) records.push_back({unit.front().issued_at, &record});
}

}  // namespace

void GroupCommit::write_units(const std::vector<Pending*>& units) {
  auto write_alone = [&](Pending* p) {
    std::vector<const IssuedCertificate*> rows;
    std::vector<AuditRecord> records;
    add_unit(p->unit, p->audit, rows, records);
    try {
      p->revoked = write_(rows, records);
    } catch (...) {
      p->error = std::current_exception();
    }
  };
  if (units.size() == 1) return write_alone(units.front());
  std::vector<const IssuedCertificate*> rows;
  std::vector<AuditRecord> records;
  for (Pending* p : units) add_unit(p->unit, p->audit, rows, records);
  try {
    // Hand each unit the revocations of its own rows.
    for (auto& r : write_(rows, records)) {
      for (Pending* p : units) {
        const bool own = std::ranges::any_of(p->unit, [&](const IssuedCertificate& c) { return c.serial == r.serial; });
        if (!own) continue;
        p->revoked.push_back(std::move(r));
        break;
      }
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kConflict) {
      for (Pending* p : units) p->error = std::current_exception();
      return;
    }
    // Which unit holds the duplicate is not known: the group was rolled back, so each unit
    // is written again on its own and only the culprit fails.
    for (Pending* p : units) write_alone(p);
  } catch (...) {
    for (Pending* p : units) p->error = std::current_exception();
  }
}

std::size_t GroupCommit::groups() const {
  std::lock_guard lock(mu_);
  return groups_;
}

std::size_t GroupCommit::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t GroupCommit::units() const {
  std::lock_guard lock(mu_);
  return units_;
}

}  // namespace enarx::steward::index_detail
