#include "steward/index/cert_index.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "steward/index/group_commit.h"
#include "steward/index/index_detail.h"

namespace enarx::steward {

namespace index_detail {

namespace {

constexpr std::size_t kMaxSerialDigits = 40;  // 20 octets (RFC 5280 4.1.2.2)

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

}  // namespace

void check_serial(std::string_view serial) {
  const bool ok = !serial.empty() && serial.size() <= kMaxSerialDigits && serial.front() != '0' &&
                  serial.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  require(ok, ErrorKind::kInvalidInput, "steward.index.bad_serial",
          "a serial is 1 to 40 lower-case hex digits without a leading zero");
}

namespace {

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), no NUL.
bool is_text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == 0) return false;
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((b & 0xe0) == 0xc0) n = 1, cp = b & 0x1fu;
    else if ((b & 0xf0) == 0xe0) n = 2, cp = b & 0x0fu;
    else if ((b & 0xf8) == 0xf0) n = 3, cp = b & 0x07u;
    else return false;
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

void check_text(std::string_view field, std::string_view value) {
  require(is_text(value), ErrorKind::kInvalidInput, "steward.index.bad_text",
          std::string(field) + " is not UTF-8 text without NUL");
}

void check_certificate(const IssuedCertificate& c) {
  check_serial(c.serial);
  const std::pair<const char*, const std::string*> fields[] = {
      {"platform", &c.platform},       {"measurement", &c.measurement}, {"signer", &c.signer},
      {"tcb_status", &c.tcb_status},   {"tcb_level", &c.tcb_level},     {"chip_id", &c.chip_id},
      {"ppid", &c.ppid},               {"fmspc", &c.fmspc},             {"keep_identity", &c.keep_identity},
      {"policy_digest", &c.policy_digest}, {"issued_by", &c.issued_by},
  };
  for (const auto& [name, value] : fields) check_text(name, *value);
  for (const auto& v : c.sans) check_text("a SAN", v);
  for (const auto& v : c.collateral_digests) check_text("a collateral digest", v);
}

void submit_checked_async(GroupCommit& group, std::span<const IssuedCertificate> certs,
                          std::span<const nlohmann::json> audit, CertIndex::IssuedCompletion done) {
  try {
    for (const auto& c : certs) check_certificate(c);
  } catch (...) {
    return done(std::current_exception(), {});
  }
  group.submit_async(certs, audit, std::move(done));
}

void check_revocation_text(const RevocationRecord& r) {
  check_text("detail", r.detail);
  check_text("revoked_by", r.revoked_by);
}

void check_limit(std::size_t limit, std::size_t max) {
  require(limit <= max, ErrorKind::kInvalidInput, "steward.index.bad_limit",
          "limit " + std::to_string(limit) + " is above the bound of " + std::to_string(max));
}

void check_reason(revocation::Reason reason) {
  require(revocation::parse_reason(std::to_string(static_cast<unsigned>(reason))).has_value(),
          ErrorKind::kInvalidInput, "steward.index.bad_reason",
          "revocation reason " + std::to_string(static_cast<unsigned>(reason)) +
              " is not an RFC 5280 CRLReason steward uses");
}

revocation::Reason reason_from_code(std::int64_t code) {
  if (code < 0 || code > 255) corrupt("revocation reason " + std::to_string(code));
  auto r = revocation::parse_reason(std::to_string(code));
  if (!r) corrupt("revocation reason " + std::to_string(code));
  return *r;
}

namespace {

// Every selector field: its column (both back ends), where a CertSelector and an
// IssuedCertificate hold it. The one list append_selector, selector_matches and the JSON form use.
struct SelectorField {
  const char* column;
  std::optional<std::string> CertSelector::*in_selector;
  std::string IssuedCertificate::*in_certificate;
};
constexpr SelectorField kSelectorFields[] = {
    {"serial", &CertSelector::serial, &IssuedCertificate::serial},
    {"platform", &CertSelector::platform, &IssuedCertificate::platform},
    {"measurement", &CertSelector::measurement, &IssuedCertificate::measurement},
    {"signer", &CertSelector::signer, &IssuedCertificate::signer},
    {"chip_id", &CertSelector::chip_id, &IssuedCertificate::chip_id},
    {"ppid", &CertSelector::ppid, &IssuedCertificate::ppid},
    {"fmspc", &CertSelector::fmspc, &IssuedCertificate::fmspc},
    {"tcb_status", &CertSelector::tcb_status, &IssuedCertificate::tcb_status},
    {"keep_identity", &CertSelector::keep_identity, &IssuedCertificate::keep_identity},
};

}  // namespace

void check_selector(const CertSelector& selector, bool for_revocation) {
  if (selector.serial) check_serial(*selector.serial);
  for (const auto& f : kSelectorFields)
    if (f.in_selector != &CertSelector::serial && selector.*f.in_selector)
      check_text("a selector field", *(selector.*f.in_selector));
  if (!for_revocation) return;
  require(!selector.empty(), ErrorKind::kInvalidInput, "steward.index.empty_selector",
          "refusing to revoke with an empty selector (it would match every certificate)");
  for (const auto& f : kSelectorFields) {
    const auto& value = selector.*f.in_selector;
    require(!value || !value->empty(), ErrorKind::kInvalidInput, "steward.index.empty_selector",
            std::string("refusing to revoke with selector field ") + f.column + " set to \"\"");
  }
}

bool selector_matches(const CertSelector& selector, const IssuedCertificate& cert) {
  return std::ranges::all_of(kSelectorFields, [&](const SelectorField& f) {
    const auto& value = selector.*f.in_selector;
    return !value || *value == cert.*f.in_certificate;
  });
}

std::string selector_to_json(const CertSelector& selector) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kSelectorFields)
    if (const auto& value = selector.*f.in_selector) j[f.column] = *value;
  return j.dump();
}

