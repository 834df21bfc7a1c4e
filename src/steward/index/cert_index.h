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
//
// Error codes (stable):
//   steward.index.open            kUnavailable   the database cannot be opened / its schema made
//   steward.index.schema_too_new  kUnavailable   written by a newer steward (schema version above ours)
//   steward.index.unavailable     kUnavailable   a query failed: unreachable, disk full, timed out, busy
//   steward.index.backend         kInternal      the database refused a statement (a bug)
//   steward.index.corrupt         kInternal      a stored row does not decode
//   steward.index.duplicate_serial kConflict     record_issued of a serial already present
//   steward.index.bad_serial      kInvalidInput  a serial that is not 1-40 lower-case hex digits
//                                                without a leading zero (RFC 5280: <= 20 octets)
//   steward.index.empty_selector  kInvalidInput  revoke_matching with no field set, or a field set to ""
//   steward.index.bad_cursor      kInvalidInput  list's `after` names no recorded certificate
//   steward.index.bad_limit       kInvalidInput  list / audit_entries limit above its bound
//   steward.index.bad_reason      kInvalidInput  a Reason outside RFC 5280's codes (6 and 8 included)
//   steward.index.bad_text        kInvalidInput  a string field (certificate, revocation, selector)
//                                                that is not UTF-8 or holds a NUL
//   steward.index.bad_crl         kInvalidInput  a CRL number or epoch above 2^63-1
//   steward.index.too_many        kResourceExhausted  revoke_matching / revoked_unexpired over
//                                                kMaxRevocationsListed rows (nothing revoked)
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/clock.h"
#include "revocation/reason.h"

namespace enarx::steward {

// Bounds (every read is bounded): the largest `limit` list() and audit_entries() accept, and
// the most rows revoke_matching() revokes / revoked_unexpired() returns in one call.
inline constexpr std::size_t kMaxListLimit = 10000;
inline constexpr std::size_t kMaxAuditLimit = 10000;
inline constexpr std::size_t kMaxRevocationsListed = 1000000;
inline constexpr std::size_t kMaxPruneLimit = 10000;

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

// Which certificates a bulk operation covers. Every set field must match (AND), compared
// exactly (byte for byte: callers normalise hex to lower case); an empty selector matches
// nothing (refused with steward.index.empty_selector, so a typo in a `steward revoke` command
// line cannot revoke every certificate). revoke_matching also refuses a field set to "" (it
// would select every certificate whose evidence lacks that fact); list() matches it.
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

// The audit record of a revocation as the index writes it: {"decision": "revoked", "serial",
// "reason" (RFC 5280 name), "detail", "by"}.
nlohmann::json revocation_audit_record(const RevocationRecord& record);

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

