// SEV-SNP evidence verification: the AMD certificate chain (ARK -> ASK -> VCEK, or
// ARK -> ASVK -> VLEK) up to a pinned (or caller-supplied simulated) root, CRLs, the report's
// ECDSA P-384 signature, and the bindings between the report and the VCEK (reported TCB ==
// VCEK SPLs, CHIP_ID == hwID). Policy is not applied here (appraise.h).
//
// Errors (enarx::Error codes), in the order the checks run:
//   snp.report.*            (parse_report)
//   snp.report.unsigned     MASK_CHIP_KEY set or SIGNING_KEY = none: the report carries no signature
//   snp.vcek.malformed      VCEK/VLEK is not an AMD endorsement key certificate
//   snp.chain.untrusted_root   the VCEK/VLEK issuer is no trusted ASK/ASVK, or a supplied chain
//                              certificate is not a trusted one
//   snp.chain.wrong_product    the report's CPUID, the VCEK's productName or a supplied chain
//                              certificate name another product than the root the VCEK chains to
//   snp.chain.key_kind_mismatch   KEY_INFO says VCEK but the certificate is a VLEK, or vice versa
//   snp.chain.bad_signature    a certificate signature in the chain is invalid
//   snp.chain.expired / snp.chain.not_yet_valid   a certificate is outside its validity at `at`
//   snp.chain.bad_key          the VCEK/VLEK key is not ECDSA P-384
//   snp.crl.unknown_issuer     a supplied CRL is not issued by a trusted ARK/ASK/ASVK (any product)
//   snp.crl.bad_signature      a CRL naming a trusted AMD key is not signed by it
//   snp.crl.revoked            the ASK/ASVK (or VCEK/VLEK) serial is on the newest CRL of its issuer
//   snp.crl.not_yet_valid / snp.crl.expired   CRL outside thisUpdate..nextUpdate(+grace), or
//                              older than max age
//   snp.crl.missing            require_crl and no CRL for this product's ARK was supplied
//   snp.report.signature_invalid   the report signature does not verify with the VCEK/VLEK key
//   snp.tcb_mismatch           REPORTED_TCB differs from the VCEK/VLEK SPL extensions
//   snp.chip_id_mismatch       CHIP_ID differs from the VCEK hwID
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attest/snp/amd_roots.h"
#include "attest/snp/report.h"
#include "attest/snp/vcek.h"
#include "core/clock.h"
#include "core/lru_cache.h"
#include "core/x509.h"

namespace enarx::attest::snp {

struct VerifyOptions {
  TimePoint at;                    // verification time (certificates and CRLs)
  bool require_crl = false;        // a CRL from the product's ARK must be supplied
  std::chrono::seconds crl_grace{0};  // tolerance past a CRL's nextUpdate
  std::optional<std::chrono::seconds> crl_max_age;  // max age since thisUpdate
};

struct CrlUse {
  std::string issuer;
  std::optional<std::int64_t> number;
  TimePoint this_update;
  std::optional<TimePoint> next_update;
  Bytes sha256;
  bool local = false;  // from Collateral::local_crls (the verifier's own cache)
};

// Everything verification established; input to appraise().
struct Verified {
  Report report;
  Product product = Product::Unknown;
  SigningKey signing_key = SigningKey::Vcek;  // which certificate signed (VCEK or VLEK)
  bool simulated = false;
  Certificate vcek;  // the VCEK or VLEK
  VcekInfo vcek_info;
  Certificate ask;  // ASK or ASVK
  Certificate ark;
  TcbVersion reported_tcb, current_tcb, committed_tcb, launch_tcb;
  bool chip_id_masked = false;
  std::vector<CrlUse> crls;  // CRLs that were checked
  TimePoint verified_at;
};

struct Collateral {
  Bytes vcek_der;  // VCEK or VLEK (DER or PEM)
  std::vector<Certificate> chain;  // optional ASK/ARK/ASVK as served by KDS; must be trusted ones
  // CRLs supplied with the evidence. Each must be issued by a trusted ARK/ASK/ASVK (of any
  // product) and verify, or verification fails.
  std::vector<Crl> crls;
  // The verifier's own CRLs (operator's cache). CRLs of unknown issuers are skipped.
  // For each issuer of the chain the newest CRL of both sets is applied (cRLNumber, then
  // thisUpdate), so an older supplied CRL can never hide a revocation the cache knows.
  std::vector<Crl> local_crls;
};

// Verifies SNP evidence. Thread-safe. Caches verified chains (ARK -> ASK -> VCEK) keyed by the
// SHA-256 of the VCEK's DER and the CRLs of trusted AMD keys, together with the chain's
// validity window and the CRLs it was checked against, so verifying many reports from the same
// machine costs about one ECDSA verification each. The cache is a bounded LRU filled only after
// a report verified with the chain.
class Verifier {
 public:
  // Trusts the genuine AMD roots plus `extra_roots` (normally simulated ones).
  explicit Verifier(std::vector<TrustRoot> extra_roots = {}, bool trust_genuine = true);

  Verified verify(ByteView report_bytes, const Collateral& collateral,
                  const VerifyOptions& options) const;
  Verified verify(const Report& report, const Collateral& collateral,
                  const VerifyOptions& options) const;

  const std::vector<TrustRoot>& roots() const { return roots_; }

  // The CRL distribution point labels acceptable for `crl` in an Enarx CrlList entry: the
  // distribution points that the trusted certificates its issuer signed carry (for an ARK's
  // CRL: its ASK's and ASVK's, e.g. https://kdsintf.amd.com/vcek/v1/Milan/crl); empty when none
  // carries one. check_crl_label throws Error("snp.crl.bad_url") unless `url` is one of them
  // (or is empty when there are none): the label is part of the evidence and may not be chosen
  // freely by a client.
  std::vector<std::string> crl_labels(const Crl& crl) const;
  void check_crl_label(std::string_view url, const Crl& crl) const;
  // The trusted AMD certificate that issues `crl` (by name), or nullptr.
  const Certificate* crl_signer(const Crl& crl) const;
  std::size_t cached_chains() const;
  void clear_cache() const;

 private:
  struct ChainEntry;
  struct ChainLookup {
    std::shared_ptr<const ChainEntry> entry;
    std::string key;
    bool cached = false;
  };
  ChainLookup chain_for(const Bytes& vcek_der, const Collateral& collateral,
                        const VerifyOptions& options) const;

  std::vector<TrustRoot> roots_;
  // Bounded: 1024 chains (one per machine and CRL set) in 8 MiB, least recently used first.
  mutable LruCache<std::string, std::shared_ptr<const ChainEntry>> cache_{1024, 8u << 20};
};

// Checks only the report signature against a P-384 public key (little-endian R/S converted).
bool verify_report_signature(const Report& report, const PublicKey& key);

}  // namespace enarx::attest::snp
