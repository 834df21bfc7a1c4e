#include "revocation/crl_monitor.h"

#include "core/error.h"
#include "core/log.h"
#include "net/metrics.h"
#include "revocation/crl.h"

namespace enarx::revocation {

namespace {

double unix_seconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

std::string_view to_string(CrlMonitor::State state) {
  switch (state) {
    case CrlMonitor::State::kGood: return "good";
    case CrlMonitor::State::kRevoked: return "revoked";
    case CrlMonitor::State::kNoCrl: return "no_crl";
    case CrlMonitor::State::kStale: return "stale";
    case CrlMonitor::State::kOtherIssuer: return "other_issuer";
  }
  return "no_crl";
}

CrlMonitor::CrlMonitor(CrlMonitorOptions options, std::shared_ptr<Fetcher> fetcher)
    : options_(std::move(options)), fetcher_(fetcher ? std::move(fetcher) : http_fetcher(options_.fetch)) {
  require(!options_.url.empty(), ErrorKind::kInvalidInput, "revocation.config", "no CRL URL");
  require(!options_.issuers.empty(), ErrorKind::kInvalidInput, "revocation.config",
          "no CA certificate to verify the CRL with");
  require(options_.refresh.count() > 0, ErrorKind::kInvalidInput, "revocation.config",
          "the CRL refresh interval must be positive");
  if (!options_.clock) options_.clock = system_clock();
}

CrlMonitor::~CrlMonitor() { stop(); }

void CrlMonitor::attach_metrics(net::MetricsRegistry& metrics, const std::string& prefix) {
  std::lock_guard lock(mu_);
  number_gauge_ = &metrics.gauge(prefix + "_crl_number", "cRLNumber of the CRL in use (absent until one is had)");
  age_gauge_ = &metrics.gauge(prefix + "_crl_age_seconds", "Seconds since the thisUpdate of the CRL in use");
  next_update_gauge_ =
      &metrics.gauge(prefix + "_crl_next_update_timestamp_seconds", "nextUpdate of the CRL in use (Unix time)");
  refreshes_ = &metrics.counter(prefix + "_crl_refreshes_total", "CRL refreshes by result", {"result"});
  if (crl_) {
    if (info_.number) number_gauge_->set({}, static_cast<double>(*info_.number));
    next_update_gauge_->set({}, unix_seconds(info_.next_update));
  }
}

bool CrlMonitor::refresh() {
  try {
    const Bytes body = fetcher_->get(options_.url, options_.max_size);
    return install_checked(body);
  } catch (const Error& e) {
    {
      std::lock_guard lock(mu_);
      info_.last_error = e.code();
      if (refreshes_) refreshes_->inc({"failed"});
    }
    log::warn("revocation.crl.refresh_failed", {{"url", options_.url}, {"code", e.code()}, {"error", e.what()}});
    update_age_metric(options_.clock->now());
    return false;
  }
}

bool CrlMonitor::install(ByteView crl_bytes) {
  try {
    return install_checked(crl_bytes);
  } catch (const Error& e) {
    std::lock_guard lock(mu_);
    info_.last_error = e.code();
    return false;
  }
}

bool CrlMonitor::install_checked(ByteView crl_bytes) {
  const TimePoint now = options_.clock->now();
  const auto reject = [&](const Error& e) {
    {
      std::lock_guard lock(mu_);
      info_.last_error = e.code();
      if (refreshes_) refreshes_->inc({"rejected"});
    }
    log::warn("revocation.crl.rejected", {{"url", options_.url}, {"code", e.code()}, {"error", e.what()}});
    update_age_metric(now);
    return false;
  };
  Crl crl;
  CrlVerdict verdict;
  Certificate verified_by;
  try {
    crl = Crl::from_bytes(crl_bytes);
    std::optional<Error> failure;
    bool verified = false;
    for (const Certificate& issuer : options_.issuers) {
      try {
        verdict = verify_crl(crl, issuer, now, {.grace = options_.grace});
        verified = true;
        verified_by = issuer;
        break;
      } catch (const Error& e) {
        // Keep the most telling failure: one from the CA whose name the CRL carries.
        if (!failure || e.code() != "revocation.crl.wrong_issuer") failure = e;
      }
    }
    if (!verified) throw *failure;
  } catch (const Error& e) {
    return reject(e);
  }
  std::unique_lock lock(mu_);
  // An older CRL (lower cRLNumber, or none after one with a number) is a replay: keep ours.
  if (crl_ && info_.number && (!verdict.number || *verdict.number < *info_.number)) {
    const std::string held = std::to_string(*info_.number);
    lock.unlock();
    return reject(Error(ErrorKind::kUntrusted, "revocation.crl.rollback",
                        "the CRL's number is lower than the one in use (" + held + ")"));
  }
  const bool unchanged = crl_ && info_.number && verdict.number && *verdict.number == *info_.number &&
                         crl_->to_der() == crl.to_der();
  crl_ = crl;
  crl_issuer_ = verified_by;
  info_.have = true;
  info_.number = verdict.number;
  info_.this_update = verdict.this_update;
  info_.next_update = verdict.next_update;
  info_.installed_at = now;
  info_.last_error.clear();
  if (refreshes_) refreshes_->inc({unchanged ? "unchanged" : "installed"});
  if (number_gauge_ && verdict.number) number_gauge_->set({}, static_cast<double>(*verdict.number));
  if (next_update_gauge_) next_update_gauge_->set({}, unix_seconds(verdict.next_update));
  lock.unlock();
  update_age_metric(now);
  if (!unchanged)
    log::info("revocation.crl.installed",
              {{"url", options_.url},
               {"number", verdict.number ? std::to_string(*verdict.number) : std::string("-")},
               {"entries", static_cast<std::uint64_t>(crl.revoked_count())},
               {"this_update", format_rfc3339(verdict.this_update)},
               {"next_update", format_rfc3339(verdict.next_update)}});
  return true;
}

void CrlMonitor::update_age_metric(TimePoint now) const {
  std::lock_guard lock(mu_);
  if (age_gauge_ && info_.have)
    age_gauge_->set({}, std::chrono::duration<double>(now - info_.this_update).count());
}

CrlMonitor::Verdict CrlMonitor::status(const Certificate& cert, const Certificate& issuer) const {
  const TimePoint now = options_.clock->now();
  std::optional<Crl> crl;
  Certificate crl_issuer;
  Info info;
  {
    std::lock_guard lock(mu_);
    crl = crl_;
    crl_issuer = crl_issuer_;
    info = info_;
  }
  Verdict out;
  out.number = info.number;
  update_age_metric(now);
  if (!crl) return out;  // kNoCrl
  // The CRL was verified (signature, extensions) against crl_issuer when it was installed; per
  // request only whose it is, whether it is still current, and the entry (a binary search).
  if (!(issuer == crl_issuer) ||
      X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get())) != 0) {
    out.state = State::kOtherIssuer;
    return out;
  }
  if (info.next_update != TimePoint::max() && info.next_update + options_.grace < now) {
    out.state = State::kStale;
    return out;
  }
  if (const auto entry = find_revocation(*crl, cert)) {
    out.state = State::kRevoked;
    out.revoked_at = entry->revoked_at;
    out.reason = entry->reason;
  } else {
    out.state = State::kGood;
  }
  return out;
}

CrlMonitor::Info CrlMonitor::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

void CrlMonitor::start() {
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void CrlMonitor::stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void CrlMonitor::run() {
  for (;;) {
    const bool ok = refresh();
    std::unique_lock lock(thread_mu_);
    const auto wait = ok ? options_.refresh : std::min(options_.retry, options_.refresh);
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

}  // namespace enarx::revocation
