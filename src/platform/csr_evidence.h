// Wraps platform evidence into the Enarx CSR evidence extension (enarx-protocols.md §1.4/§1.5):
//   snp -> OID 1.3.6.1.4.1.58270.1.3, DER SnpEvidence { crts { vcek, CrlList }, report }
//   sgx -> OID 1.3.6.1.4.1.58270.1.2, DER SgxEvidence { quote, CrlList, TcbPackage }
//   kvm / nil -> OID 1.3.6.1.4.1.58270.1.1, empty value
//   tdx -> this project's TDX OID (src/steward/oids.h), DER TdxEvidence
// The DER codecs are src/attest's (enarx_evidence_{snp,sgx,tdx}.h), the ones steward decodes with.
// Always non-critical, as Steward requires.
#pragma once

#include <optional>
#include <vector>

#include "attest/enarx/crl_list.h"
#include "core/bytes.h"
#include "core/x509.h"
#include "platform/platform.h"

namespace enarx::platform {

// What the host adds to the hardware evidence. Enarx sends cached blobs verbatim; they are
// parsed here (a corrupt cache fails on the keep) and re-encoded, which DER makes byte-exact.
struct HostCollateral {
  // CRLs for the evidence's CrlList (AMD: [Genoa, Milan]; Intel: [root, processor, platform]).
  std::vector<attest::CrlListEntry> crls;
  // Exact DER of a cached CrlList (e.g. /var/cache/amd-sev/crls.der); used when `crls` is empty.
  std::optional<Bytes> crl_list_der;
  // SNP: the VCEK/VLEK DER when the evidence's certificate table has none (e.g. from the
  // /var/cache/amd-sev/vcek-* cache).
  std::optional<Bytes> vcek_der;
  // SGX: DER TcbPackage (/var/cache/intel-sgx/tcb.der).
  std::optional<Bytes> tcb_package_der;
};

// Errors: platform.evidence.no_vcek (SNP evidence without a VCEK), platform.evidence.no_tcb
// (SGX without a TcbPackage), platform.evidence.empty (SNP/SGX/TDX without a report/quote),
// evidence.tcb_package_malformed / evidence.crl_list_malformed (a corrupt cached DER).
Extension evidence_extension(const Evidence& evidence, const HostCollateral& collateral);

}  // namespace enarx::platform
