// Intel DCAP collateral: TCB Info (v2, v3; SGX and TDX) and Enclave Identity (QE / TD_QE, v2)
// as Intel PCS serves them, the TCB signing chain and CRLs, plus loaders for the collateral
// cache directory and for a dcap-qvl "QuoteCollateralV3" JSON.
//
// Signatures cover the exact bytes of the "tcbInfo" / "enclaveIdentity" value in the served JSON
// text, so the parser locates that byte span in the raw document (never re-serializes).
//
// Errors: dcap.collateral.malformed (bad JSON or a missing / mistyped field; the message names
// it), dcap.collateral.unsupported_version, dcap.collateral.io (cache directory problems).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/x509.h"

namespace enarx::attest::dcap {

struct TcbLevel {
  std::array<std::uint8_t, 16> sgx_components{};
  std::uint16_t pcesvn = 0;
  std::optional<std::array<std::uint8_t, 16>> tdx_components;  // TDX TCB info only
  std::string tcb_date;
  std::string status;  // Intel's tcbStatus string
  std::vector<std::string> advisory_ids;
};

struct EnclaveTcbLevel {
  std::uint16_t isvsvn = 0;
  std::string tcb_date;
  std::string status;
  std::vector<std::string> advisory_ids;
};

struct TdxModule {
  Bytes mrsigner;         // 48
  Bytes attributes;       // 8
  Bytes attributes_mask;  // 8
};

struct TdxModuleIdentity {
  std::string id;  // "TDX_01", "TDX_03", ...
  TdxModule module;
  std::vector<EnclaveTcbLevel> levels;
};

struct TcbInfo {
  std::string id;  // "SGX" or "TDX" (v2 has no id: "SGX")
  int version = 0;
  std::string issue_date, next_update;  // as served (RFC 3339)
  TimePoint issue_date_tp, next_update_tp;
  Bytes fmspc;   // 6
  Bytes pce_id;  // 2
  int tcb_type = 0;
  std::int64_t tcb_evaluation_data_number = 0;
  std::vector<TcbLevel> levels;  // in the served order (newest first)
  std::optional<TdxModule> tdx_module;
  std::vector<TdxModuleIdentity> tdx_module_identities;
};

struct EnclaveIdentity {
  std::string id;  // "QE", "QVE", "TD_QE"
  int version = 0;
  std::string issue_date, next_update;
  TimePoint issue_date_tp, next_update_tp;
  std::int64_t tcb_evaluation_data_number = 0;
  std::uint32_t miscselect = 0, miscselect_mask = 0;
  Bytes attributes, attributes_mask;  // 16 each
  Bytes mrsigner;                     // 32
  std::uint16_t isvprodid = 0;
  std::vector<EnclaveTcbLevel> levels;
};

// A collateral document as served, with the exact signed bytes and the signature.
template <typename T>
struct Signed {
  T value;
  std::string signed_body;  // exact JSON text of the tcbInfo / enclaveIdentity value
  Bytes signature;          // 64 bytes r || s
  Bytes body_sha256;        // SHA-256 of signed_body (identifies the collateral in claims)
};
using SignedTcbInfo = Signed<TcbInfo>;
using SignedEnclaveIdentity = Signed<EnclaveIdentity>;

// Parsers of the inner value only (no signature).
TcbInfo parse_tcb_info_body(std::string_view body_json);
EnclaveIdentity parse_enclave_identity_body(std::string_view body_json);

// The PCS documents: {"tcbInfo":{...},"signature":"<128 hex>"} and
// {"enclaveIdentity":{...},"signature":"<128 hex>"}.
SignedTcbInfo parse_tcb_info_document(std::string_view pcs_json);
SignedEnclaveIdentity parse_enclave_identity_document(std::string_view pcs_json);
// The same from separately stored parts (dcap-qvl collateral JSON keeps them apart).
SignedTcbInfo parse_tcb_info_parts(std::string_view body_json, std::string_view signature_hex);
SignedEnclaveIdentity parse_enclave_identity_parts(std::string_view body_json,
                                                   std::string_view signature_hex);

// The exact text of the value of top-level member `key` of a JSON object, or nullopt if the
// object has no such member. Throws dcap.collateral.malformed on unbalanced text.
std::optional<std::string_view> json_member_span(std::string_view json, std::string_view key);

struct Collateral {
  std::optional<SignedTcbInfo> tcb_info;
  std::optional<SignedEnclaveIdentity> qe_identity;
  std::vector<Certificate> tcb_signing_chain;  // extra certs (TCB signing cert, root); optional
  std::vector<Crl> crls;                       // root CA CRL, PCK CA CRL(s)
};

// Collateral cache directory layout (written by host preparation, read here):
//   <dir>/tcbinfo-<fmspc>.json       SGX TCB info as served by PCS (fmspc lower-case hex)
//   <dir>/tdx-tcbinfo-<fmspc>.json   TDX TCB info as served by PCS
//   <dir>/qe_identity.json           SGX QE identity as served by PCS
//   <dir>/td_qe_identity.json        TDX TD_QE identity as served by PCS
//   <dir>/tcb_signing_chain.pem      TCB-Info-Issuer-Chain (TCB signing cert + root), PEM
//   <dir>/root_ca_crl.der            Intel SGX Root CA CRL (DER or PEM)
//   <dir>/pck_processor_crl.der      PCK Processor CA CRL (DER or PEM)
//   <dir>/pck_platform_crl.der       PCK Platform CA CRL (DER or PEM)
// Missing files are simply absent from the result; unreadable or malformed ones throw.
Collateral load_collateral_dir(const std::filesystem::path& dir, ByteView fmspc, bool tdx);

// A dcap-qvl QuoteCollateralV3 JSON object (tcb_info, tcb_info_signature, qe_identity,
// qe_identity_signature, tcb_info_issuer_chain, root_ca_crl / pck_crl as hex DER).
Collateral parse_dcap_qvl_collateral(std::string_view json);

// Reads a CRL file in DER or PEM.
Crl load_crl_file(const std::filesystem::path& path);

}  // namespace enarx::attest::dcap
