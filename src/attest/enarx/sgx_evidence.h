// Enarx's SGX evidence container, carried in CSR extension 1.3.6.1.4.1.58270.1.2
// (../shared/design/enarx-protocols.md §1.5):
//   SgxEvidence ::= SEQUENCE { quote OCTET STRING, crl CrlList, tcb TcbPackage }
//   TcbPackage  ::= SEQUENCE { crts SEQUENCE OF Certificate, report OCTET STRING }
// `report` is the raw body Intel PCS served for the TCB info ({"tcbInfo":...,"signature":...});
// its signature is checked over the exact bytes of the tcbInfo value, never a re-serialization.
#pragma once

#include <string>
#include <vector>

#include "attest/enarx/crl_list.h"
#include "attest/dcap/collateral.h"
#include "attest/enarx/tcb_package.h"
#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest {


struct SgxEvidence {
  Bytes quote;
  std::vector<CrlListEntry> crls;
  TcbPackage tcb;  // certs as Intel sends them: [TCB signing, root]; report: raw PCS TCB info
};

// Throws Error("evidence.sgx_malformed") on any DER problem (or the CrlList's own code).
SgxEvidence decode_sgx_evidence(ByteView der);
Bytes encode_sgx_evidence(const SgxEvidence& evidence);

// Collateral for the DCAP verifier: TCB info from `tcb.report`, the TCB certs as the signing
// chain, and every CRL. There is no QE identity in Enarx evidence.
dcap::Collateral collateral_from_sgx_evidence(const SgxEvidence& evidence);

}  // namespace enarx::attest
