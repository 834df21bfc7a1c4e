#include "revocation/status.h"

#include "core/error.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"

namespace enarx::revocation {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::kGood: return "good";
    case Status::kNotChecked: return "not_checked";
  }
  return "not_checked";
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::kNone: return "none";
    case Source::kLocalCrl: return "crl";
    case Source::kOcsp: return "ocsp";
    case Source::kCrlDistributionPoint: return "crl_distribution_point";
  }
  return "none";
}

void throw_revoked(const Certificate& cert, TimePoint revoked_at, Reason reason, std::string_view by) {
  throw Error(ErrorKind::kUntrusted, "revocation.revoked",
              "certificate " + cert.subject() + " (serial " + cert.serial_hex() + ") was revoked at " +
                  format_rfc3339(revoked_at) + ", reason " + std::string(reason_name(reason)) + ", according to " +
                  std::string(by));
}

StatusChecker::StatusChecker(StatusOptions options, std::shared_ptr<Fetcher> fetcher)
    : options_(std::move(options)),
      fetcher_(fetcher ? std::move(fetcher) : http_fetcher(options_.fetch)),
      cache_(options_.crl_cache_entries, options_.crl_cache_bytes) {}

StatusReport StatusChecker::check(const Certificate& cert, const Certificate& issuer, TimePoint at) {
  require(static_cast<bool>(cert) && static_cast<bool>(issuer), ErrorKind::kInvalidInput, "revocation.empty",
          "no certificate or issuer certificate");
  if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get())) != 0)
    throw Error(ErrorKind::kInvalidInput, "revocation.wrong_issuer",
                cert.subject() + " is issued by " + cert.issuer() + ", not " + issuer.subject());
  const CrlCheckOptions crl_options{.grace = options_.grace};

  // 1. A local CRL from this issuer: used, or its failure reported.
  std::optional<Error> local_failure;
  for (const Crl& crl : options_.crls) {
    if (!crl || X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer.get())) != 0) continue;
    try {
      const CrlVerdict v = check_crl(crl, cert, issuer, at, crl_options);
      if (v.revoked) throw_revoked(cert, v.revoked_at, v.reason, "a local CRL");
      StatusReport out;
      out.status = Status::kGood;
      out.source = Source::kLocalCrl;
      out.this_update = v.this_update;
      out.next_update = v.next_update;
      out.crl_number = v.number;
      return out;
    } catch (const Error& e) {
      if (e.code() == "revocation.revoked") throw;
      if (!local_failure) local_failure = e;  // another local CRL for this issuer may be current
    }
  }
  if (local_failure) throw *local_failure;

  const std::vector<std::string> ocsp = ocsp_urls(cert);
  const std::optional<std::string> cdp = cert.crl_distribution_point();
  if (ocsp.empty() && !cdp) {
    StatusReport out;
    out.detail = std::string(kNoRevocationService);
    return out;
  }

  // 2. OCSP, 3. the distribution point; the first valid answer counts.
  std::string failures;
  const auto note = [&failures](const std::string& what) { failures += (failures.empty() ? "" : "; ") + what; };
  for (const std::string& url : ocsp) {
    try {
      if (!is_http_url(url)) throw Error(ErrorKind::kInvalidInput, "revocation.fetch.url", "not an http(s) URL");
      const OcspRequest request = build_ocsp_request(cert, issuer, options_.ocsp_nonce);
      const Bytes body = fetcher_->post(url, "application/ocsp-request", request.der, options_.max_ocsp_response_size);
      const OcspVerdict v = check_ocsp_response(
          body, request, cert, issuer, at,
          {.max_response_size = options_.max_ocsp_response_size, .grace = options_.grace});
      if (v.state == CertState::kRevoked) throw_revoked(cert, v.revoked_at, v.reason, "OCSP " + url);
      if (v.state == CertState::kUnknown) {
        note("OCSP " + url + ": the responder does not know the certificate");
        continue;
      }
      StatusReport out;
      out.status = Status::kGood;
      out.source = Source::kOcsp;
      out.url = url;
      out.this_update = v.this_update;
      out.next_update = v.next_update;
      out.detail = failures;
      return out;
    } catch (const Error& e) {
      if (e.code() == "revocation.revoked") throw;
      note("OCSP " + url + ": " + e.describe());
    }
  }
  if (cdp) {
    try {
      if (!is_http_url(*cdp)) throw Error(ErrorKind::kInvalidInput, "revocation.fetch.url", "not an http(s) URL");
      StatusReport out = from_distribution_point(*cdp, cert, issuer, at);
      out.detail = failures;
      return out;
    } catch (const Error& e) {
      if (e.code() == "revocation.revoked") throw;
      note("CRL " + *cdp + ": " + e.describe());
    }
  }
  throw Error(ErrorKind::kUnavailable, "revocation.unavailable",
              "no revocation status for " + cert.subject() + " (serial " + cert.serial_hex() + "): " + failures);
}

StatusReport StatusChecker::from_distribution_point(const std::string& url, const Certificate& cert,
                                                    const Certificate& issuer, TimePoint at) {
  const CrlCheckOptions crl_options{.grace = options_.grace};
  StatusReport out;
  out.status = Status::kGood;
  out.source = Source::kCrlDistributionPoint;
  out.url = url;
  const auto use = [&](const Crl& crl) {
    const CrlVerdict v = check_crl(crl, cert, issuer, at, crl_options);
    if (v.revoked) throw_revoked(cert, v.revoked_at, v.reason, "the CRL at " + url);
    out.this_update = v.this_update;
    out.next_update = v.next_update;
    out.crl_number = v.number;
  };
  if (auto cached = cache_.get(url)) {
    try {
      use(*cached);
      out.from_cache = true;
      return out;
    } catch (const Error& e) {
      if (e.code() == "revocation.revoked") throw;
      // Past its nextUpdate, or not from this issuer: fetch it again.
    }
  }
  const Bytes body = fetcher_->get(url, options_.max_crl_size);
  const Crl crl = Crl::from_bytes(body);
  try {
    use(crl);
  } catch (const Error& e) {
    // A CRL that verifies but lists the certificate is still worth keeping.
    if (e.code() == "revocation.revoked") cache_.put(url, crl, body.size() + url.size());
    throw;
  }
  cache_.put(url, crl, body.size() + url.size());
  return out;
}

}  // namespace enarx::revocation
