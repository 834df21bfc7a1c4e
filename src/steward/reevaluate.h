// TCB-driven revocation: judge every unexpired, unrevoked certificate in the index again — its
// embedded evidence, for its own key, under steward's CURRENT policy and collateral (the caches
// always win when newer, so a new AMD CRL or new Intel TCB info / QE identity / PCK CRL takes
// effect) — and revoke those whose platform no longer passes (docs/steward.md "Re-evaluation").
//
// Verdicts, and the RFC 5280 reason each revocation gets:
//   * the evidence's trust chain no longer verifies — the vendor revoked the chip's or the
//     platform's attestation key (snp.crl.revoked, dcap.pck.revoked, ...): cACompromise. The key
//     that vouched for the keep is withdrawn by its issuer: to a relying party that is exactly a
//     compromised CA in the keep certificate's path of trust;
//   * it verifies but the current policy refuses it — the TCB level is now OutOfDate / below a
//     raised minimum, a measurement left the allow-list: superseded. The attested state has been
//     superseded; the keep should update and attest again;
//   * an insecure certificate (KVM, simulated roots, any_measurement) once insecure issuance is
//     off: privilegeWithdrawn;
//   * the only failure is stale collateral (the verdict holds with unlimited grace and no age
//     bounds): undecidable — nothing is revoked for steward's own stale cache; it is reported.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "revocation/reason.h"
#include "steward/audit.h"
#include "steward/index/cert_index.h"
#include "steward/policy.h"

namespace enarx::steward {

class StatusService;

enum class Verdict { kStillValid, kRevoke, kUndecidable };

struct ReevaluationItem {
  std::string serial;
  std::string platform, measurement, keep_identity;
  Verdict verdict = Verdict::kStillValid;
  revocation::Reason reason = revocation::Reason::kUnspecified;
  std::string code;    // the failed check's stable code
  std::string detail;  // every failure, for people
};

struct ReevaluationReport {
  bool dry_run = false;
  std::string trigger;
  std::size_t examined = 0, still_valid = 0, revoked = 0, undecidable = 0;
  std::vector<ReevaluationItem> items;  // every certificate that is not still valid
  nlohmann::json to_json() const;
};

struct ReevaluationOptions {
  bool dry_run = false;         // list what would be revoked; change nothing
  std::string trigger = "manual";  // "collateral", "collateral-settled", "startup", "manual": in the audit
  std::size_t page_size = 256;
  // Judge only certificates issued at or after this (the follow-up pass: those that may have
  // been in flight across a collateral change); unset = every unexpired unrevoked one.
  std::optional<TimePoint> issued_since;
};

// The verdict on one certificate (pure: no index, no side effects).
ReevaluationItem judge(const IssuedCertificate& cert, const Policy& policy, TimePoint now);

// Judges every unexpired unrevoked certificate of `index`; unless dry_run, revokes and audits
// each (file log `audit` and the index's trail), logging why for each, then has `status` (when
// given) publish the new CRL — without it (the CLI) the serving replicas notice the revocation
// epoch and rebuild theirs.
ReevaluationReport reevaluate(StatusService* status, CertIndex& index, const Policy& policy,
                              TimePoint now, const ReevaluationOptions& options,
                              AuditLog* audit = nullptr);

// A digest over the contents of steward's collateral caches (file names, sizes and bytes;
// "" when none is configured): the service re-evaluates when it changes.
std::string collateral_fingerprint(const Policy& policy);

// The service's watcher: re-evaluates once when started (collateral may have changed while
// steward was down), then checks the collateral caches every `interval` and re-evaluates when
// their fingerprint changes; it also keeps the CRL fresh when nobody asks for it. A failing pass
// is logged and retried at the next change. `policy`, `status` and `audit` must outlive it.
//
// An issuance judged on the old collateral may commit its index row after the pass has listed
// the certificates, and so escape it. Every change-triggered pass is therefore followed, at the
// first check at least `settle` later, by a pass over the certificates issued since `interval`
// + `settle` before the change was seen ("collateral-settled"): `settle` bounds how long an
// issuance takes from its start to its commit (default 5 minutes, far above the request timeout).
class CollateralWatch {
 public:
  CollateralWatch(std::shared_ptr<CertIndex> index, const Policy& policy, StatusService& status,
                  AuditLog* audit, std::chrono::milliseconds interval,
                  std::shared_ptr<const Clock> clock = nullptr);
  ~CollateralWatch();
  CollateralWatch(const CollateralWatch&) = delete;
  CollateralWatch& operator=(const CollateralWatch&) = delete;
  void start();  // no-op when interval <= 0
  void stop();
  // Every pass also deletes index rows of certificates expired more than `retention` ago
  // (CertIndex::prune_expired, in batches); 0 (the default) keeps them.
  void set_retention(std::chrono::seconds retention) { retention_ = retention; }
  void set_settle(std::chrono::milliseconds settle) { settle_ = settle; }
  std::size_t passes() const;  // re-evaluations run so far (tests)

 private:
  void run(const char* trigger, std::optional<TimePoint> issued_since = std::nullopt);
  void loop();

  std::shared_ptr<CertIndex> index_;
  const Policy& policy_;
  StatusService& status_;
  AuditLog* audit_;
  void prune();

  std::chrono::milliseconds interval_;
  std::chrono::seconds retention_{0};
  std::chrono::milliseconds settle_{std::chrono::minutes(5)};
  std::shared_ptr<const Clock> clock_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::size_t passes_ = 0;
  std::thread thread_;
};

}  // namespace enarx::steward