  // Inserts certificates in one transaction, all or none; a serial already present (or given
  // twice) is steward.index.duplicate_serial and inserts none. Returns once they are durable.
  // Concurrent calls share a transaction (group commit, src/steward/index/group_commit.h), so
  // N issuing threads pay for about one commit instead of N; each call still succeeds or fails
  // on its own.
  // `audit` records (the issuance's, one per certificate as steward writes them) are appended
  // to the audit trail in the same transaction, at the first certificate's issued_at: the shared
  // trail holds every issuance exactly when the index does.
  // A certificate in flight across a revoke_matching — its issued_at (when its issuance began)
  // is not after the revocation's revoked_at, yet it commits after the revocation's scan, which
  // could not see it — is recorded revoked by that revocation in the same transaction (with an
  // audit record, and a new revocation epoch). Returns those revocations (normally none): the
  // caller must not hand such a certificate out.
  virtual std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate> certs,
                                                      std::span<const nlohmann::json> audit) = 0;
  // The same without waiting for the commit: `done` runs once, on another thread or (for a
  // failure found before queuing, or an index without a committer) on this one, with the
  // failure or the revocations record_issued would have returned. `certs` and `audit` must stay
  // valid until then. A server's workers use it so none sleeps in a disk flush.
  using IssuedCompletion = std::function<void(std::exception_ptr error, std::vector<RevocationRecord> revoked)>;
  virtual void record_issued_async(std::span<const IssuedCertificate> certs, std::span<const nlohmann::json> audit,
                                   IssuedCompletion done) {
    std::vector<RevocationRecord> revoked;
    try {
      revoked = record_issued(certs, audit);
    } catch (...) {
      return done(std::current_exception(), {});
    }
    done(nullptr, std::move(revoked));
  }
  std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate> certs) {
    return record_issued(certs, {});
  }
  std::vector<RevocationRecord> record_issued(const IssuedCertificate& cert) {
    return record_issued(std::span(&cert, 1), {});
  }
  virtual std::optional<IssuedCertificate> find(std::string_view serial) const = 0;
  // Certificates matching `selector` (an empty selector matches all here: listing is harmless)
  // that are unexpired at `now` (not_after > now) and, unless `include_revoked`, not revoked,
  // oldest first — ordered by (issued_at, serial) —, at most `limit` (<= kMaxListLimit, else
  // steward.index.bad_limit; 0 returns nothing), starting after the certificate with serial
  // `after` ("" = from the start; pass the last serial of a page to get the next one; a serial
  // not recorded is steward.index.bad_cursor). The page is complete when it is shorter than
  // `limit`.
  virtual std::vector<IssuedCertificate> list(const CertSelector& selector, TimePoint now,
                                              bool include_revoked, std::size_t limit,
                                              std::string_view after = {}) const = 0;
  virtual std::size_t count_issued() const = 0;
  // Deletes, in one transaction, at most `limit` (<= kMaxPruneLimit, else steward.index.bad_limit)
  // certificates that expired before `expired_before` (not_after < it), oldest expiry first,
  // with their revocation records; returns how many. A CRL never lists them (RFC 5280 lets an
  // entry go once the certificate has expired) and OCSP then answers "unknown"; the audit trail
  // keeps their issuance and revocation records. Call again while it returns `limit`. Selector
  // revocations made before `expired_before` are forgotten too.
  virtual std::size_t prune_expired(TimePoint expired_before, std::size_t limit) = 0;

  // Revokes one certificate. Returns false when the serial is unknown. Revoking a revoked
  // certificate keeps the first record (its time and reason) and returns true. Bumps
  // revocation_epoch() when it revokes, and appends `audit` to the audit trail in the same
  // transaction (a revocation is never without its audit record, nor a record without it).
  virtual bool revoke(const RevocationRecord& record, const nlohmann::json& audit) = 0;
  // The same with revocation_audit_record(record).
  bool revoke(const RevocationRecord& record) { return revoke(record, revocation_audit_record(record)); }
  // Revokes, in one transaction, every unexpired unrevoked certificate matching `selector`
  // (non-empty), all with `reason`/`detail`/`revoked_by` at `revoked_at` (how.serial is
  // ignored), each with its revocation_audit_record in the same transaction. Returns their serials in the order of revoked_unexpired(). Bumps
  // revocation_epoch() once when it revokes anything. More than kMaxRevocationsListed matches
  // is steward.index.too_many and revokes nothing (narrow the selector).
  // The selector is also remembered (even when nothing matched now): a matching certificate
  // whose issuance began at or before how.revoked_at but commits later is revoked by
  // record_issued (so revoked_at should be the time of the call: steward passes its clock's now).
  // Remembered selectors go with prune_expired's cut-off.
  virtual std::vector<std::string> revoke_matching(const CertSelector& selector,
                                                   const RevocationRecord& how, TimePoint now) = 0;
  virtual std::optional<RevocationRecord> revocation(std::string_view serial) const = 0;
  // Every revocation of a certificate still unexpired at `now` (what a CRL lists; RFC 5280
  // lets an entry go after the certificate expires), ordered by serial number (numerically:
  // shorter serials first, then by digits). Over kMaxRevocationsListed is steward.index.too_many.
  virtual std::vector<RevocationRecord> revoked_unexpired(TimePoint now) const = 0;
  // Increases with every revocation (strictly, across replicas; 0 before the first); replicas
  // compare it with their CRL's to know it is stale. To build a CRL, read the epoch FIRST and
  // then revoked_unexpired(): the list then holds at least every revocation up to that epoch
  // (one committed later bumps the epoch past it, so the CRL is seen stale and rebuilt).
  virtual std::uint64_t revocation_epoch() const = 0;

  // The CA's CRL. publish_crl stores `next` only if the stored CRL's number is still
  // `expected_number` (0 = none stored yet) and next.number > expected_number: replicas race
  // to publish and exactly one wins; the others read the winner's. Returns whether it stored.
  // Numbers and epochs are stored as signed 64-bit: above 2^63-1 is steward.index.bad_crl.
  virtual std::optional<CrlRecord> current_crl() const = 0;
  virtual bool publish_crl(std::uint64_t expected_number, const CrlRecord& next) = 0;

  // The shared audit trail (issuance, refusals, revocations, re-evaluations). Ids are assigned
  // in commit order, across replicas too, so following the trail with after_id = the last id
  // seen misses nothing (unless more than `limit` arrived in between: see below). Invalid UTF-8
  // in strings is stored as U+FFFD.
  virtual void append_audit(TimePoint at, const nlohmann::json& record) = 0;
  // The newest `limit` entries with id > after_id, oldest first (a tail: with more than `limit`
  // newer entries the older of them are skipped). limit <= kMaxAuditLimit, else
  // steward.index.bad_limit.
  virtual std::vector<AuditEntry> audit_entries(std::int64_t after_id, std::size_t limit) const = 0;
};

// "postgresql://..." / "postgres://..." (scheme case-insensitive) -> PostgreSQL; anything else
// is a SQLite file path (created 0600; missing directories are created 0700, an existing one
// keeps its mode). Creates or upgrades the schema. Throws steward.index.open (or
// steward.index.schema_too_new). open_pg_cert_index also takes a libpq key=value conninfo.
std::shared_ptr<CertIndex> open_cert_index(const std::string& location);
// The index key of a serial: lower-case hex of its big-endian magnitude without leading zeros
// ("0" for zero) — IssuedCertificate::serial.
std::string serial_key(ByteView big_endian);
// And back (throws Error(kInvalidInput, "steward.index.bad_serial") for anything but 1..40 hex digits).
Bytes serial_bytes(std::string_view key);
// A new certificate's serial (16 bytes, a positive INTEGER): the issuance time in milliseconds
// since 1970 (6 bytes, big-endian), then 80 bits from the CSPRNG. Unpredictable and never
// sequential (RFC 5280 4.1.2.2; the CA/Browser Forum asks for 64 random bits), yet ordered by
// time, so the index's serial B-trees grow at their right edge: a random serial dirtied a
// random leaf page of each of them per certificate (docs/steward.md "The index's cost").
Bytes new_serial(TimePoint issued_at);
std::shared_ptr<CertIndex> open_sqlite_cert_index(const std::string& path);
std::shared_ptr<CertIndex> open_pg_cert_index(const std::string& url);

}  // namespace enarx::steward