CertSelector selector_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) corrupt("a stored selector is not a JSON object");
  CertSelector selector;
  for (const auto& [key, value] : j.items()) {
    const auto* f = std::ranges::find_if(kSelectorFields, [&](const SelectorField& f) { return key == f.column; });
    if (f == std::end(kSelectorFields) || !value.is_string()) corrupt("a stored selector has field " + key);
    selector.*f->in_selector = value.get<std::string>();
  }
  if (selector.empty()) corrupt("a stored selector is empty");
  return selector;
}

std::vector<RevocationRecord> revocations_in_flight(std::span<const IssuedCertificate* const> rows,
                                                    std::span<const SelectorRevocation> made) {
  std::vector<RevocationRecord> out;
  for (const IssuedCertificate* row : rows) {
    // The earliest revocation that covers the row stands, as revoke() keeps the first record.
    for (const auto& s : made) {
      if (s.how.revoked_at < row->issued_at || !selector_matches(s.selector, *row)) continue;
      RevocationRecord r = s.how;
      r.serial = row->serial;
      out.push_back(std::move(r));
      break;
    }
  }
  return out;
}

nlohmann::json revocation_in_flight_audit(const RevocationRecord& r) {
  auto record = revocation_audit_record(r);
  record["during_issuance"] = true;
  return record;
}

void check_crl(const CrlRecord& crl) {
  const auto max = static_cast<std::uint64_t>(kInt64Max);
  require(crl.number <= max && crl.revocation_epoch <= max, ErrorKind::kInvalidInput,
          "steward.index.bad_crl", "CRL number and revocation epoch must be below 2^63");
}

std::int64_t to_ns(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint from_ns(std::int64_t ns) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

std::string strings_to_json(const std::vector<std::string>& values) {
  return nlohmann::json(values).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> strings_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) corrupt("a string list column is not a JSON array");
  std::vector<std::string> out;
  out.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_string()) corrupt("a string list column holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string audit_to_text(const nlohmann::json& record) {
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json audit_from_text(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) corrupt("an audit record is not JSON");
  return j;
}

void corrupt(const std::string& what) {
  throw Error(ErrorKind::kInternal, "steward.index.corrupt", "certificate index: " + what);
}

std::string Query::bind(Param p) {
  params.push_back(std::move(p));
  return (dollar ? "$" : "?") + std::to_string(params.size());
}

void append_selector(Query& q, const CertSelector& selector, std::string_view alias) {
  for (const auto& f : kSelectorFields) {
    const auto& value = selector.*f.in_selector;
    if (!value) continue;
    const std::string column = f.column;
    const std::string qualified = std::string(alias) + '.' + column;
    q.sql += " AND " + qualified + " = " + q.bind(*value);
    const bool sparse = std::ranges::any_of(kSparseSelectorColumns, [&](std::string_view c) { return c == column; });
    if (sparse && !value->empty()) q.sql += " AND " + qualified + " <> ''";
  }
}

}  // namespace index_detail

nlohmann::json revocation_audit_record(const RevocationRecord& r) {
  return {{"decision", "revoked"},
          {"serial", r.serial},
          {"reason", std::string(revocation::reason_name(r.reason))},
          {"detail", r.detail},
          {"by", r.revoked_by}};
}

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<CertIndex> open_cert_index(const std::string& location) {
  if (starts_with_ci(location, "postgresql://") || starts_with_ci(location, "postgres://"))
    return open_pg_cert_index(location);
  return open_sqlite_cert_index(location);
}

}  // namespace enarx::steward
