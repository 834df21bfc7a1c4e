#include "steward/admin.h"

#include <iostream>

#include "core/error.h"
#include "core/log.h"
#include "revocation/reason.h"
#include "steward/reevaluate.h"
#include "steward/service.h"

namespace enarx::steward {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2, kNothingMatched = 3;

int failed(const Error& e) {
  std::cerr << "steward: " << e.describe() << "\n";
  return e.kind() == ErrorKind::kInvalidInput ? kUsage : kFailed;
}

bool only_serial(CertSelector s) {
  if (!s.serial) return false;
  s.serial.reset();
  return s.empty();
}

nlohmann::json row_json(const IssuedCertificate& c, const std::optional<RevocationRecord>& r) {
  nlohmann::json j = {{"serial", c.serial},
                      {"issued_at", format_rfc3339(c.issued_at)},
                      {"not_after", format_rfc3339(c.not_after)},
                      {"platform", c.platform},
                      {"measurement", c.measurement},
                      {"signer", c.signer},
                      {"tcb_status", c.tcb_status},
                      {"tcb_level", c.tcb_level},
                      {"chip_id", c.chip_id},
                      {"ppid", c.ppid},
                      {"fmspc", c.fmspc},
                      {"keep_identity", c.keep_identity},
                      {"insecure", c.insecure},
                      {"sans", c.sans},
                      {"issued_by", c.issued_by}};
  if (r)
    j["revoked"] = {{"at", format_rfc3339(r->revoked_at)},
                    {"reason", std::string(revocation::reason_name(r->reason))},
                    {"detail", r->detail},
                    {"by", r->revoked_by}};
  return j;
}

}  // namespace

int run_revoke(const config::Config& cfg, const RevokeCommand& cmd, std::ostream& out) {
  try {
    const auto reason = revocation::parse_reason(cmd.reason);
    if (!reason) {
      std::cerr << "steward: unknown --reason '" << cmd.reason
                << "' (unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                   "cessationOfOperation, privilegeWithdrawn, aACompromise)\n";
      return kUsage;
    }
    if (cmd.selector.empty()) {
      std::cerr << "steward: revoke needs --serial or at least one selector "
                   "(--platform, --measurement, --signer, --chip-id, --ppid, --fmspc, "
                   "--tcb-status, --keep-identity)\n";
      return kUsage;
    }
    auto index = open_cert_index(index_location(cfg));
    const auto now = system_clock()->now();
    RevocationRecord how;
    how.revoked_at = now;
    how.reason = *reason;
    how.detail = cmd.detail;
    how.revoked_by = "cli";
    std::vector<std::string> serials;
    if (cmd.dry_run) {
      for (const auto& c : index->list(cmd.selector, now, false, 10000)) serials.push_back(c.serial);
    } else if (only_serial(cmd.selector)) {
      // By serial: also an expired or already revoked certificate (revoke keeps the first record).
      how.serial = serial_key(serial_bytes(*cmd.selector.serial));
      if (index->revoke(how)) serials.push_back(how.serial);
    } else {
      serials = index->revoke_matching(cmd.selector, how, now);
    }
    // The index wrote each revocation's audit record in the revocation's own transaction.
    for (const auto& s : serials)
      out << (cmd.dry_run ? "would revoke " : "revoked ") << s << " (" << revocation::reason_name(*reason) << ")\n";
    if (serials.empty()) {
      std::cerr << "steward: no certificate matched\n";
      return kNothingMatched;
    }
    if (!cmd.dry_run)
      out << serials.size() << " certificate(s) revoked; serving stewards publish the new CRL "
                               "within a second, OCSP answers change at once\n";
    return kOk;
  } catch (const Error& e) {
    return failed(e);
  }
}

int run_list(const config::Config& cfg, const ListCommand& cmd, std::ostream& out) {
  try {
    auto index = open_cert_index(index_location(cfg));
    const auto now = system_clock()->now();
    std::vector<IssuedCertificate> rows;
    if (cmd.selector.serial) {
      if (auto c = index->find(serial_key(serial_bytes(*cmd.selector.serial)))) rows.push_back(*c);
    } else {
      rows = index->list(cmd.selector, now, cmd.include_revoked, cmd.limit);
    }
    nlohmann::json all = nlohmann::json::array();
    for (const auto& c : rows) {
      const auto r = index->revocation(c.serial);
      if (cmd.json) {
        all.push_back(row_json(c, r));
      } else {
        out << c.serial << "  " << c.platform << "  not after " << format_rfc3339(c.not_after)
            << "  " << (r ? "REVOKED (" + std::string(revocation::reason_name(r->reason)) + ")" : "valid")
            << (c.measurement.empty() ? "" : "  measurement " + c.measurement)
            << (c.insecure ? "  INSECURE" : "") << "\n";
      }
    }
    if (cmd.json) out << all.dump(2) << "\n";
    return rows.empty() ? kNothingMatched : kOk;
  } catch (const Error& e) {
    return failed(e);
  }
}

int run_reevaluate(const config::Config& cfg, const std::optional<std::filesystem::path>& config_file,
                   const ReevaluateCommand& cmd, std::ostream& out) {
  try {
    const Policy policy = load_policy(cfg, config_file);
    auto index = open_cert_index(index_location(cfg));
    ReevaluationOptions o;
    o.dry_run = cmd.dry_run;
    o.trigger = "manual";
    const auto report = reevaluate(nullptr, *index, policy, system_clock()->now(), o);
    if (cmd.json) {
      out << report.to_json().dump(2) << "\n";
    } else {
      for (const auto& i : report.items)
        out << (i.verdict == Verdict::kRevoke ? (cmd.dry_run ? "would revoke " : "revoked ") : "undecidable ")
            << i.serial << " " << i.platform
            << (i.verdict == Verdict::kRevoke ? " (" + std::string(revocation::reason_name(i.reason)) + ")" : "")
            << ": " << i.code << ": " << i.detail << "\n";
      out << report.examined << " examined, " << report.still_valid << " still valid, "
          << report.revoked << (cmd.dry_run ? " would be revoked, " : " revoked, ")
          << report.undecidable << " undecidable\n";
    }
    return kOk;
  } catch (const Error& e) {
    return failed(e);
  }
}

}  // namespace enarx::steward
