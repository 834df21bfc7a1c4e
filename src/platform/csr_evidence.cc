#include "platform/csr_evidence.h"

#include "attest/enarx_evidence_snp.h"
#include "core/der.h"
#include "core/error.h"
#include "steward/oids.h"

namespace enarx::platform {

namespace {

// The host's CRLs win; evidence that brought its own (simulated platforms) is used otherwise.
Bytes crl_list(const HostCollateral& c, const Evidence& ev) {
  if (!c.crls.empty()) return attest::encode_crl_list(c.crls);
  if (c.crl_list_der) return *c.crl_list_der;
  if (ev.crl_list_der) return *ev.crl_list_der;
  return attest::encode_crl_list({});
}

// Likewise for the TcbPackage: the host cache's, else the one the evidence brought.
const std::optional<Bytes>& tcb_package(const HostCollateral& c, const Evidence& ev) {
  return c.tcb_package_der ? c.tcb_package_der : ev.tcb_package_der;
}

}  // namespace

Bytes encode_sgx_evidence(ByteView quote, ByteView crl_list_der, ByteView tcb_package_der) {
  der::Writer w;
  w.add_octet_string(quote).add_raw(crl_list_der).add_raw(tcb_package_der);
  return w.wrap(der::kSequence);
}

Bytes encode_tdx_evidence(ByteView quote, ByteView crl_list_der, std::optional<ByteView> tcb_package_der,
                          std::optional<ByteView> qe_identity_json) {
  der::Writer w;
  w.add_octet_string(quote).add_raw(crl_list_der);
  if (tcb_package_der) w.add_raw(*tcb_package_der);
  if (qe_identity_json) w.add(0x80, *qe_identity_json);  // [0] IMPLICIT OCTET STRING
  return w.wrap(der::kSequence);
}

Extension evidence_extension(const Evidence& ev, const HostCollateral& c) {
  Extension ext;
  ext.critical = false;
  switch (ev.platform) {
    case Platform::Nil:
    case Platform::Kvm:
      ext.oid = std::string(oids::kKvmEvidence);
      return ext;
    case Platform::Snp: {
      require(!ev.report_or_quote.empty(), "platform.evidence.empty", "no SNP report");
      auto vcek = ev.endorsement_cert();
      if (!vcek) vcek = c.vcek_der;
      require(vcek.has_value(), "platform.evidence.no_vcek",
              "the SNP report came without a certificate table and no cached VCEK was given; "
              "run `enarx platform snp vcek`");
      attest::SnpEvidence snp;
      snp.vcek_der = *vcek;
      snp.report = ev.report_or_quote;
      if (c.crls.empty() && c.crl_list_der) {
        snp.crls = attest::parse_crl_list(*c.crl_list_der);
      } else {
        snp.crls = c.crls;
      }
      ext.oid = std::string(oids::kSnpEvidence);
      ext.value = attest::encode_snp_evidence(snp);
      return ext;
    }
    case Platform::Sgx: {
      require(!ev.report_or_quote.empty(), "platform.evidence.empty", "no SGX quote");
      const auto& tcb = tcb_package(c, ev);
      require(tcb.has_value(), "platform.evidence.no_tcb",
              "SGX evidence needs the cached TCB package; run `enarx platform sgx cache`");
      ext.oid = std::string(oids::kSgxEvidence);
      ext.value = encode_sgx_evidence(ev.report_or_quote, crl_list(c, ev), *tcb);
      return ext;
    }
    case Platform::Tdx: {
      require(!ev.report_or_quote.empty(), "platform.evidence.empty", "no TDX quote");
      // Without a TcbPackage / QE identity, steward takes them from its Intel collateral cache.
      const auto& tcb = tcb_package(c, ev);
      std::optional<ByteView> tcb_view, qe_view;
      if (tcb) tcb_view = ByteView(*tcb);
      if (ev.qe_identity_json) qe_view = ByteView(*ev.qe_identity_json);
      ext.oid = std::string(oids::kTdxEvidence);
      ext.value = encode_tdx_evidence(ev.report_or_quote, crl_list(c, ev), tcb_view, qe_view);
      return ext;
    }
  }
  throw Error("platform.unknown", "unknown platform");
}

}  // namespace enarx::platform
