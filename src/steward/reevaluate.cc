#include "steward/reevaluate.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/x509.h"
#include "steward/replay.h"
#include "steward/status_service.h"

namespace enarx::steward {
namespace {

using revocation::Reason;

// The same policy with unlimited collateral grace and no age bounds: what the verdict would be
// if steward's collateral were fresh. Only used to tell "stale" from "refused".
attest::EvidencePolicy without_freshness(attest::EvidencePolicy p) {
  const std::chrono::seconds forever = std::chrono::hours(24 * 365 * 100);
  p.collateral_grace = forever;
  p.snp.crl_grace = forever;
  p.snp.crl_max_age.reset();
  for (attest::dcap::CommonPolicy* c : {static_cast<attest::dcap::CommonPolicy*>(&p.sgx),
                                        static_cast<attest::dcap::CommonPolicy*>(&p.tdx)}) {
    c->collateral_grace = forever;
    c->tcb_info_max_age.reset();
    c->qe_identity_max_age.reset();
    c->crl_max_age.reset();
  }
  return p;
}

std::string describe(const std::vector<attest::Failure>& failures) {
  std::string out;
  for (const auto& f : failures) out += (out.empty() ? "" : "; ") + f.code + ": " + f.message;
  return out;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kStillValid: return "still_valid";
    case Verdict::kRevoke: return "revoke";
    case Verdict::kUndecidable: return "undecidable";
  }
  return "?";
}

}  // namespace

ReevaluationItem judge(const IssuedCertificate& row, const Policy& policy, TimePoint now) {
  ReevaluationItem item;
  item.serial = row.serial;
  item.platform = row.platform;
  item.measurement = row.measurement;
  item.keep_identity = row.keep_identity;
  if (row.insecure && !policy.issuance.allow_insecure) {
    item.verdict = Verdict::kRevoke;
    item.reason = Reason::kPrivilegeWithdrawn;
    item.code = "steward.insecure_not_allowed";
    item.detail = "issued without hardware attestation; insecure issuance is now off";
    return item;
  }
  const Certificate cert = Certificate::from_der(row.der);
  try {
    const auto ev = reverify(cert, policy.evidence, now);
    if (ev.failures.empty()) return item;
    item.verdict = Verdict::kRevoke;
    item.reason = Reason::kSuperseded;
    item.code = ev.failures.front().code;
    item.detail = describe(ev.failures);
    return item;
  } catch (const Error& first) {
    try {
      const auto ev = reverify(cert, without_freshness(policy.evidence), now);
      if (!ev.failures.empty()) {
        item.verdict = Verdict::kRevoke;
        item.reason = Reason::kSuperseded;
        item.code = ev.failures.front().code;
        item.detail = describe(ev.failures);
      } else {
        item.verdict = Verdict::kUndecidable;
        item.code = first.code();
        item.detail = std::string("collateral is not fresh enough to judge: ") + first.what();
      }
      return item;
    } catch (const Error& e) {
      item.code = e.code();
      item.detail = e.what();
      if (e.kind() == ErrorKind::kUntrusted) {
        item.verdict = Verdict::kRevoke;
        item.reason = Reason::kCaCompromise;
      } else if (e.kind() == ErrorKind::kPolicyRejected) {
        item.verdict = Verdict::kRevoke;
        item.reason = Reason::kSuperseded;
      } else {
        // Evidence steward once accepted and now cannot even read: not a platform verdict.
        item.verdict = Verdict::kUndecidable;
      }
      return item;
    }
  }
}

ReevaluationReport reevaluate(StatusService* status, CertIndex& index, const Policy& policy,
                              TimePoint now, const ReevaluationOptions& options, AuditLog* audit) {
  ReevaluationReport report;
  report.dry_run = options.dry_run;
  report.trigger = options.trigger;
  // Collect first, then revoke: revoking while paging would shift the pages.
  std::vector<ReevaluationItem> pending;
  std::string after;
  for (;;) {
    const auto page = index.list(CertSelector{}, now, /*include_revoked=*/false,
                                 std::max<std::size_t>(options.page_size, 1), after);
    for (const auto& row : page) {
      if (options.issued_since && row.issued_at < *options.issued_since) continue;
      ++report.examined;
      ReevaluationItem item;
      try {
        item = judge(row, policy, now);
      } catch (const Error& e) {
        item.serial = row.serial;
        item.platform = row.platform;
        item.verdict = Verdict::kUndecidable;
        item.code = e.code();
        item.detail = e.what();
      }
      if (item.verdict == Verdict::kStillValid) ++report.still_valid;
      else pending.push_back(std::move(item));
    }
    if (page.size() < std::max<std::size_t>(options.page_size, 1)) break;
    after = page.back().serial;
  }
  for (auto& item : pending) {
    const bool revoke = item.verdict == Verdict::kRevoke;
    nlohmann::json record = {{"decision", revoke ? "revoked" : "reevaluation_undecidable"},
                             {"serial", item.serial},
                             {"platform", item.platform},
                             {"measurement", item.measurement},
                             {"code", item.code},
                             {"detail", item.detail},
                             {"trigger", options.trigger},
                             {"policy_sha256", policy.digest}};
    if (revoke) {
      record["reason"] = std::string(revocation::reason_name(item.reason));
      if (!options.dry_run) {
        RevocationRecord rec;
        rec.serial = item.serial;
        rec.revoked_at = now;
        rec.reason = item.reason;
        rec.detail = item.code + ": " + item.detail;
        rec.revoked_by = "reevaluation";
        index.revoke(rec, record);  // the revocation and its audit record in one transaction
      }
      ++report.revoked;
      log::warn(options.dry_run ? "steward.reevaluation_would_revoke" : "steward.reevaluation_revoked",
                {{"serial", item.serial},
                 {"platform", item.platform},
                 {"measurement", item.measurement},
                 {"reason", std::string(revocation::reason_name(item.reason))},
                 {"code", item.code},
                 {"detail", item.detail}});
    } else {
      ++report.undecidable;
      log::warn("steward.reevaluation_undecidable",
                {{"serial", item.serial}, {"code", item.code}, {"detail", item.detail}});
      if (!options.dry_run) index.append_audit(now, record);
    }
    if (!options.dry_run && audit) audit->append(record);
  }
  if (status && !options.dry_run && report.revoked > 0) status->refresh_crl(/*force=*/true);
  log::info("steward.reevaluation", {{"trigger", options.trigger},
                                     {"dry_run", options.dry_run},
                                     {"examined", report.examined},
                                     {"still_valid", report.still_valid},
                                     {"revoked", report.revoked},
                                     {"undecidable", report.undecidable}});
  report.items = std::move(pending);
  return report;
}

