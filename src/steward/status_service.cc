#include "steward/status_service.h"

#include "core/error.h"
#include "core/log.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"

namespace enarx::steward {

StatusService::StatusService(std::shared_ptr<CertIndex> index, const CertificateAuthority& ca,
                             std::shared_ptr<const Clock> clock, StatusOptions options)
    : index_(std::move(index)),
      ca_(ca),
      clock_(clock ? std::move(clock) : system_clock()),
      options_(options) {
  if (!index_) throw Error(ErrorKind::kInvalidInput, "steward.status.no_index", "certificate status needs the index");
}

bool StatusService::stale(const CrlRecord& crl, std::uint64_t epoch, TimePoint now) const {
  return crl.revocation_epoch != epoch || now >= crl.this_update + options_.crl_refresh ||
         now >= crl.next_update;
}

CrlRecord StatusService::build_next(std::uint64_t number, std::uint64_t epoch, TimePoint now,
                                    std::size_t* listed) const {
  std::vector<revocation::CrlEntry> entries;
  for (const auto& r : index_->revoked_unexpired(now))
    entries.push_back({serial_bytes(r.serial), r.revoked_at, r.reason});
  if (listed) *listed = entries.size();
  CrlRecord next;
  next.number = number;
  next.revocation_epoch = epoch;
  next.this_update = now;
  next.next_update = std::min(now + options_.crl_validity, ca_.certificate().not_after());
  next.der = revocation::build_crl(ca_.key(), ca_.certificate(), entries, number, next.this_update,
                                   next.next_update);
  return next;
}

CrlRecord StatusService::refresh_crl(bool force) {
  std::lock_guard lock(mutex_);
  const TimePoint now = clock_->now();
  // A few rounds: another replica may publish between our read and our compare-and-set; then
  // its CRL is the current one (if it is not stale itself).
  for (int round = 0; round < 5; ++round) {
    // Read the epoch first: a revocation after this read makes the CRL we build stale, and the
    // next poll rebuilds it; reading it after the entries could label a CRL missing one.
    const std::uint64_t epoch = index_->revocation_epoch();
    const auto stored = index_->current_crl();
    if (stored && !force && !stale(*stored, epoch, now)) {
      cached_ = stored;
      checked_at_ = now;
      return *stored;
    }
    const std::uint64_t expected = stored ? stored->number : 0;
    std::size_t listed = 0;
    CrlRecord next = build_next(expected + 1, epoch, now, &listed);
    if (index_->publish_crl(expected, next)) {
      log::info("steward.crl_published", {{"number", next.number},
                                          {"revoked", listed},
                                          {"next_update", format_rfc3339(next.next_update)}});
      cached_ = next;
      checked_at_ = now;
      return next;
    }
    force = false;  // someone else published: theirs is as new as ours would be
  }
  throw Error(ErrorKind::kUnavailable, "steward.crl.contended",
              "could not publish a CRL: other replicas kept publishing");
}

CrlRecord StatusService::crl_record() {
  {
    std::lock_guard lock(mutex_);
    const TimePoint now = clock_->now();
    if (cached_ && now - checked_at_ < options_.index_poll && now < cached_->this_update + options_.crl_refresh)
      return *cached_;
  }
  return refresh_crl();
}

Bytes StatusService::crl() { return crl_record().der; }

Bytes StatusService::ocsp(ByteView request) {
  const TimePoint now = clock_->now();
  revocation::OcspResponderOptions o;
  o.validity = options_.ocsp_validity;
  return revocation::ocsp_respond(
      request, ca_.key(), ca_.certificate(),
      [this](ByteView serial) {
        revocation::SerialStatus s;
        const std::string key = serial_key(serial);
        if (!index_->find(key)) return s;  // unknown: steward never issued it
        if (auto r = index_->revocation(key)) {
          s.state = revocation::CertState::kRevoked;
          s.revoked_at = r->revoked_at;
          s.reason = r->reason;
        } else {
          s.state = revocation::CertState::kGood;
        }
        return s;
      },
      now, o);
}

bool StatusService::revoke(const RevocationRecord& record) {
  if (!index_->revoke(record)) return false;
  refresh_crl();
  return true;
}

std::vector<std::string> StatusService::revoke_matching(const CertSelector& selector,
                                                        const RevocationRecord& how) {
  auto serials = index_->revoke_matching(selector, how, clock_->now());
  if (!serials.empty()) refresh_crl();
  return serials;
}

}  // namespace enarx::steward
