// TDX evidence in a CSR (extension oids::kTdxEvidence), DER, shaped like Enarx's SgxEvidence:
//
//   TdxEvidence ::= SEQUENCE {
//     quote       OCTET STRING,                 -- raw DCAP quote v4/v5 with a TD report body
//     crl         CrlList,                      -- Enarx CrlList (may be empty)
//     tcb         TcbPackage OPTIONAL,          -- { crts SEQUENCE OF Certificate (TCB signing
//                                               --   chain), report OCTET STRING (raw PCS TDX TCB
//                                               --   info body, never re-serialized) }
//     qeIdentity  [0] IMPLICIT OCTET STRING OPTIONAL }  -- raw PCS TD_QE identity body
//
// The minimal form { quote, crl } is valid: steward then takes the TCB info / QE identity from
// its Intel collateral cache (issuance.intel_collateral_dir). Documented in docs/oids.md.
#pragma once

#include <optional>
#include <vector>

#include "attest/crl_list.h"
#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::steward {

struct TdxEvidence {
  Bytes quote;
  std::vector<attest::CrlListEntry> crls;
  std::vector<Certificate> tcb_certs;  // empty when no TcbPackage
  std::optional<Bytes> tcb_report;     // raw PCS TDX TCB info JSON
  std::optional<Bytes> qe_identity;    // raw PCS TD_QE identity JSON
};

// Throws Error("steward.tdx.evidence_malformed") on any DER problem.
TdxEvidence decode_tdx_evidence(ByteView der);
Bytes encode_tdx_evidence(const TdxEvidence& evidence);

}  // namespace enarx::steward