nlohmann::json ReevaluationReport::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& i : items) {
    nlohmann::json j = {{"serial", i.serial},         {"platform", i.platform},
                        {"measurement", i.measurement}, {"verdict", verdict_name(i.verdict)},
                        {"code", i.code},             {"detail", i.detail}};
    if (i.verdict == Verdict::kRevoke) j["reason"] = std::string(revocation::reason_name(i.reason));
    list.push_back(std::move(j));
  }
  return {{"dry_run", dry_run},       {"trigger", trigger},
          {"examined", examined},     {"still_valid", still_valid},
          {dry_run ? "would_revoke" : "revoked", revoked},
          {"undecidable", undecidable}, {"certificates", list}};
}

std::string collateral_fingerprint(const Policy& policy) {
  std::string listing;
  for (const auto& dir : {policy.issuance.amd_collateral_dir, policy.issuance.intel_collateral_dir}) {
    if (!dir) continue;
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it(*dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      // Caches hold a handful of small signed documents; a file that vanishes mid-walk just
      // changes the fingerprint again next time.
      try {
        listing += f.string() + "\n" + to_hex(sha256(read_file(f))) + "\n";
      } catch (const Error&) {
        listing += f.string() + "\n?\n";
      }
    }
  }
  return listing.empty() ? std::string() : to_hex(sha256(as_bytes(listing)));
}

CollateralWatch::CollateralWatch(std::shared_ptr<CertIndex> index, const Policy& policy,
                                 StatusService& status, AuditLog* audit,
                                 std::chrono::milliseconds interval, std::shared_ptr<const Clock> clock)
    : index_(std::move(index)),
      policy_(policy),
      status_(status),
      audit_(audit),
      interval_(interval),
      clock_(clock ? std::move(clock) : system_clock()) {}

CollateralWatch::~CollateralWatch() { stop(); }

void CollateralWatch::start() {
  if (interval_.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void CollateralWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t CollateralWatch::passes() const {
  std::lock_guard lock(mutex_);
  return passes_;
}

void CollateralWatch::run(const char* trigger, std::optional<TimePoint> issued_since) {
  try {
    ReevaluationOptions o;
    o.trigger = trigger;
    o.issued_since = issued_since;
    reevaluate(&status_, *index_, policy_, clock_->now(), o, audit_);
  } catch (const Error& e) {
    log::error("steward.reevaluation_failed", {{"code", e.code()}, {"error", e.what()}});
  }
  std::lock_guard lock(mutex_);
  ++passes_;
}

void CollateralWatch::loop() {
  std::string seen = collateral_fingerprint(policy_);
  run("startup");
  // The follow-up pass still due: when (steady clock), and from which issuance time it judges.
  bool settled_pending = false;
  std::chrono::steady_clock::time_point settled_due{};
  TimePoint settled_since{};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const std::string current = collateral_fingerprint(policy_);
    if (current != seen) {
      log::info("steward.collateral_changed", {{"fingerprint", current}});
      seen = current;
      // Issuances judged on the old collateral began at most `interval` (the change happened
      // since the last check) plus `settle` (the longest issuance) before now; a follow-up still
      // due for an earlier change keeps that change's window too.
      const TimePoint since = clock_->now() - interval_ - settle_;
      settled_since = settled_pending ? std::min(settled_since, since) : since;
      run("collateral");
      settled_due = std::chrono::steady_clock::now() + settle_;
      settled_pending = true;
    } else if (settled_pending && std::chrono::steady_clock::now() >= settled_due) {
      settled_pending = false;
      run("collateral-settled", settled_since);
    }
    try {
      status_.crl_record();  // rebuilt when due, even if nobody asks
    } catch (const Error& e) {
      log::error("steward.crl_refresh_failed", {{"code", e.code()}, {"error", e.what()}});
    }
    prune();
    lock.lock();
  }
}

void CollateralWatch::prune() {
  if (retention_.count() <= 0) return;
  const TimePoint cut_off = clock_->now() - retention_;
  std::size_t total = 0;
  try {
    // Batches keep each transaction short; the pass ends when a batch comes back short.
    for (;;) {
      const std::size_t n = index_->prune_expired(cut_off, kMaxPruneLimit);
      total += n;
      if (n < kMaxPruneLimit) break;
    }
  } catch (const Error& e) {
    log::error("steward.prune_failed", {{"code", e.code()}, {"error", e.what()}, {"pruned", total}});
    return;
  }
  if (total > 0)
    log::info("steward.pruned", {{"certificates", total}, {"expired_before", format_rfc3339(cut_off)}});
}

}  // namespace enarx::steward
