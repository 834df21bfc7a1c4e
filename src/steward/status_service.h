// Certificate status as steward publishes it: revocation through the shared index, the CA's
// RFC 5280 CRL and RFC 6960 OCSP answers (docs/steward.md "Revocation").
//
// Replicas share one index (index/cert_index.h), so they share one CRL: the replica that sees a
// revocation newer than the stored CRL (or a CRL due for refresh) builds the next one and
// publishes it with a compare-and-set; the others adopt the stored one. Every replica therefore
// serves byte-identical CRLs with one strictly increasing cRLNumber.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "revocation/reason.h"
#include "steward/ca.h"
#include "steward/index/cert_index.h"

namespace enarx::steward {

struct StatusOptions {
  // nextUpdate = thisUpdate + crl_validity; a CRL is rebuilt once it is crl_refresh old, so
  // relying parties always find one well before its nextUpdate.
  std::chrono::seconds crl_validity{24 * 3600};
  std::chrono::seconds crl_refresh{3600};
  // How long an OCSP answer is good for (nextUpdate - thisUpdate).
  std::chrono::seconds ocsp_validity{3600};
  // How often serving a CRL asks the index whether another replica revoked something.
  std::chrono::milliseconds index_poll{1000};
};

class StatusService {
 public:
  // `ca` must outlive the service.
  StatusService(std::shared_ptr<CertIndex> index, const CertificateAuthority& ca,
                std::shared_ptr<const Clock> clock, StatusOptions options = {});

  // The current CRL (DER), rebuilt first when it is stale or a revocation is newer. Throws the
  // index's errors (kUnavailable) when no CRL can be had.
  Bytes crl();
  CrlRecord crl_record();
  // Builds and publishes the next CRL now unless the stored one is current; returns it.
  CrlRecord refresh_crl(bool force = false);

  // A DER OCSPResponse for `request` (malformedRequest for garbage; never throws for input).
  Bytes ocsp(ByteView request);

  // Revokes through the index and publishes a new CRL. `serial` as IssuedCertificate::serial
  // (serial_key). Returns false when steward never issued it.
  bool revoke(const RevocationRecord& record);
  std::vector<std::string> revoke_matching(const CertSelector& selector, const RevocationRecord& how);

  const CertIndex& index() const { return *index_; }

 private:
  bool stale(const CrlRecord& crl, std::uint64_t epoch, TimePoint now) const;
  // `listed` (optional) gets the number of entries, for the log.
  CrlRecord build_next(std::uint64_t number, std::uint64_t epoch, TimePoint now,
                       std::size_t* listed = nullptr) const;

  std::shared_ptr<CertIndex> index_;
  const CertificateAuthority& ca_;
  std::shared_ptr<const Clock> clock_;
  StatusOptions options_;
  std::mutex mutex_;
  std::optional<CrlRecord> cached_;
  TimePoint checked_at_{};
};

}  // namespace enarx::steward
