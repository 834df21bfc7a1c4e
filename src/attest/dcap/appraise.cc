#include "attest/dcap/appraise.h"

#include "attest/enarx/binding.h"

#include <algorithm>

#include "core/crypto.h"

namespace enarx::attest::dcap {
namespace {

using nlohmann::json;

json advisories_json(const std::vector<std::string>& ids) {
  json a = json::array();
  for (const auto& id : ids) a.push_back(id);
  return a;
}

json collateral_json(const VerifiedQuote& v) {
  json c;
  c["tcb_info_sha256"] = v.tcb_info ? json(to_hex(v.tcb_info->body_sha256)) : json(nullptr);
  c["tcb_info_issue_date"] = v.tcb_info ? json(v.tcb_info->value.issue_date) : json(nullptr);
  c["tcb_info_next_update"] = v.tcb_info ? json(v.tcb_info->value.next_update) : json(nullptr);
  c["tcb_info_version"] = v.tcb_info ? json(v.tcb_info->value.version) : json(nullptr);
  c["tcb_evaluation_data_number"] =
      v.tcb_info ? json(v.tcb_info->value.tcb_evaluation_data_number) : json(nullptr);
  c["qe_identity_checked"] = v.qe_identity.has_value();
  c["qe_identity_sha256"] = v.qe_identity ? json(to_hex(v.qe_identity->body_sha256)) : json(nullptr);
  c["qe_identity_issue_date"] = v.qe_identity ? json(v.qe_identity->value.issue_date) : json(nullptr);
  c["qe_identity_next_update"] =
      v.qe_identity ? json(v.qe_identity->value.next_update) : json(nullptr);
  c["qe_identity_tcb_evaluation_data_number"] =
      v.qe_identity ? json(v.qe_identity->value.tcb_evaluation_data_number) : json(nullptr);
  json chain = json::array();
  for (const auto& cert : v.pck_chain) chain.push_back(to_hex(cert.fingerprint_sha256()));
  c["pck_chain_sha256"] = chain;
  c["pck_ca"] = v.pck_chain.size() >= 2 ? json(v.pck_chain[1].subject_common_name()) : json(nullptr);
  json crls = json::array();
  for (const auto& u : v.crls) {
    crls.push_back({{"issuer", u.issuer},
                    {"number", u.number ? json(*u.number) : json(nullptr)},
                    {"sha256", to_hex(u.sha256)}});
  }
  c["crls"] = crls;
  return c;
}

json pck_json(const VerifiedQuote& v, json& out) {
  out["fmspc"] = to_hex(v.pck.fmspc);
  // Already in the quote's PCK certificate (which the keep certificate carries verbatim); named
  // here so steward's index can select a platform's certificates by it.
  out["ppid"] = to_hex(v.pck.ppid);
  out["pce_id"] = to_hex(v.pck.pce_id);
  out["pce_svn"] = v.pck.pcesvn;
  out["pck_cpusvn"] = to_hex(v.pck.cpusvn);
  out["pck_tcb_components"] = std::vector<int>(v.pck.tcb_components.begin(), v.pck.tcb_components.end());
  out["sgx_type"] = sgx_type_name(v.pck.sgx_type);
  out["qe_svn"] = v.quote.qe_report.isv_svn;
  out["qe_tcb_status"] = v.tcb && v.tcb->qe_status ? json(*v.tcb->qe_status) : json(nullptr);
  out["platform_tcb_status"] = v.tcb ? json(v.tcb->platform_status) : json(nullptr);
  out["tcb_date"] = v.tcb ? json(v.tcb->tcb_date) : json(nullptr);
  return out;
}

bool contains(const std::vector<Bytes>& list, const Bytes& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void add(Appraisal& a, const std::string& code, const std::string& message) {
  a.failures.push_back({code, message});
}

// TCB status, advisories, simulation, debug and key binding: the parts SGX and TDX share.
void appraise_common(const VerifiedQuote& v, const CommonPolicy& p, const std::string& prefix,
                     bool debug, ByteView report_data, std::optional<ByteView> spki, Platform platform,
                     Appraisal& a) {
  if (v.simulated && !p.allow_simulated) {
    add(a, prefix + ".policy.simulated_not_allowed",
        "the quote chains to a simulated root and the policy does not allow simulated evidence");
  }
  if (debug && !p.allow_debug) {
    add(a, prefix + ".policy.debug_not_allowed",
        prefix == "sgx" ? "debug enclave not allowed" : "debug TD not allowed");
  }
  if (!v.tcb) {
    if (p.require_tcb_info) add(a, prefix + ".policy.tcb_unknown", "no TCB status was evaluated");
  } else {
    const std::string& status = v.tcb->status;
    if (p.allowed_tcb_statuses) {
      const auto& allowed = *p.allowed_tcb_statuses;
      if (std::find(allowed.begin(), allowed.end(), status) == allowed.end()) {
        add(a, prefix + ".policy.tcb_status_not_allowed",
            "TCB status " + status + " is not in allowed_tcb_statuses");
      }
    } else if (p.allowed_advisories) {
      if (status == "Revoked") add(a, prefix + ".policy.tcb_status_not_allowed", "TCB is revoked");
    } else if (status != "UpToDate") {
      add(a, prefix + ".policy.tcb_status_not_allowed",
          "TCB status " + status + " is not UpToDate (set allowed_tcb_statuses to accept it)");
    }
    if (p.allowed_advisories) {
      for (const auto& id : v.tcb->advisory_ids) {
        const auto& allowed = *p.allowed_advisories;
        if (std::find(allowed.begin(), allowed.end(), id) == allowed.end()) {
          add(a, prefix + ".policy.advisory_not_allowed", "advisory " + id + " is not allowed");
        }
      }
    }
  }
  if (spki) {
    if (!report_data_binds(platform, report_data, *spki)) {
      add(a, prefix + ".policy.report_data_mismatch",
          platform == Platform::Sgx
              ? "REPORTDATA is not SHA-256(CSR SubjectPublicKeyInfo) || 32 zero bytes"
              : "REPORTDATA is not SHA-384(CSR SubjectPublicKeyInfo) || 16 zero bytes");
    }
  }
}

}  // namespace

json claims(const VerifiedQuote& v) {
  json c;
  const auto& q = v.quote;
  c["platform"] = q.is_tdx() ? "tdx" : "sgx";
  c["simulated"] = v.simulated;
  c["quote_version"] = q.header.version;
  c["verified_at"] = format_rfc3339(v.verified_at);
  c["tcb_status"] = v.tcb ? json(v.tcb->status) : json(nullptr);
  c["advisory_ids"] = v.tcb ? advisories_json(v.tcb->advisory_ids) : json::array();
  c["collateral"] = collateral_json(v);
  if (q.sgx) {
    const auto& r = *q.sgx;
    c["measurement"] = to_hex(r.mrenclave);
    c["signer"] = to_hex(r.mrsigner);
    c["debug"] = r.debug();
    c["report_data"] = to_hex(r.report_data);
    json s;
    s["mrenclave"] = to_hex(r.mrenclave);
    s["mrsigner"] = to_hex(r.mrsigner);
    s["isv_prod_id"] = r.isv_prod_id;
    s["isv_svn"] = r.isv_svn;
    const auto f = r.flags();
    s["attributes"] = {{"flags", to_hex(ByteView(r.attributes).first(8))},
                       {"xfrm", to_hex(ByteView(r.attributes).last(8))},
                       {"init", (f & kSgxFlagInit) != 0},
                       {"debug", (f & kSgxFlagDebug) != 0},
                       {"mode64bit", (f & kSgxFlagMode64) != 0},
                       {"provision_key", (f & kSgxFlagProvisionKey) != 0},
                       {"einittoken_key", (f & kSgxFlagEinitTokenKey) != 0},
                       {"cet", (f & kSgxFlagCet) != 0},
                       {"kss", (f & kSgxFlagKss) != 0},
                       {"aex_notify", (f & kSgxFlagAexNotify) != 0}};
    s["misc_select"] = r.misc_select;
    s["config_id"] = to_hex(r.config_id);
    s["config_svn"] = r.config_svn;
    if (f & kSgxFlagKss) {
      s["isv_family_id"] = to_hex(r.isv_family_id);
      s["isv_ext_prod_id"] = to_hex(r.isv_ext_prod_id);
    }
    s["cpusvn"] = to_hex(r.cpusvn);
    pck_json(v, s);
    c["sgx"] = s;
  } else {
    const auto& r = *q.td;
    c["measurement"] = to_hex(r.mrtd);
    const bool zero_signer = std::all_of(r.mrsignerseam.begin(), r.mrsignerseam.end(),
                                         [](std::uint8_t b) { return b == 0; });
    // An all-zero MRSIGNERSEAM means "the Intel-signed TDX module": there is no signer to report.
    c["signer"] = zero_signer ? json(nullptr) : json(to_hex(r.mrsignerseam));
    c["debug"] = r.debug();
    c["report_data"] = to_hex(r.report_data);
    json t;
    t["mrtd"] = to_hex(r.mrtd);
    for (std::size_t i = 0; i < 4; ++i) t["rtmr" + std::to_string(i)] = to_hex(r.rtmr[i]);
    t["mrseam"] = to_hex(r.mrseam);
    t["mrsignerseam"] = to_hex(r.mrsignerseam);
    t["seam_attributes"] = to_hex(r.seam_attributes);
    const auto a = r.td_attributes_u64();
    t["td_attributes"] = {{"raw", to_hex(r.td_attributes)},
                          {"debug", (a & kTdAttrDebug) != 0},
                          {"sept_ve_disable", (a & kTdAttrSeptVeDisable) != 0},
                          {"pks", (a & kTdAttrPks) != 0},
                          {"kl", (a & kTdAttrKl) != 0},
                          {"perfmon", (a & kTdAttrPerfmon) != 0}};
    t["xfam"] = to_hex(r.xfam);
    t["mrconfigid"] = to_hex(r.mrconfigid);
    t["mrowner"] = to_hex(r.mrowner);
    t["mrownerconfig"] = to_hex(r.mrownerconfig);
    t["tee_tcb_svn"] = to_hex(r.tee_tcb_svn);
    t["tee_tcb_svn2"] = r.tee_tcb_svn2 ? json(to_hex(*r.tee_tcb_svn2)) : json(nullptr);
    t["mrservicetd"] = r.mrservicetd ? json(to_hex(*r.mrservicetd)) : json(nullptr);
    json module;
    module["major"] = r.tee_tcb_svn.at(1);
    module["isvsvn"] = r.tee_tcb_svn.at(0);
    module["id"] = v.tcb && v.tcb->tdx_module_id ? json(*v.tcb->tdx_module_id) : json(nullptr);
    module["status"] = v.tcb && v.tcb->tdx_module_status ? json(*v.tcb->tdx_module_status) : json(nullptr);
    t["tdx_module"] = module;
    pck_json(v, t);
    c["tdx"] = t;
  }
  return c;
}

Appraisal appraise(const VerifiedQuote& v, const SgxPolicy& p, std::optional<ByteView> spki) {
  Appraisal a;
  a.claims = claims(v);
  if (!v.quote.sgx) {
    add(a, "sgx.policy.wrong_platform", "the quote is not an SGX quote");
    return a;
  }
  const auto& r = *v.quote.sgx;
  appraise_common(v, p, "sgx", r.debug(), r.report_data, spki, Platform::Sgx, a);
  if (!p.signer.empty() && !contains(p.signer, r.mrsigner)) {
    add(a, "sgx.policy.signer_not_allowed", "MRSIGNER " + to_hex(r.mrsigner) + " is not allowed");
  }
  if (!p.hash.empty() && !contains(p.hash, r.mrenclave)) {
    add(a, "sgx.policy.measurement_not_allowed", "MRENCLAVE " + to_hex(r.mrenclave) + " is not allowed");
  }
  if (contains(p.hash_blacklist, r.mrenclave)) {
    add(a, "sgx.policy.measurement_blacklisted", "MRENCLAVE " + to_hex(r.mrenclave) + " is blacklisted");
  }
  if (p.enclave_product_id && r.isv_prod_id != *p.enclave_product_id) {
    add(a, "sgx.policy.product_id_mismatch",
        "ISVPRODID " + std::to_string(r.isv_prod_id) + " is not " + std::to_string(*p.enclave_product_id));
  }
  if (p.enclave_security_version && r.isv_svn < *p.enclave_security_version) {
    add(a, "sgx.policy.security_version_too_low",
        "ISVSVN " + std::to_string(r.isv_svn) + " < " + std::to_string(*p.enclave_security_version));
  }
  const std::uint64_t flags = r.flags();
  if (p.features) {
    // Debug is judged by allow_debug alone, so it is not a "feature" failure here.
    const std::uint64_t allowed = *p.features | kSgxFlagInit | kSgxFlagMode64 | kSgxFlagDebug;
    if (flags & ~allowed) {
      add(a, "sgx.policy.feature_not_allowed",
          "ATTRIBUTES.FLAGS 0x" + to_hex(ByteView(r.attributes).first(8)) +
              " has features outside the allowed set");
    }
  }
  if ((flags & p.required_features) != p.required_features) {
    add(a, "sgx.policy.feature_missing", "the enclave lacks a required feature");
  }
  if (p.misc_select && (r.misc_select & ~*p.misc_select)) {
    add(a, "sgx.policy.misc_select_not_allowed",
        "MISCSELECT " + std::to_string(r.misc_select) + " has bits outside the allowed set");
  }
  if (!p.isv_family_id.empty() && !contains(p.isv_family_id, r.isv_family_id)) {
    add(a, "sgx.policy.family_id_not_allowed", "ISVFAMILYID " + to_hex(r.isv_family_id) + " is not allowed");
  }
  if (!p.isv_ext_prod_id.empty() && !contains(p.isv_ext_prod_id, r.isv_ext_prod_id)) {
    add(a, "sgx.policy.ext_prod_id_not_allowed",
        "ISVEXTPRODID " + to_hex(r.isv_ext_prod_id) + " is not allowed");
  }
  if (!p.config_id.empty() && !contains(p.config_id, r.config_id)) {
    add(a, "sgx.policy.config_id_not_allowed", "CONFIGID " + to_hex(r.config_id) + " is not allowed");
  }
  if (p.min_config_svn && r.config_svn < *p.min_config_svn) {
    add(a, "sgx.policy.config_svn_too_low",
        "CONFIGSVN " + std::to_string(r.config_svn) + " < " + std::to_string(*p.min_config_svn));
  }
  return a;
}

Appraisal appraise(const VerifiedQuote& v, const TdxPolicy& p, std::optional<ByteView> spki) {
  Appraisal a;
  a.claims = claims(v);
  if (!v.quote.td) {
    add(a, "tdx.policy.wrong_platform", "the quote is not a TDX quote");
    return a;
  }
  const auto& r = *v.quote.td;
  appraise_common(v, p, "tdx", r.debug(), r.report_data, spki, Platform::Tdx, a);
  auto check = [&](const std::vector<Bytes>& allowed, const Bytes& value, const std::string& name) {
    if (!allowed.empty() && !contains(allowed, value)) {
      add(a, "tdx.policy." + name + "_not_allowed", name + " " + to_hex(value) + " is not allowed");
    }
  };
  check(p.mrtd, r.mrtd, "mrtd");
  for (std::size_t i = 0; i < 4; ++i) check(p.rtmr[i], r.rtmr[i], "rtmr" + std::to_string(i));
  check(p.mrseam, r.mrseam, "mrseam");
  check(p.mrsignerseam, r.mrsignerseam, "mrsignerseam");
  check(p.mrconfigid, r.mrconfigid, "mrconfigid");
  check(p.mrowner, r.mrowner, "mrowner");
  check(p.mrownerconfig, r.mrownerconfig, "mrownerconfig");
  if (p.min_tee_tcb_svn) {
    for (std::size_t i = 0; i < 16; ++i) {
      if (r.tee_tcb_svn[i] < (*p.min_tee_tcb_svn)[i]) {
        add(a, "tdx.policy.tee_tcb_svn_too_low",
            "TEE_TCB_SVN " + to_hex(r.tee_tcb_svn) + " is below " + to_hex(*p.min_tee_tcb_svn) +
                " at component " + std::to_string(i));
        break;
      }
    }
  }
  if (p.min_seam_svn && r.tee_tcb_svn[0] < *p.min_seam_svn) {
    add(a, "tdx.policy.seam_svn_too_low",
        "TDX module SVN " + std::to_string(r.tee_tcb_svn[0]) + " < " + std::to_string(*p.min_seam_svn));
  }
  if (p.td_attributes_mask) {
    const auto m = *p.td_attributes_mask;
    if ((r.td_attributes_u64() & m) != (p.td_attributes_value & m)) {
      add(a, "tdx.policy.td_attributes_mismatch",
          "TD attributes " + to_hex(r.td_attributes) + " do not match the policy under its mask");
    }
  }
  return a;
}

}  // namespace enarx::attest::dcap
