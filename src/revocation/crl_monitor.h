// CrlMonitor: one CRL, fetched from a URL and refreshed periodically, that a server (drawbridge)
// consults for every client certificate of the CA that signs it. Fail closed: until a first
// valid CRL is had, or once the one held is past nextUpdate + grace, status() answers
// kNoCrl / kStale and the caller grants nothing. The CRL must verify against one of `issuers`
// (signature, cRLSign, no unsupported critical extension, current); a CRL whose cRLNumber is
// lower than the one held (a replayed older CRL) is refused.
//
// Logs: revocation.crl.installed (url, number, this_update, next_update),
// revocation.crl.refresh_failed (url, code, error), revocation.crl.rejected (url, code, error).
// Metrics (attach_metrics, names under `prefix`): <prefix>_crl_number,
// <prefix>_crl_age_seconds (now - thisUpdate, updated at each refresh and each status()),
// <prefix>_crl_next_update_timestamp_seconds, <prefix>_crl_refreshes_total{result="installed|
// unchanged|failed|rejected"}.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/x509.h"
#include "revocation/fetch.h"
#include "revocation/reason.h"

namespace enarx::net {
class Counter;
class Gauge;
class MetricsRegistry;
}  // namespace enarx::net

namespace enarx::revocation {

struct CrlMonitorOptions {
  std::string url{};
  std::vector<Certificate> issuers{};// the CRL must be signed by one of these
  std::chrono::seconds refresh{300};
  std::chrono::seconds retry{30};    // after a failed refresh (capped by `refresh`)
  std::chrono::seconds grace{0};     // past nextUpdate
  std::size_t max_size = 8u << 20;
  FetchOptions fetch{};
  std::shared_ptr<const Clock> clock = system_clock();
};

class CrlMonitor {
 public:
  enum class State {
    kGood,         // the CRL is current and does not list the certificate
    kRevoked,      // listed
    kNoCrl,        // no valid CRL yet
    kStale,        // the CRL held is past nextUpdate + grace
    kOtherIssuer,  // the certificate's issuer is not the CRL's: nothing covers it
  };
  struct Verdict {
    State state = State::kNoCrl;
    TimePoint revoked_at{};
    Reason reason = Reason::kUnspecified;
    std::optional<std::int64_t> number{};
  };
  struct Info {
    bool have = false;
    std::optional<std::int64_t> number{};
    TimePoint this_update{}, next_update{}, installed_at{};
    std::string last_error;  // code of the last failed refresh ("" after a success)
  };

  // `fetcher` null: http_fetcher(options.fetch).
  explicit CrlMonitor(CrlMonitorOptions options, std::shared_ptr<Fetcher> fetcher = nullptr);
  ~CrlMonitor();  // stops the refresh thread
  CrlMonitor(const CrlMonitor&) = delete;
  CrlMonitor& operator=(const CrlMonitor&) = delete;

  // Fetches the CRL now and installs it when valid. Never throws for fetch or validation
  // failures (logged, counted, last_error); returns true when a CRL was installed.
  bool refresh();
  // A CRL from elsewhere (tests, a file); validated like a fetched one.
  bool install(ByteView crl_bytes);
  // Refreshes at once, then every `refresh` (`retry` after a failure), on a thread of its own.
  void start();
  void stop();

  // The status of `cert` (issued by `issuer`, the next certificate of its verified path) at the
  // clock's now.
  Verdict status(const Certificate& cert, const Certificate& issuer) const;
  Info info() const;
  const std::string& url() const { return options_.url; }

  void attach_metrics(net::MetricsRegistry& metrics, const std::string& prefix);

 private:
  bool install_checked(ByteView crl_bytes);
  void update_age_metric(TimePoint now) const;
  void run();

  CrlMonitorOptions options_;
  std::shared_ptr<Fetcher> fetcher_;
  mutable std::mutex mu_;
  std::optional<Crl> crl_;
  Certificate crl_issuer_;  // the one of `issuers` the CRL verified against
  Info info_;
  net::Gauge* number_gauge_ = nullptr;
  net::Gauge* age_gauge_ = nullptr;
  net::Gauge* next_update_gauge_ = nullptr;
  net::Counter* refreshes_ = nullptr;
  std::mutex thread_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

std::string_view to_string(CrlMonitor::State state);  // "good", "revoked", "no_crl", "stale", "other_issuer"

}  // namespace enarx::revocation
