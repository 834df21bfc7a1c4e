// The simulated DCAP platform publishing other collateral (a TCB recovery, a later CRL, documents
// that expire soon) and steward's Intel collateral cache laid out as host preparation writes it
// (src/attest/dcap/collateral.h). Header-only; link `simulation`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file.h"
#include "simulation/dcap.h"

namespace enarx::support {

// The same PKI as `sim`, publishing documents valid [not_before, not_after) with this TCB status
// and tcbEvaluationDataNumber.
inline attest::dcap::SimulatedPlatform later_collateral(const attest::dcap::SimulatedPlatform& sim,
                                                        const std::string& status, std::int64_t number,
                                                        TimePoint not_before, TimePoint not_after) {
  attest::dcap::SimulationOptions o = sim.options();
  o.not_before = not_before;
  o.not_after = not_after;
  o.tcb_status = status;
  o.tcb_evaluation_data_number = number;
  return attest::dcap::SimulatedPlatform(o, sim.pki());
}

// Writes `from`'s TDX collateral into `dir` (created); the PCK CA CRL lists `revoked`.
inline void write_intel_cache(const std::filesystem::path& dir, const attest::dcap::SimulatedPlatform& from,
                              const std::vector<Certificate>& revoked = {}) {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / ("tdx-tcbinfo-" + to_hex(from.options().fmspc) + ".json"), from.tcb_info_document(true));
  write_file_atomic(dir / "td_qe_identity.json", from.qe_identity_document(true));
  write_file_atomic(dir / "tcb_signing_chain.pem", from.tcb_signer().to_pem() + from.root().to_pem());
  write_file_atomic(dir / "root_ca_crl.der", from.root_crl().to_der());
  write_file_atomic(dir / "pck_platform_crl.der", from.pck_ca_crl(revoked).to_der());
}

}  // namespace enarx::support
