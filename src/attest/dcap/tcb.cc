#include "attest/dcap/tcb.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace enarx::attest::dcap {
namespace {

void add_unique(std::vector<std::string>& out, const std::vector<std::string>& in) {
  for (const auto& a : in) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
}

bool masked_equal(ByteView a, ByteView b, ByteView mask) {
  if (a.size() != b.size() || a.size() != mask.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] & mask[i]) != (b[i] & mask[i])) return false;
  }
  return true;
}

void remerge(TcbEvaluation& e) {
  e.status = e.platform_status;
  if (e.qe_status) e.status = merge_status(e.status, *e.qe_status);
  if (e.tdx_module_status) e.status = merge_status(e.status, *e.tdx_module_status);
  e.advisory_ids.clear();
  add_unique(e.advisory_ids, e.platform_advisory_ids);
  add_unique(e.advisory_ids, e.qe_advisory_ids);
  add_unique(e.advisory_ids, e.tdx_module_advisory_ids);
}

}  // namespace

std::string merge_status(const std::string& platform, const std::string& other) {
  if (platform == "Revoked" || other == "Revoked") return "Revoked";
  if (other == "OutOfDate") {
    if (platform == "UpToDate" || platform == "SWHardeningNeeded") return "OutOfDate";
    if (platform == "ConfigurationNeeded" || platform == "ConfigurationAndSWHardeningNeeded") {
      return "OutOfDateConfigurationNeeded";
    }
  }
  return platform;
}

TcbEvaluation evaluate_platform_tcb(const TcbInfo& info, const PckExtension& pck,
                                    const std::optional<TdReportBody>& td) {
  TcbEvaluation e;
  const bool tdx = td.has_value();
  // With a TDX module identity (TEE_TCB_SVN[1] = module major version > 0), bytes 0 and 1 of
  // TEE_TCB_SVN are the module's SVN and version and are judged by the module identity instead.
  std::size_t tdx_first = 0;
  std::optional<const TdxModuleIdentity*> module_identity;
  if (tdx) {
    const auto& svn = td->tee_tcb_svn;
    if (svn.at(1) > 0 && !info.tdx_module_identities.empty()) {
      tdx_first = 2;
      static const char* const kHex = "0123456789ABCDEF";
      const std::string id = std::string("TDX_") + kHex[svn[1] >> 4] + kHex[svn[1] & 0xf];
      auto it = std::find_if(info.tdx_module_identities.begin(), info.tdx_module_identities.end(),
                             [&](const TdxModuleIdentity& m) { return m.id == id; });
      require(it != info.tdx_module_identities.end(), ErrorKind::kUntrusted, "dcap.tcb.tdx_module_unknown",
              std::string("TCB info has no TDX module identity ") + id);
      module_identity = &*it;
    }
  }
  const TcbLevel* match = nullptr;
  for (const auto& level : info.levels) {
    bool ok = level.pcesvn <= pck.pcesvn;
    for (std::size_t i = 0; ok && i < 16; ++i) ok = pck.tcb_components[i] >= level.sgx_components[i];
    if (ok && tdx) {
      if (!level.tdx_components) continue;
      for (std::size_t i = tdx_first; ok && i < 16; ++i) {
        ok = td->tee_tcb_svn[i] >= (*level.tdx_components)[i];
      }
    }
    if (ok) {
      match = &level;
      break;
    }
  }
  if (!match) {
    throw Error(ErrorKind::kUntrusted, "dcap.tcb.not_supported",
                "no TCB level of the " + info.id + " TCB info (FMSPC " + to_hex(info.fmspc) +
                    ") matches the platform: PCK SVNs " + to_hex(pck.tcb_components) +
                    " PCESVN " + std::to_string(pck.pcesvn) +
                    (tdx ? " TEE_TCB_SVN " + to_hex(td->tee_tcb_svn) : std::string()));
  }
  e.platform_status = match->status;
  e.tcb_date = match->tcb_date;
  e.platform_advisory_ids = match->advisory_ids;

  if (tdx && (info.tdx_module || module_identity)) {
    const TdxModule& m = module_identity ? (*module_identity)->module : *info.tdx_module;
    require(td->mrsignerseam == m.mrsigner, ErrorKind::kUntrusted, "dcap.tcb.tdx_module_mismatch",
            "MRSIGNERSEAM " + to_hex(td->mrsignerseam) + " is not the TDX module signer " +
                to_hex(m.mrsigner));
    require(masked_equal(td->seam_attributes, m.attributes, m.attributes_mask), ErrorKind::kUntrusted,
            "dcap.tcb.tdx_module_mismatch",
            "SEAM attributes " + to_hex(td->seam_attributes) + " do not match the TDX module's");
  }
  if (module_identity) {
    const auto* mi = *module_identity;
    const std::uint8_t isvsvn = td->tee_tcb_svn[0];
    auto it = std::find_if(mi->levels.begin(), mi->levels.end(),
                           [&](const EnclaveTcbLevel& l) { return l.isvsvn <= isvsvn; });
    require(it != mi->levels.end(), ErrorKind::kUntrusted, "dcap.tcb.tdx_module_not_supported",
            "no " + mi->id + " TCB level for module SVN " + std::to_string(isvsvn));
    e.tdx_module_id = mi->id;
    e.tdx_module_status = it->status;
    e.tdx_module_advisory_ids = it->advisory_ids;
  }
  remerge(e);
  return e;
}

void evaluate_qe_identity(const EnclaveIdentity& id, const SgxReportBody& qe, TcbEvaluation& e) {
  require(qe.mrsigner == id.mrsigner, ErrorKind::kUntrusted, "dcap.qe_identity.mismatch",
          "QE MRSIGNER " + to_hex(qe.mrsigner) + " is not " + id.id + "'s " + to_hex(id.mrsigner));
  require(qe.isv_prod_id == id.isvprodid, ErrorKind::kUntrusted, "dcap.qe_identity.mismatch",
          "QE ISVPRODID " + std::to_string(qe.isv_prod_id) + " is not " + std::to_string(id.isvprodid));
  require((qe.misc_select & id.miscselect_mask) == (id.miscselect & id.miscselect_mask), ErrorKind::kUntrusted,
          "dcap.qe_identity.mismatch", "QE MISCSELECT does not match the identity under its mask");
  require(masked_equal(qe.attributes, id.attributes, id.attributes_mask), ErrorKind::kUntrusted, "dcap.qe_identity.mismatch",
          "QE ATTRIBUTES " + to_hex(qe.attributes) + " do not match the identity under its mask");
  auto it = std::find_if(id.levels.begin(), id.levels.end(),
                         [&](const EnclaveTcbLevel& l) { return l.isvsvn <= qe.isv_svn; });
  require(it != id.levels.end(), ErrorKind::kUntrusted, "dcap.qe_identity.tcb_not_supported",
          "no " + id.id + " TCB level for QE ISVSVN " + std::to_string(qe.isv_svn));
  e.qe_status = it->status;
  e.qe_isvsvn_level = it->isvsvn;
  e.qe_advisory_ids = it->advisory_ids;
  remerge(e);
}

}  // namespace enarx::attest::dcap
