// Enarx's SEV-SNP evidence as carried in a CSR extension (OID 1.3.6.1.4.1.58270.1.3):
//   SnpEvidence ::= SEQUENCE {
//     crts   SEQUENCE { vcek Certificate, crl CrlList },
//     report OCTET STRING }   -- the raw 1184-byte ATTESTATION_REPORT
// (../shared/design/enarx-protocols.md §1.5).
#pragma once

#include <string>
#include <vector>

#include "attest/enarx/crl_list.h"
#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest {


struct SnpEvidence {
  Bytes vcek_der;  // exact DER of the VCEK (or VLEK)
  std::vector<CrlListEntry> crls;
  Bytes report;
};

// Throws Error("evidence.snp_malformed") on any DER problem (CRL problems:
// "evidence.crl_list_malformed").
SnpEvidence decode_snp_evidence(ByteView der);
Bytes encode_snp_evidence(const SnpEvidence& evidence);

}  // namespace enarx::attest
