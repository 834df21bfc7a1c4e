#include "steward/index/group_commit.h"

#include <algorithm>

#include "core/error.h"

namespace enarx::steward::index_detail {

std::vector<RevocationRecord> GroupCommit::submit(std::span<const IssuedCertificate> unit,
                                                 std::span<const nlohmann::json> audit) {
  if (unit.empty()) return {};
  Pending me{unit, audit, false, nullptr, {}};
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

void GroupCommit::lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  std::vector<Pending*> group;
  std::size_t rows = 0;
  // At least one unit, however large: a unit over the bound is still one transaction.
  while (!queue_.empty() && (group.empty() || rows + queue_.front()->unit.size() <= kMaxGroupRows)) {
    rows += queue_.front()->unit.size();
    group.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();
  write_units(group);
  lock.lock();
  for (Pending* p : group) p->done = true;
  ++groups_;
  units_ += group.size();
  leading_ = false;
  done_.notify_all();
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
