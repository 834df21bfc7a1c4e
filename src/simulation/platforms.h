// Simulated platforms for tests and demos: evidence in the REAL wire formats, signed by a locally
// generated test PKI instead of AMD's / Intel's. Verifiers accept it only when the test root is
// passed explicitly as a *simulated* root (attest::snp::TrustRoot{.simulated = true}); the
// pinned production roots never include it, so production defaults reject it.
//
// `enarx platform sim init <dir>` lays out:
//   <dir>/snp/ark.key ask.key vcek.key   private keys, PKCS#8 PEM, mode 0600
//   <dir>/snp/ark.pem ask.pem            ARK (self-signed) and ASK: RSA-2048, RSASSA-PSS/SHA-384,
//                                        salt 48 (the real ARK algorithm, smaller keys)
//   <dir>/snp/vcek.pem vcek.der          VCEK: P-384 with AMD's VCEK extensions (productName,
//                                        bl/tee/snp/ucode SPL, hwID = the fake CHIP_ID)
//   <dir>/snp/cert_chain.pem             ASK then ARK, like KDS /vcek/v1/<product>/cert_chain:
//                                        the "sim root" to hand to steward / verifiers
//   <dir>/snp/crl.der                    an empty CRL signed by the ARK
//   <dir>/snp/config.json                product, chip id, TCB, measurement, policy, version
//   <dir>/dcap/root.pem                  a simulated Intel-style DCAP root (P-256): the "sim root"
//                                        for sim-tdx and sim-sgx evidence
//   <dir>/dcap/{pck_ca,pck,tcb_signer}.pem   PCK CA, PCK (with the SGX extension: FMSPC, TCB
//                                        components, PCESVN) and TCB-info signing certificates
//   <dir>/dcap/*.key                     their private keys + the quoting enclave's attestation
//                                        key, PKCS#8 PEM, mode 0600
//   <dir>/dcap/config.json               validity window and FMSPC
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"
#include "simulation/dcap.h"
#include "platform/platform.h"

namespace enarx::platform::sim {

struct SnpSimConfig {
  std::string product = "Milan";
  Bytes chip_id;  // 64 bytes; empty = random at init
  std::uint8_t bl_spl = 3, tee_spl = 0, snp_spl = 8, ucode_spl = 115;
  Bytes measurement;  // 48 bytes; empty = a fixed pattern
  Bytes host_data;    // 32 bytes; empty = zeros
  // SMT allowed, reserved bit 17, no DEBUG, minimum ABI 1.51 (as Enarx launches keeps).
  std::uint64_t policy = 0x30000 | (1u << 8) | 51;
  std::uint32_t report_version = 3;
  std::uint32_t vmpl = 0;
  std::uint32_t guest_svn = 1;
};

struct SnpSimFiles {
  Certificate ark, ask, vcek;
  PrivateKey vcek_key;
  Crl crl;
  SnpSimConfig config;
};

std::filesystem::path snp_dir(const std::filesystem::path& sim_dir);

// Creates (or replaces) the SNP test PKI under <sim_dir>/snp. Certificates are valid from
// `now` - 1 day for 10 years. Error codes: sim.io.
void init_snp(const std::filesystem::path& sim_dir, const SnpSimConfig& config, TimePoint now);
// Error codes: sim.not_initialized (run `enarx platform sim init`), sim.corrupt.
SnpSimFiles load_snp(const std::filesystem::path& sim_dir);

// A signed ATTESTATION_REPORT (v2/v3 layout) binding `report_data`.
Bytes build_snp_report(const SnpSimConfig& config, ByteView report_data, const PrivateKey& vcek_key);

// Provider "sim-snp": evidence.simulated = true, certs = {vcek, ask, ark} like a real cert table.
std::unique_ptr<EvidenceProvider> make_sim_snp_provider(const std::filesystem::path& sim_dir);

std::filesystem::path dcap_dir(const std::filesystem::path& sim_dir);
// Creates (or replaces) the simulated DCAP PKI under <sim_dir>/dcap, valid from `now` - 1 day
// for 10 years. Error codes: sim.io.
void init_dcap(const std::filesystem::path& sim_dir, TimePoint now);
// Error codes: sim.not_initialized, sim.corrupt.
attest::dcap::SimulatedPlatform load_dcap(const std::filesystem::path& sim_dir);

// Provider "sim-tdx": a TDX quote v4 (TD report 1.0) binding the report data, with its CrlList,
// TcbPackage (TDX TCB info + signing chain) and TD_QE identity attached as collateral.
std::unique_ptr<EvidenceProvider> make_sim_tdx_provider(const std::filesystem::path& sim_dir);
// Provider "sim-sgx": an SGX quote v3 with CrlList + TcbPackage, as Enarx's SgxEvidence carries
// (no QE identity: steward needs it from its cache or `require_qe_identity = false`).
std::unique_ptr<EvidenceProvider> make_sim_sgx_provider(const std::filesystem::path& sim_dir);

// RSA-2048 key and RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) re-signing of a certificate
// (exposed for tests and other simulated PKIs).
PrivateKey generate_rsa_2048();
Certificate resign_pss_sha384(const Certificate& cert, const PrivateKey& issuer_key);

}  // namespace enarx::platform::sim
