// TDX evidence in a CSR (extension oids::kTdxEvidence, minted by this project: docs/oids.md),
// DER, shaped like Enarx's SgxEvidence so both DCAP platforms share one layout:
//
//   TdxEvidence ::= SEQUENCE {
//     quote       OCTET STRING,                       -- raw DCAP quote v4/v5, TD report body
//     crl         CrlList,                            -- Enarx CrlList (may be empty)
//     tcb         TcbPackage OPTIONAL,                -- raw PCS TDX TCB info + its signing chain
//     qeIdentity  [0] IMPLICIT OCTET STRING OPTIONAL }  -- raw PCS TD_QE identity body
//
// The minimal form { quote, crl } is valid: steward then takes the TCB info and QE identity
// from its Intel collateral cache. Keeps encode this; steward decodes it.
#pragma once

#include <optional>
#include <vector>

#include "attest/enarx/crl_list.h"
#include "attest/enarx/tcb_package.h"
#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest {

struct TdxEvidence {
  Bytes quote;
  std::vector<CrlListEntry> crls;
  std::optional<TcbPackage> tcb;    // report: raw PCS TDX TCB info JSON
  std::optional<Bytes> qe_identity;  // raw PCS TD_QE identity JSON
};

// Throws Error("evidence.tdx_malformed") on any DER problem (or the CrlList's own code).
TdxEvidence decode_tdx_evidence(ByteView der);
Bytes encode_tdx_evidence(const TdxEvidence& evidence);

}  // namespace enarx::attest
