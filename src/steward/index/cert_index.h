// Steward's issued-certificate index: every certificate it issues, what was attested for it, its
// revocation, the CA's current CRL and the audit trail. Shared state of N steward replicas.
//
// Two back ends behind one interface, run by one conformance suite
// (tests/steward/cert_index_conformance_test.cc; library steward_index, src/steward/index/):
//   * SQLite (embedded default): <state_dir>/index.sqlite3, WAL, one writer at a time;
//   * PostgreSQL (scale-out, libpqxx): every replica points at the same database, so a
//     certificate issued by one replica is revoked through another and both report it.
// Every method is one transaction, thread-safe, and throws Error("steward.index.*") with
// ErrorKind::kUnavailable when the database cannot be reached or written (the caller then
// refuses to issue: no certificate without its index row) and kInvalidInput for bad arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/clock.h"
#include "revocation/reason.h"

namespace enarx::steward {

// One issued certificate and the attested facts it was issued for. Strings are "" when the
// evidence does not give them (KVM has no measurement; SNP has no FMSPC or PPID; ...).
struct IssuedCertificate {
  std::string serial;  // lower-case hex of the serial's magnitude, no leading zeros (key)
  TimePoint issued_at{};
  TimePoint not_before{}, not_after{};
  std::vector<std::string> sans;  // "dns:<name>" / "uri:<uri>", in certificate order
  std::string platform;           // "kvm" | "snp" | "sgx" | "tdx"
  std::string measurement;        // lower-case hex
  std::string signer;             // lower-case hex (SNP author key digest, SGX MRSIGNER)
  std::string tcb_status;         // e.g. "UpToDate", "OutOfDate"
  std::string tcb_level;          // platform-specific text (SNP reported TCB hex; SGX/TDX SVNs)
  std::string chip_id;            // SNP CHIP_ID, lower-case hex
  std::string ppid;               // SGX/TDX PCK PPID, lower-case hex
  std::string fmspc;              // SGX/TDX FMSPC, lower-case hex
  std::string keep_identity;      // lower-case hex
  std::string policy_digest;      // Policy::digest at issuance
  std::vector<std::string> collateral_digests;  // lower-case hex SHA-256 of each piece used
  bool insecure = false;
  std::string issued_by;  // the replica's public URL (which steward signed it)
  Bytes der;              // the certificate itself (re-evaluation replays its evidence)
};

struct RevocationRecord {
  std::string serial;
  TimePoint revoked_at{};
  revocation::Reason reason = revocation::Reason::kUnspecified;
  std::string detail;      // why, for people and the audit trail (e.g. the failed check's code)
  std::string revoked_by;  // "cli", "reevaluation", or a replica's URL
};

// Which certificates a bulk operation covers. Every set field must match (AND); an empty
// selector matches nothing (refused with steward.index.empty_selector, so a typo in a
// `steward revoke` command line cannot revoke every certificate).
struct CertSelector {
  std::optional<std::string> serial;
  std::optional<std::string> platform;
  std::optional<std::string> measurement;
  std::optional<std::string> signer;
  std::optional<std::string> chip_id;
  std::optional<std::string> ppid;
  std::optional<std::string> fmspc;
  std::optional<std::string> tcb_status;
  std::optional<std::string> keep_identity;
  bool empty() const {
    return !serial && !platform && !measurement && !signer && !chip_id && !ppid && !fmspc &&
           !tcb_status && !keep_identity;
  }
};

// The CA's current CRL, as every replica serves it (byte-identical across replicas).
struct CrlRecord {
  std::uint64_t number = 0;            // cRLNumber; strictly increasing
  std::uint64_t revocation_epoch = 0;  // revocation_epoch() the CRL was built from
  TimePoint this_update{}, next_update{};
  Bytes der;
};

struct AuditEntry {
  std::int64_t id = 0;  // increasing, assigned by the store
  TimePoint at{};
  nlohmann::json record;  // the same object the file audit log gets
};

class CertIndex {
 public:
  virtual ~CertIndex() = default;

  // Inserts a certificate; a serial already present is steward.index.duplicate_serial.
  virtual void record_issued(const IssuedCertificate& cert) = 0;
  virtual std::optional<IssuedCertificate> find(std::string_view serial) const = 0;
  // Certificates matching `selector` (an empty selector matches all here: listing is harmless)
  // that are unexpired at `now` (not_after > now) and, unless `include_revoked`, not revoked,
  // oldest first, at most `limit`, starting after serial `after` ("" = from the start; paging).
  virtual std::vector<IssuedCertificate> list(const CertSelector& selector, TimePoint now,
                                              bool include_revoked, std::size_t limit,
                                              std::string_view after = {}) const = 0;
  virtual std::size_t count_issued() const = 0;

  // Revokes one certificate. Returns false when the serial is unknown. Revoking a revoked
  // certificate keeps the first record (its time and reason) and returns true. Bumps
  // revocation_epoch() when it revokes.
  virtual bool revoke(const RevocationRecord& record) = 0;
  // Revokes, in one transaction, every unexpired unrevoked certificate matching `selector`
  // (non-empty), all with `reason`/`detail`/`revoked_by` at `at`. Returns their serials.
  virtual std::vector<std::string> revoke_matching(const CertSelector& selector,
                                                   const RevocationRecord& how, TimePoint now) = 0;
  virtual std::optional<RevocationRecord> revocation(std::string_view serial) const = 0;
  // Every revocation of a certificate still unexpired at `now` (what a CRL lists; RFC 5280
  // lets an entry go after the certificate expires), ordered by serial.
  virtual std::vector<RevocationRecord> revoked_unexpired(TimePoint now) const = 0;
  // Increases with every revocation; replicas compare it with their CRL's to know it is stale.
  virtual std::uint64_t revocation_epoch() const = 0;

  // The CA's CRL. publish_crl stores `next` only if the stored CRL's number is still
  // `expected_number` (0 = none stored yet) and next.number > expected_number: replicas race
  // to publish and exactly one wins; the others read the winner's. Returns whether it stored.
  virtual std::optional<CrlRecord> current_crl() const = 0;
  virtual bool publish_crl(std::uint64_t expected_number, const CrlRecord& next) = 0;

  // The shared audit trail (issuance, refusals, revocations, re-evaluations).
  virtual void append_audit(TimePoint at, const nlohmann::json& record) = 0;
  // The newest `limit` entries with id > after_id, oldest first.
  virtual std::vector<AuditEntry> audit_entries(std::int64_t after_id, std::size_t limit) const = 0;
};

// "postgresql://..." / "postgres://..." -> PostgreSQL; anything else is a SQLite file path
// (created 0600 with its directory 0700). Throws steward.index.open.
std::shared_ptr<CertIndex> open_cert_index(const std::string& location);
std::shared_ptr<CertIndex> open_sqlite_cert_index(const std::string& path);
std::shared_ptr<CertIndex> open_pg_cert_index(const std::string& url);

}  // namespace enarx::steward
