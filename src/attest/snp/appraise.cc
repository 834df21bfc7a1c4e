#include "attest/snp/appraise.h"

#include "attest/enarx/binding.h"

#include <algorithm>

#include "core/crypto.h"

namespace enarx::attest::snp {
namespace {

using nlohmann::json;

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) {
  return to_hex(ByteView(a.data(), a.size()));
}

template <std::size_t N>
bool is_zero(const std::array<std::uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; });
}

template <std::size_t N>
bool in(const std::vector<Bytes>& set, const std::array<std::uint8_t, N>& v) {
  return std::any_of(set.begin(), set.end(), [&](const Bytes& b) {
    return b.size() == N && std::equal(b.begin(), b.end(), v.begin());
  });
}

json tcb_json(const TcbVersion& t) {
  json j = {{"raw", t.raw},
            {"bootloader", t.bootloader},
            {"tee", t.tee},
            {"snp", t.snp},
            {"microcode", t.microcode}};
  if (t.fmc) j["fmc"] = *t.fmc;
  return j;
}

bool meets(const TcbVersion& t, const MinTcb& m) {
  return (!m.bootloader || t.bootloader >= *m.bootloader) && (!m.tee || t.tee >= *m.tee) &&
         (!m.snp || t.snp >= *m.snp) && (!m.microcode || t.microcode >= *m.microcode) &&
         (!m.fmc || (t.fmc && *t.fmc >= *m.fmc));
}

std::string fw_string(const FirmwareVersion& f) {
  return std::to_string(f.major) + "." + std::to_string(f.minor) + "." + std::to_string(f.build);
}

}  // namespace

nlohmann::json claims(const Verified& v, const Policy* policy) {
  const Report& r = v.report;
  json tcb_status = nullptr;
  if (policy && policy->min_tcb.any()) {
    tcb_status = meets(v.reported_tcb, policy->min_tcb) ? "UpToDate" : "OutOfDate";
  }

  json collateral = {
      {"signing_cert_sha256", to_hex(v.vcek.fingerprint_sha256())},
      {"signing_cert_not_after", format_rfc3339(v.vcek.not_after())},
      {"issuer_sha256", to_hex(v.ask.fingerprint_sha256())},
      {"ark_sha256", to_hex(v.ark.fingerprint_sha256())},
      {"crls", json::array()},
  };
  for (const auto& c : v.crls) {
    json cj = {{"issuer", c.issuer},
               {"number", c.number ? json(*c.number) : json(nullptr)},
               {"this_update", format_rfc3339(c.this_update)},
               {"next_update", c.next_update ? json(format_rfc3339(*c.next_update)) : json(nullptr)},
               {"sha256", to_hex(c.sha256)}};
    collateral["crls"].push_back(cj);
  }

  json policy_j = {{"raw", r.policy.raw},
                   {"abi_major", r.policy.abi_major},
                   {"abi_minor", r.policy.abi_minor},
                   {"smt", r.policy.smt},
                   {"migrate_ma", r.policy.migrate_ma},
                   {"debug", r.policy.debug},
                   {"single_socket", r.policy.single_socket},
                   {"cxl_allow", r.policy.cxl_allow},
                   {"mem_aes_256_xts", r.policy.mem_aes_256_xts},
                   {"rapl_dis", r.policy.rapl_dis},
                   {"ciphertext_hiding", r.policy.ciphertext_hiding},
                   {"page_swap_disable", r.policy.page_swap_disable}};
  json platform_j = {{"raw", r.platform_info.raw},
                     {"smt_en", r.platform_info.smt_en},
                     {"tsme_en", r.platform_info.tsme_en},
                     {"ecc_en", r.platform_info.ecc_en},
                     {"rapl_dis", r.platform_info.rapl_dis},
                     {"ciphertext_hiding_en", r.platform_info.ciphertext_hiding_en},
                     {"alias_check_complete", r.platform_info.alias_check_complete},
                     {"tio_en", r.platform_info.tio_en}};
  json snp = {
      {"version", r.version},
      {"guest_svn", r.guest_svn},
      {"policy", policy_j},
      {"vmpl", r.vmpl},
      {"tcb",
       {{"reported", tcb_json(v.reported_tcb)},
        {"current", tcb_json(v.current_tcb)},
        {"committed", tcb_json(v.committed_tcb)},
        {"launch", tcb_json(v.launch_tcb)}}},
      {"firmware", {{"current", fw_string(r.current_fw)}, {"committed", fw_string(r.committed_fw)}}},
      {"platform_info", platform_j},
      {"chip_id", hex(r.chip_id)},
      {"chip_id_masked", v.chip_id_masked},
      {"report_id", hex(r.report_id)},
      {"report_id_ma", hex(r.report_id_ma)},
      {"id_key_digest", hex(r.id_key_digest)},
      {"author_key_digest", r.author_key_en ? json(hex(r.author_key_digest)) : json(nullptr)},
      {"author_key_en", r.author_key_en},
      {"host_data", hex(r.host_data)},
      {"family_id", hex(r.family_id)},
      {"image_id", hex(r.image_id)},
      {"signing_key", to_string(v.signing_key)},
      {"product", to_string(v.product)},
      {"product_name", v.vcek_info.product_name},
  };
  if (r.cpuid) {
    snp["cpuid"] = {{"family", r.cpuid->family},
                    {"model", r.cpuid->model},
                    {"stepping", r.cpuid->stepping}};
  }
  if (r.launch_mit_vector) snp["launch_mit_vector"] = *r.launch_mit_vector;
  if (r.current_mit_vector) snp["current_mit_vector"] = *r.current_mit_vector;
  if (v.vcek_info.csp_id) snp["csp_id"] = *v.vcek_info.csp_id;

  return json{
      {"platform", "snp"},
      {"simulated", v.simulated},
      {"measurement", hex(r.measurement)},
      {"signer", r.author_key_en ? json(hex(r.author_key_digest)) : json(nullptr)},
      {"debug", r.policy.debug},
      {"tcb_status", tcb_status},
      {"report_data", hex(r.report_data)},
      {"verified_at", format_rfc3339(v.verified_at)},
      {"collateral", collateral},
      {"snp", snp},
  };
}

