// TCB evaluation: match the platform's TCB (from the PCK certificate, and for TDX the quote's
// TEE_TCB_SVN) against TCB info levels, the QE against its identity, and merge the statuses the
// way Intel's QVL does. Pure functions over parsed data (no cryptography).
//
// Errors: dcap.tcb.not_supported (no TCB level matches: Intel STATUS_TCB_NOT_SUPPORTED),
// dcap.tcb.tdx_module_mismatch, dcap.tcb.tdx_module_unknown, dcap.tcb.tdx_module_not_supported,
// dcap.qe_identity.mismatch, dcap.qe_identity.tcb_not_supported.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/quote.h"

namespace enarx::attest::dcap {

struct TcbEvaluation {
  std::string status;           // merged (platform + QE + TDX module)
  std::string platform_status;  // the matched TCB level's status
  std::string tcb_date;         // the matched level's tcbDate
  std::vector<std::string> platform_advisory_ids;
  std::optional<std::string> qe_status;  // absent without QE identity
  std::optional<std::uint16_t> qe_isvsvn_level;
  std::vector<std::string> qe_advisory_ids;
  // TDX module identity (TEE_TCB_SVN[1] > 0 and the TCB info lists identities).
  std::optional<std::string> tdx_module_id;  // "TDX_01"
  std::optional<std::string> tdx_module_status;
  std::vector<std::string> tdx_module_advisory_ids;
  std::vector<std::string> advisory_ids;  // union, in order of first appearance
};

// Platform level for an SGX quote (PCK SVNs) or a TDX quote (plus TEE_TCB_SVN and module).
TcbEvaluation evaluate_platform_tcb(const TcbInfo& info, const PckExtension& pck,
                                    const std::optional<TdReportBody>& td);
// QE identity match (MRSIGNER, ISVPRODID, masked MISCSELECT / ATTRIBUTES) and QE TCB level;
// fills the qe_* fields and re-merges `eval`.
void evaluate_qe_identity(const EnclaveIdentity& identity, const SgxReportBody& qe_report,
                          TcbEvaluation& eval);

// Intel QVL's status convergence.
std::string merge_status(const std::string& platform, const std::string& other);

}  // namespace enarx::attest::dcap
