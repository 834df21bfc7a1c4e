// Internal (steward_index): what both back ends share — argument checks, the time and JSON
// encodings of the stored columns, and the WHERE clause of a CertSelector.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "steward/index/cert_index.h"

namespace enarx::steward::index_detail {

// Schema version this code writes and reads (the `meta` row "schema_version"). Opening a
// database with a higher one is steward.index.schema_too_new; a lower one is migrated.
// Version 2 (issue #17's index-cost goal): no index on platform or tcb_status alone (a handful
// of values: a scan reads as much), and the per-platform fields (chip id, PPID, FMSPC, keep
// identity; "" where the evidence has none) indexed only where set, so an insert writes 4-6
// fewer B-tree pages (measured: -20 to -25 % per committed row on SQLite).
// Version 3: selector_revocations, every revoke_matching's selector, so that a certificate whose
// issuance began before a revocation but commits after it is revoked in its own transaction.
inline constexpr int kSchemaVersion = 3;

// The fields indexed only where they are not "" (version 2): a selector on one of them with a
// non-empty value also says `<> ''`, so that the planner may use the partial index.
inline constexpr const char* kSparseSelectorColumns[] = {"chip_id", "ppid", "fmspc", "keep_identity"};

// The certificate columns, in the order read_certificate (either back end) expects them.
inline constexpr const char* kCertColumns =
    "serial, issued_at_ns, not_before_ns, not_after_ns, sans, platform, measurement, signer, "
    "tcb_status, tcb_level, chip_id, ppid, fmspc, keep_identity, policy_digest, "
    "collateral_digests, insecure, issued_by, der";

// steward.index.bad_serial unless 1-40 lower-case hex digits without a leading zero.
void check_serial(std::string_view serial);
// steward.index.bad_text unless `value` is UTF-8 without NUL (what both back ends store alike:
// PostgreSQL text refuses the rest, libpq would cut a string at its first NUL).
void check_text(std::string_view field, std::string_view value);
// check_text over every text field of a certificate (serial included) / a revocation record.
void check_certificate(const IssuedCertificate& cert);
void check_revocation_text(const RevocationRecord& record);
class GroupCommit;
// Both stores' record_issued_async: the rows checked here (a bad row fails `done` at once),
// then queued for `group`'s committer.
void submit_checked_async(GroupCommit& group, std::span<const IssuedCertificate> certs,
                          std::span<const nlohmann::json> audit, CertIndex::IssuedCompletion done);
// steward.index.bad_limit when limit > max.
void check_limit(std::size_t limit, std::size_t max);
// steward.index.bad_reason for a code RFC 5280 does not define (or steward does not use).
void check_reason(revocation::Reason reason);
// The stored reason code back; steward.index.corrupt if it is not one.
revocation::Reason reason_from_code(std::int64_t code);
// Checks the serial of a selector, and for revoke_matching (`for_revocation`) that it is not
// empty and has no field set to "".
void check_selector(const CertSelector& selector, bool for_revocation);
// Whether `cert` has every field `selector` sets (what append_selector's SQL selects).
bool selector_matches(const CertSelector& selector, const IssuedCertificate& cert);
// A selector as stored in selector_revocations (a JSON object of the set fields) and back
// (steward.index.corrupt).
std::string selector_to_json(const CertSelector& selector);
CertSelector selector_from_json(std::string_view text);

// A revoke_matching as remembered for the issuances still in flight when it ran.
struct SelectorRevocation {
  CertSelector selector;
  RevocationRecord how;  // how.serial unused
};
// The revocations that rows about to be committed get from selector revocations `made` (oldest
// first): a row is covered by a selector revocation that matches it and whose revoked_at is not
// before the row's issued_at (its issuance began before the revocation, so the revocation's scan
// could not see it). The earliest such revocation stands.
std::vector<RevocationRecord> revocations_in_flight(std::span<const IssuedCertificate* const> rows,
                                                    std::span<const SelectorRevocation> made);
// The audit record of such a revocation (the shape `steward revoke` writes, marked).
nlohmann::json revocation_in_flight_audit(const RevocationRecord& revocation);

// steward.index.bad_crl unless both fit a signed 64-bit column.
void check_crl(const CrlRecord& crl);

// Time points are stored as signed 64-bit nanoseconds since the Unix epoch: exact for the
// system clock's range, comparable in SQL.
std::int64_t to_ns(TimePoint t);
TimePoint from_ns(std::int64_t ns);

// SANs and collateral digests: JSON arrays of strings in a text column.
std::string strings_to_json(const std::vector<std::string>& values);
std::vector<std::string> strings_from_json(std::string_view text);  // steward.index.corrupt

// Audit records as stored (invalid UTF-8 replaced) and read back (steward.index.corrupt).
std::string audit_to_text(const nlohmann::json& record);
nlohmann::json audit_from_text(std::string_view text);

[[noreturn]] void corrupt(const std::string& what);

// A statement with positional parameters, built for SQLite (?N) or PostgreSQL ($N).
using Param = std::variant<std::int64_t, std::string>;
struct Query {
  explicit Query(bool dollar) : dollar(dollar) {}
  // Adds a parameter; returns its placeholder.
  std::string bind(Param p);
  bool dollar;
  std::string sql;
  std::vector<Param> params;
};

// Appends " AND <alias>.<column> = <param>" for every field the selector sets (and
// " AND <alias>.<column> <> ''" for a sparse column given a non-empty value).
void append_selector(Query& q, const CertSelector& selector, std::string_view alias);

}  // namespace enarx::steward::index_detail
