// Internal (steward_index): group commit of issued-certificate rows.
//
// Every certificate needs a durable row before it leaves (no row, no revocation), and a durable
// commit costs a disk flush (SQLite) or a WAL flush round trip (PostgreSQL) that is far longer
// than the insert itself. Concurrent issuances therefore share one transaction: the first caller
// to find no commit in progress becomes the leader, takes every unit queued so far (its own
// included, up to kMaxGroupRows rows) and writes them in one transaction while the others wait;
// whoever arrives meanwhile is taken by the next leader. There is no background thread and no
// timer: a lone caller commits at once, exactly as before.
//
// Each caller's unit is all or none. When a group fails with a conflict (a duplicate serial)
// the units are written again one by one, so only the unit that holds the duplicate fails; any
// other failure (the database unreachable, disk full) fails every unit of the group.
//
// submit_async queues a unit without waiting: a committer thread (started on first use) takes
// groups the same way and calls each unit's completion when its group is durable (or failed).
// A server's workers then never sleep in a disk flush; they go on verifying and signing while
// the commit runs. At most kMaxQueuedAsyncUnits wait; submit_async blocks while that many do.
//
// The writer also reports the rows it recorded revoked in the same transaction (a selector
// revocation made while they were being issued: CertIndex::record_issued); each unit gets back
// those of its own rows.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "steward/index/cert_index.h"

namespace enarx::steward::index_detail {

// The most rows one group transaction writes (a bound on a transaction's size; callers beyond
// it wait for the next group). Waiting units are bounded by the number of calling threads.
inline constexpr std::size_t kMaxGroupRows = 256;
// The most units submit_async lets wait for a commit (each holds its certificates, its audit
// records, the verified evidence and, in a server, a connection: tens of KB); beyond it the
// caller waits for room. As many as a server lets wait for a worker (max_queued_requests).
inline constexpr std::size_t kMaxQueuedAsyncUnits = 256;

class GroupCommit {
 public:
  // `write` inserts every row in one transaction, all or none, and throws on failure
  // (steward.index.duplicate_serial with ErrorKind::kConflict for a serial already present or
  // given twice), and returns the revocations it recorded for `rows` in the same transaction.
  // `audit` holds the units' audit records, each with the time to record it at.
  struct AuditRecord {
    TimePoint at;
    const nlohmann::json* record;
  };
  using Writer = std::function<std::vector<RevocationRecord>(std::span<const IssuedCertificate* const> rows,
                                                              std::span<const AuditRecord> audit)>;
  explicit GroupCommit(Writer write) : write_(std::move(write)) {}
  ~GroupCommit() { stop(); }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Returns once `unit` and its audit records are committed (possibly with other callers'
  // units); throws its failure. The records are stamped with the unit's first issued_at.
  // Returns the revocations the writer recorded for the unit's rows.
  std::vector<RevocationRecord> submit(std::span<const IssuedCertificate> unit, std::span<const nlohmann::json> audit = {});

  // Queues `unit` and returns; `done` runs once on the committer thread (or on a thread that
  // leads a group taking the unit) with the unit's failure or its revocations. `unit` and
  // `audit` must stay valid until then. Blocks while kMaxQueuedAsyncUnits units wait. After
  // stop(), `done` runs at once with steward.index.unavailable.
  using Completion = CertIndex::IssuedCompletion;
  void submit_async(std::span<const IssuedCertificate> unit, std::span<const nlohmann::json> audit, Completion done);

  // Commits what is queued, then ends the committer thread (the owner calls it before closing
  // the database the writer uses). Idempotent.
  void stop();

  // Groups committed so far and units they held (for tests and metrics).
  std::size_t groups() const;
  std::size_t units() const;
  // Units queued behind the commit in progress (for tests).
  std::size_t waiting() const;

 private:
  struct Pending {
    std::span<const IssuedCertificate> unit;
    std::span<const nlohmann::json> audit;
    bool done = false;
    std::exception_ptr error;
    std::vector<RevocationRecord> revoked;
    Completion completion;  // set for submit_async's units, which own themselves
  };
  void lead(std::unique_lock<std::mutex>& lock);
  void write_units(const std::vector<Pending*>& units);
  void commit_loop();

  Writer write_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::condition_variable work_;  // the committer: units queued, or stopping
  std::condition_variable room_;  // submit_async: an async unit left the queue
  std::deque<Pending*> queue_;  // each on its caller's stack until it is done, or owned (async)
  std::size_t queued_async_ = 0;
  bool leading_ = false;
  bool stopping_ = false;
  std::thread committer_;
  std::size_t groups_ = 0, units_ = 0;
};

}  // namespace enarx::steward::index_detail