Appraisal appraise(const Verified& v, const Policy& p, const std::optional<Bytes>& spki) {
  Appraisal a;
  a.claims = claims(v, &p);
  const Report& r = v.report;
  auto fail = [&a](std::string code, std::string message) {
    a.failures.push_back(Failure{std::move(code), std::move(message)});
  };

  if (v.simulated && !p.allow_simulated) {
    fail("policy.simulated_not_allowed",
         "the evidence chains to a simulated AMD root and the policy does not allow_simulated");
  }
  if (r.policy.debug && !p.allow_debug) {
    fail("snp.policy.debug_not_allowed", "the guest policy allows debugging (POLICY.DEBUG = 1)");
  }
  if (r.policy.migrate_ma && !p.allow_migration_agent) {
    fail("snp.policy.migration_agent_not_allowed",
         "the guest policy allows a migration agent (POLICY.MIGRATE_MA = 1)");
  }
  if (p.require_single_socket && !r.policy.single_socket) {
    fail("snp.policy.single_socket_required", "POLICY.SINGLE_SOCKET is not set");
  }
  if (!p.allow_smt && r.platform_info.smt_en) {
    fail("snp.policy.smt_not_allowed", "the platform runs with SMT enabled (PLATFORM_INFO.SMT_EN)");
  }
  if (p.policy_flags) {
    for (const char* name : {"SMT", "MigrateMA", "Debug", "SingleSocket"}) {
      const int b = guest_policy_bit(name);
      const bool set = (r.policy.raw >> b) & 1u;
      const bool allowed = std::any_of(p.policy_flags->begin(), p.policy_flags->end(),
                                       [b](const std::string& f) { return guest_policy_bit(f) == b; });
      if (set && !allowed) {
        fail("snp.policy.policy_flags",
             std::string("guest policy flag ") + name + " is set but not in policy_flags");
      }
    }
  }
  if (r.vmpl > p.max_vmpl) {
    fail("snp.policy.vmpl", "VMPL " + std::to_string(r.vmpl) + " is above max_vmpl " +
                                std::to_string(p.max_vmpl));
  }
  if (v.signing_key == SigningKey::Vlek && !p.allow_vlek) {
    fail("snp.policy.vlek_not_allowed", "the report is signed by a VLEK and allow_vlek = false");
  }

  const TcbVersion& t = v.reported_tcb;
  auto check_tcb = [&](const char* name, std::optional<unsigned> min, std::optional<unsigned> have) {
    if (!min) return;
    if (!have || *have < *min) {
      fail("snp.policy.tcb_too_old",
           std::string("REPORTED_TCB ") + name + " " + (have ? std::to_string(*have) : "absent") +
               " is below the minimum " + std::to_string(*min));
    }
  };
  check_tcb("bootloader", p.min_tcb.bootloader, t.bootloader);
  check_tcb("tee", p.min_tcb.tee, t.tee);
  check_tcb("snp", p.min_tcb.snp, t.snp);
  check_tcb("microcode", p.min_tcb.microcode, t.microcode);
  check_tcb("fmc", p.min_tcb.fmc,
            t.fmc ? std::optional<unsigned>(*t.fmc) : std::optional<unsigned>());

  const unsigned maj = r.policy.abi_major, min = r.policy.abi_minor;
  const std::string abi = std::to_string(maj) + "." + std::to_string(min);
  if (p.min_abi_major || p.min_abi_minor) {
    const unsigned want_maj = p.min_abi_major.value_or(0), want_min = p.min_abi_minor.value_or(0);
    // Compared as a version (the minor only matters when the majors are equal).
    if (maj < want_maj || (maj == want_maj && min < want_min)) {
      fail("snp.policy.abi_too_old", "guest policy ABI " + abi + " is below the minimum " +
                                         std::to_string(want_maj) + "." + std::to_string(want_min));
    }
  }
  if (p.abi && !p.abi->matches(maj, min, 0)) {
    fail("snp.policy.abi_mismatch",
         "guest policy ABI " + abi + ".0 does not match \"" + p.abi->text() + "\"");
  }
  if (p.min_guest_svn && r.guest_svn < *p.min_guest_svn) {
    fail("snp.policy.guest_svn_too_old", "GUEST_SVN " + std::to_string(r.guest_svn) +
                                             " is below " + std::to_string(*p.min_guest_svn));
  }
  if (!p.hash.empty() && !in(p.hash, r.measurement)) {
    fail("snp.policy.measurement_not_allowed",
         "MEASUREMENT " + hex(r.measurement) + " is not in the allowed list");
  }
  if (in(p.hash_blacklist, r.measurement)) {
    fail("snp.policy.measurement_denied", "MEASUREMENT " + hex(r.measurement) + " is denied");
  }
  if (!p.id_key_digest.empty() && !in(p.id_key_digest, r.id_key_digest)) {
    fail("snp.policy.id_key_not_allowed",
         "ID_KEY_DIGEST " + hex(r.id_key_digest) + " is not in the allowed list");
  }
  if (in(p.id_key_digest_blacklist, r.id_key_digest)) {
    fail("snp.policy.id_key_denied", "ID_KEY_DIGEST " + hex(r.id_key_digest) + " is denied");
  }
  if (!p.signer.empty()) {
    if (!r.author_key_en) {
      fail("snp.policy.signer_not_allowed",
           "the policy names signers but the report has no author key (AUTHOR_KEY_EN = 0)");
    } else if (!in(p.signer, r.author_key_digest)) {
      fail("snp.policy.signer_not_allowed",
           "AUTHOR_KEY_DIGEST " + hex(r.author_key_digest) + " is not an allowed signer");
    }
  }
  if (!p.family_id.empty() && !in(p.family_id, r.family_id)) {
    fail("snp.policy.family_id_mismatch", "FAMILY_ID " + hex(r.family_id) + " is not allowed");
  }
  if (!p.image_id.empty() && !in(p.image_id, r.image_id)) {
    fail("snp.policy.image_id_mismatch", "IMAGE_ID " + hex(r.image_id) + " is not allowed");
  }
  if (!p.host_data.empty() && !in(p.host_data, r.host_data)) {
    fail("snp.policy.host_data_mismatch", "HOST_DATA " + hex(r.host_data) + " is not allowed");
  }
  if (p.platform_info_flags && (r.platform_info.raw & 0xff) != *p.platform_info_flags) {
    fail("snp.policy.platform_info_flags",
         "PLATFORM_INFO byte 0 is " + std::to_string(r.platform_info.raw & 0xff) +
             ", the policy requires " + std::to_string(*p.platform_info_flags));
  }
  // An unknown name (only possible in a Policy built in code) can never be satisfied.
  auto pi_set = [&](const std::string& f) {
    const int b = platform_info_bit(f);
    return b >= 0 && ((r.platform_info.raw >> b) & 1u);
  };
  for (const auto& f : p.require_platform_info) {
    if (!pi_set(f)) {
      fail("snp.policy.platform_info_required", "PLATFORM_INFO flag " + f + " is not set");
    }
  }
  for (const auto& f : p.deny_platform_info) {
    if (pi_set(f) || platform_info_bit(f) < 0) {
      fail("snp.policy.platform_info_denied", "PLATFORM_INFO flag " + f + " is set or unknown");
    }
  }
  if (spki) {
    if (!report_data_binds(Platform::Snp, r.report_data, *spki)) {
      fail("snp.policy.report_data_mismatch",
           "REPORT_DATA is not SHA-384(key SPKI) followed by 16 zero bytes");
    }
  }
  return a;
}

}  // namespace enarx::attest::snp
