// StatusChecker: is this certificate revoked? One answer from, in order,
//   1. a CRL given locally (whose issuer is the certificate's issuer),
//   2. the certificate's OCSP responders (authorityInfoAccess; HTTP POST application/ocsp-request),
//   3. its CRL distribution point (cached per URL, in a bounded LRU, until the CRL's nextUpdate),
// failing closed: a certificate that names a revocation service but for which no answer can be
// had is refused (revocation.unavailable), as is a revoked one (revocation.revoked). Only a
// certificate that names no revocation service (and no local CRL covers) comes back as
// "not checked".
//
// Kinds: revocation.revoked is ErrorKind::kUntrusted — the issuer has withdrawn its signature,
// so the certificate no longer verifies; core's verify_chain reports a CRL-listed certificate
// the same way (x509.chain.revoked), and `enarx verify` exits 4 for both. It is not a
// relying-party policy (kPolicyRejected): nobody chose to refuse an authentic certificate.
// revocation.unavailable is kUnavailable (exit 6): try again when the service answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/lru_cache.h"
#include "core/x509.h"
#include "revocation/fetch.h"
#include "revocation/reason.h"

namespace enarx::revocation {

struct StatusOptions {
  std::vector<Crl> crls{};  // given locally (PEM or DER files); any issuers
  FetchOptions fetch{};   // timeout, https trust, http allowed
  std::size_t max_crl_size = 8u << 20;
  std::size_t max_ocsp_response_size = 64u << 10;
  std::chrono::seconds grace{0};  // accept a CRL or OCSP response this long past nextUpdate
  bool ocsp_nonce = true;
  // The CRL cache (distribution point URL -> verified CRL).
  std::size_t crl_cache_entries = 16;
  std::size_t crl_cache_bytes = 32u << 20;
};

enum class Status { kGood, kNotChecked };
enum class Source { kNone, kLocalCrl, kOcsp, kCrlDistributionPoint };
std::string_view to_string(Status status);  // "good", "not_checked"
std::string_view to_string(Source source);  // "none", "crl", "ocsp", "crl_distribution_point"

struct StatusReport {
  Status status = Status::kNotChecked;
  Source source = Source::kNone;
  std::string url{};   // the OCSP responder or CRL distribution point that answered
  std::string detail{};  // not checked: why; good: the sources that failed before the one that answered
  TimePoint this_update{};
  std::optional<TimePoint> next_update{};
  std::optional<std::int64_t> crl_number{};
  bool from_cache = false;  // a cached distribution point CRL
};

inline constexpr std::string_view kNoRevocationService = "the certificate names no revocation service";

class StatusChecker {
 public:
  // `fetcher` null: http_fetcher(options.fetch).
  explicit StatusChecker(StatusOptions options = {}, std::shared_ptr<Fetcher> fetcher = nullptr);

  // `cert`'s status at `at`; `issuer` is the next certificate in its verified path. Returns
  // kGood or kNotChecked; throws
  //   revocation.revoked      (kUntrusted) with when and why in the message
  //   revocation.unavailable  (kUnavailable) the certificate names a revocation service but no
  //                           source gave a valid answer (the message lists each failure)
  //   revocation.crl.* / x509.crl_malformed  a local CRL for this issuer that does not verify
  //                           or is not current (see crl.h) — a CRL given explicitly is used or
  //                           refused, never skipped
  //   revocation.wrong_issuer (kInvalidInput) `cert` does not name `issuer`
  StatusReport check(const Certificate& cert, const Certificate& issuer, TimePoint at);

  std::size_t cached_crls() const { return cache_.size(); }
  std::size_t cached_crl_bytes() const { return cache_.bytes(); }

 private:
  StatusReport from_distribution_point(const std::string& url, const Certificate& cert, const Certificate& issuer,
                                       TimePoint at);
  StatusOptions options_;
  std::shared_ptr<Fetcher> fetcher_;
  LruCache<std::string, Crl> cache_;
};

// Throws revocation.revoked (kUntrusted) describing a revocation of `cert` reported by `by`.
[[noreturn]] void throw_revoked(const Certificate& cert, TimePoint revoked_at, Reason reason, std::string_view by);

}  // namespace enarx::revocation
