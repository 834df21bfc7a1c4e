// A simulated DCAP platform: a locally generated root, PCK CA, PCK certificate (with the SGX
// extension), TCB signing certificate and QE, producing well-formed SGX v3 / TDX v4 quotes,
// signed TCB info / QE identity documents and CRLs. Used by the tests (revocation, policy
// failures, key binding) and by anything that must run SGX/TDX flows without the hardware.
// Evidence from it verifies only against `trust_store()`, where the root is marked simulated,
// so its claims say "simulated": true and default policies refuse it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/trust.h"
#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::attest::dcap {

struct SgxEnclaveFields {
  Bytes mrenclave = Bytes(32, 0x11);
  Bytes mrsigner = Bytes(32, 0x22);
  std::uint64_t flags = 0x5;  // INIT | MODE64BIT
  std::uint64_t xfrm = 0x3;
  std::uint32_t misc_select = 0;
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  std::uint16_t config_svn = 0;
  Bytes isv_family_id = Bytes(16, 0);
  Bytes isv_ext_prod_id = Bytes(16, 0);
  Bytes config_id = Bytes(64, 0);
  Bytes report_data = Bytes(64, 0);
};

// Where the simulated certificates say their issuers' CRLs are; clients label CrlList entries
// with these (steward checks labels against the distribution points).
inline constexpr std::string_view kSimulatedRootCrlUrl = "https://simulated.invalid/sgx/root.crl";
inline constexpr std::string_view kSimulatedPckCrlUrl = "https://simulated.invalid/sgx/pckcrl?ca=platform";

struct TdFields {
  Bytes tee_tcb_svn = {5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes mrseam = Bytes(48, 0x33);
  Bytes mrsignerseam = Bytes(48, 0);
  std::uint64_t seam_attributes = 0;
  std::uint64_t td_attributes = 1ull << 28;  // SEPT_VE_DISABLE
  std::uint64_t xfam = 0x606e7;
  Bytes mrtd = Bytes(48, 0x44);
  Bytes mrconfigid = Bytes(48, 0);
  Bytes mrowner = Bytes(48, 0);
  Bytes mrownerconfig = Bytes(48, 0);
  std::array<Bytes, 4> rtmr = {Bytes(48, 0), Bytes(48, 0), Bytes(48, 0), Bytes(48, 0)};
  Bytes report_data = Bytes(64, 0);
};

struct SimulationOptions {
  TimePoint not_before;  // certificate and collateral validity
  TimePoint not_after;
  Bytes fmspc = {0x00, 0x60, 0x6a, 0x00, 0x00, 0x00};
  std::array<std::uint8_t, 16> tcb_components = {4, 4, 3, 3, 255, 255};
  std::uint16_t pcesvn = 11;
  std::uint16_t qe_svn = 8;
  std::string tcb_status = "UpToDate";  // status of the single TCB level
  std::int64_t tcb_evaluation_data_number = 1;  // of the TCB info and QE identity
  std::vector<std::string> advisory_ids;
};

// Everything secret or issued in a simulated platform, so it can be saved and restored
// (`enarx platform sim init` writes it; `sim-tdx` / `sim-sgx` load it).
struct SimulatedPki {
  PrivateKey root_key, pck_ca_key, pck_key, tcb_signer_key, attestation_key;
  Certificate root, pck_ca, pck, tcb_signer;
};

class SimulatedPlatform {
 public:
  explicit SimulatedPlatform(SimulationOptions options);  // generates a fresh PKI
  SimulatedPlatform(SimulationOptions options, SimulatedPki pki);  // restores a saved one
  SimulatedPki pki() const;

  // The simulated root as a trust anchor (simulated = true).
  TrustStore trust_store() const;

  Bytes sgx_quote(const SgxEnclaveFields& enclave) const;  // quote v3
  Bytes tdx_quote(const TdFields& td) const;               // quote v4, TD report 1.0

  // PCS-shaped documents signed by the simulated TCB signing key.
  std::string tcb_info_document(bool tdx) const;
  std::string qe_identity_document(bool tdx) const;
  std::string sign_document(const std::string& key, const std::string& body) const;
  // CRLs: of the root (covering the PCK CA) and of the PCK CA (covering PCK certificates).
  Crl root_crl(const std::vector<Certificate>& revoked = {}) const;
  Crl pck_ca_crl(const std::vector<Certificate>& revoked = {}) const;
  // Everything a verifier needs for this platform's quotes.
  Collateral collateral(bool tdx) const;

  const Certificate& root() const { return root_; }
  const Certificate& pck_ca() const { return pck_ca_; }
  const Certificate& pck() const { return pck_; }
  const Certificate& tcb_signer() const { return tcb_signer_; }
  const SimulationOptions& options() const { return options_; }

 private:
  Bytes quote(std::uint16_t version, std::uint32_t tee_type, const Bytes& body) const;
  Crl make_crl(const Certificate& issuer, const PrivateKey& key,
               const std::vector<Certificate>& revoked) const;

  SimulationOptions options_;
  PrivateKey root_key_, pck_ca_key_, pck_key_, tcb_signer_key_, att_key_;
  Certificate root_, pck_ca_, pck_, tcb_signer_;
};

// DER of an SGX PCK extension value (the inverse of parse_pck_extension).
Bytes encode_pck_extension(const PckExtension& ext);

}  // namespace enarx::attest::dcap
