// Enarx's TcbPackage, the Intel TCB info that travels with SGX and TDX evidence
// (../shared/design/enarx-protocols.md §1.5):
//   TcbPackage ::= SEQUENCE { crts SEQUENCE OF Certificate, report OCTET STRING }
// `report` is the raw PCS TCB info body; it is carried verbatim because its signature covers
// the exact bytes. Host preparation caches it as DER (/var/cache/intel-sgx/tcb.der).
#pragma once

#include <vector>

#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest {

struct TcbPackage {
  std::vector<Certificate> certs;  // as Intel sends them: [TCB signing, root]
  Bytes report;
};

// Throws Error("evidence.tcb_package_malformed") on any DER problem.
TcbPackage decode_tcb_package(ByteView der);
Bytes encode_tcb_package(const std::vector<Certificate>& certs, ByteView report);
inline Bytes encode_tcb_package(const TcbPackage& p) { return encode_tcb_package(p.certs, p.report); }

}  // namespace enarx::attest
