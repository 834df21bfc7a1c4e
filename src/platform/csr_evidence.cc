#include "platform/csr_evidence.h"

#include "attest/enarx/sgx_evidence.h"
#include "attest/enarx/snp_evidence.h"
#include "attest/enarx/tdx_evidence.h"
#include "core/error.h"
#include "attest/enarx/oids.h"

namespace enarx::platform {

namespace {

// The host's CRLs win; evidence that brought its own (simulated platforms) is used otherwise.
std::vector<attest::CrlListEntry> crl_list(const HostCollateral& c, const Evidence& ev) {
  if (!c.crls.empty()) return c.crls;
  if (c.crl_list_der) return attest::parse_crl_list(*c.crl_list_der);
  if (ev.crl_list_der) return attest::parse_crl_list(*ev.crl_list_der);
  return {};
}

// Likewise for the TcbPackage: the host cache's, else the one the evidence brought. Parsed here
// so that a corrupt cache fails on the keep, with its own error, not as a refusal by steward.
std::optional<attest::TcbPackage> tcb_package(const HostCollateral& c, const Evidence& ev) {
  const auto& der = c.tcb_package_der ? c.tcb_package_der : ev.tcb_package_der;
  if (!der) return std::nullopt;
  return attest::decode_tcb_package(*der);
}

}  // namespace

Extension evidence_extension(const Evidence& ev, const HostCollateral& c) {
  Extension ext;
  ext.critical = false;
  switch (ev.platform) {
    case Platform::Nil:
    case Platform::Kvm:
      ext.oid = std::string(oids::kKvmEvidence);
      return ext;
    case Platform::Snp: {
      require(!ev.report_or_quote.empty(), ErrorKind::kInvalidInput, "platform.evidence.empty", "no SNP report");
      auto vcek = ev.endorsement_cert();
      if (!vcek) vcek = c.vcek_der;
      require(vcek.has_value(), ErrorKind::kInvalidInput, "platform.evidence.no_vcek",
              "the SNP report came without a certificate table and no cached VCEK was given; "
              "run `enarx platform snp vcek`");
      attest::SnpEvidence snp;
      snp.vcek_der = *vcek;
      snp.report = ev.report_or_quote;
      snp.crls = crl_list(c, ev);
      ext.oid = std::string(oids::kSnpEvidence);
      ext.value = attest::encode_snp_evidence(snp);
      return ext;
    }
    case Platform::Sgx: {
      require(!ev.report_or_quote.empty(), ErrorKind::kInvalidInput, "platform.evidence.empty", "no SGX quote");
      auto tcb = tcb_package(c, ev);
      require(tcb.has_value(), ErrorKind::kInvalidInput, "platform.evidence.no_tcb",
              "SGX evidence needs the cached TCB package; run `enarx platform sgx cache`");
      attest::SgxEvidence sgx;
      sgx.quote = ev.report_or_quote;
      sgx.crls = crl_list(c, ev);
      sgx.tcb = std::move(*tcb);
      ext.oid = std::string(oids::kSgxEvidence);
      ext.value = attest::encode_sgx_evidence(sgx);
      return ext;
    }
    case Platform::Tdx: {
      require(!ev.report_or_quote.empty(), ErrorKind::kInvalidInput, "platform.evidence.empty", "no TDX quote");
      // Without a TcbPackage / QE identity, steward takes them from its Intel collateral cache.
      attest::TdxEvidence tdx;
      tdx.quote = ev.report_or_quote;
      tdx.crls = crl_list(c, ev);
      tdx.tcb = tcb_package(c, ev);
      tdx.qe_identity = ev.qe_identity_json;
      ext.oid = std::string(oids::kTdxEvidence);
      ext.value = attest::encode_tdx_evidence(tdx);
      return ext;
    }
  }
  throw Error(ErrorKind::kInvalidInput, "platform.unknown", "unknown platform");
}

}  // namespace enarx::platform
