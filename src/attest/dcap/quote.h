// Intel DCAP ECDSA quotes: typed, bounds-checked parsing (no cryptography here).
//
// Supported: SGX quote v3, TDX quote v4 (TD report 1.0), quote v5 (body type 1 = SGX report,
// 2 = TD report 1.0, 3 = TD report 1.5). Attestation key type 2 (ECDSA-256 with P-256) only.
// Certification data: type 5 (PEM PCK chain) directly (v3) or nested in type 6 (QE report
// certification data, v4/v5). Every length comes from the size fields. Bytes after the signature
// data are never signed and never used: real TDX quotes are zero-padded buffers (t12: 3065 bytes)
// and go-tdx-guest's SPR sample ends with 39 bytes of text. They are tolerated by default and
// counted in `trailing_bytes`; with `strict_trailing` any non-zero trailing byte is an error.
//
// Errors (enarx::Error codes): dcap.quote.truncated, dcap.quote.unsupported_version,
// dcap.quote.unsupported_key_type, dcap.quote.unsupported_tee_type, dcap.quote.bad_body,
// dcap.quote.unknown_qe_vendor, dcap.quote.bad_signature_data,
// dcap.quote.unsupported_cert_data_type, dcap.quote.trailing_data, dcap.quote.hex.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.h"

namespace enarx::attest::dcap {

inline constexpr std::uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr std::uint32_t kTeeTypeTdx = 0x00000081;
inline constexpr std::uint16_t kAttKeyEcdsaP256 = 2;
inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::size_t kSgxReportSize = 384;
inline constexpr std::size_t kTdReport10Size = 584;
inline constexpr std::size_t kTdReport15Size = 648;
// Intel's QE vendor ID 939A7233-F79C-4CA9-940A-0DB3957F0607.
extern const std::array<std::uint8_t, 16> kIntelQeVendorId;

// SGX ATTRIBUTES.FLAGS bits (Intel SDM vol. 3D, 38.7.1).
inline constexpr std::uint64_t kSgxFlagInit = 1u << 0;
inline constexpr std::uint64_t kSgxFlagDebug = 1u << 1;
inline constexpr std::uint64_t kSgxFlagMode64 = 1u << 2;
inline constexpr std::uint64_t kSgxFlagProvisionKey = 1u << 4;
inline constexpr std::uint64_t kSgxFlagEinitTokenKey = 1u << 5;
inline constexpr std::uint64_t kSgxFlagCet = 1u << 6;
inline constexpr std::uint64_t kSgxFlagKss = 1u << 7;
inline constexpr std::uint64_t kSgxFlagAexNotify = 1u << 10;

// TD ATTRIBUTES bits (TDX module ABI).
inline constexpr std::uint64_t kTdAttrDebug = 1ull << 0;
inline constexpr std::uint64_t kTdAttrSeptVeDisable = 1ull << 28;
inline constexpr std::uint64_t kTdAttrPks = 1ull << 30;
inline constexpr std::uint64_t kTdAttrKl = 1ull << 31;
inline constexpr std::uint64_t kTdAttrPerfmon = 1ull << 63;

struct QuoteHeader {
  std::uint16_t version = 0;
  std::uint16_t att_key_type = 0;
  std::uint32_t tee_type = 0;  // v3: the reserved field (0 = SGX)
  std::uint16_t qe_svn = 0;    // v3 only (reserved in v4/v5)
  std::uint16_t pce_svn = 0;   // v3 only (reserved in v4/v5)
  Bytes qe_vendor_id;          // 16
  Bytes user_data;             // 20
};

// The 384-byte SGX REPORTBODY (the ISV enclave's, or the QE's).
struct SgxReportBody {
  Bytes raw;                   // exactly 384 bytes, as signed
  Bytes cpusvn;                // 16
  std::uint32_t misc_select = 0;
  Bytes isv_ext_prod_id;       // 16 (KSS)
  Bytes attributes;            // 16: flags u64 LE || xfrm u64 LE
  Bytes mrenclave;             // 32
  Bytes mrsigner;              // 32
  Bytes config_id;             // 64 (KSS)
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  std::uint16_t config_svn = 0;
  Bytes isv_family_id;         // 16 (KSS)
  Bytes report_data;           // 64
  std::uint64_t flags() const;
  std::uint64_t xfrm() const;
  bool debug() const { return (flags() & kSgxFlagDebug) != 0; }
};

// The TDX TD report body (TDREPORT's TDINFO + TEE_TCB_INFO parts as carried in a quote).
struct TdReportBody {
  Bytes raw;                   // 584 (TD 1.0) or 648 (TD 1.5) bytes
  Bytes tee_tcb_svn;           // 16
  Bytes mrseam;                // 48
  Bytes mrsignerseam;          // 48
  Bytes seam_attributes;       // 8
  Bytes td_attributes;         // 8
  Bytes xfam;                  // 8
  Bytes mrtd;                  // 48
  Bytes mrconfigid;            // 48
  Bytes mrowner;               // 48
  Bytes mrownerconfig;         // 48
  std::array<Bytes, 4> rtmr;   // 48 each
  Bytes report_data;           // 64
  std::optional<Bytes> tee_tcb_svn2;  // TD 1.5 only (16)
  std::optional<Bytes> mrservicetd;   // TD 1.5 only (48)
  std::uint64_t td_attributes_u64() const;
  std::uint64_t seam_attributes_u64() const;
  bool debug() const { return (td_attributes_u64() & kTdAttrDebug) != 0; }
};

struct Quote {
  QuoteHeader header;
  // 1 = SGX report, 2 = TD report 1.0, 3 = TD report 1.5 (v5's explicit body type; derived for
  // v3/v4).
  std::uint16_t body_type = 0;
  std::optional<SgxReportBody> sgx;
  std::optional<TdReportBody> td;
  Bytes signed_data;            // header (|| v5 type || size) || body: what the attestation key signs
  Bytes signature;              // 64: r || s, big-endian
  Bytes attestation_key;        // 64: x || y, big-endian (P-256)
  SgxReportBody qe_report;      // the Quoting Enclave's report, signed by the PCK key
  Bytes qe_report_signature;    // 64: r || s
  Bytes qe_auth_data;
  std::uint16_t cert_data_type = 0;  // innermost certification data type (always 5 today)
  Bytes cert_data;                   // PEM PCK chain (may end with NUL bytes)
  std::uint16_t outer_cert_data_type = 0;  // 5 for v3, 6 for v4/v5
  std::size_t size = 0;               // bytes consumed (without trailing padding)
  std::size_t trailing_bytes = 0;  // after the signature data (unsigned, ignored)
  bool trailing_all_zero = true;

  bool is_tdx() const { return td.has_value(); }
};

struct ParseOptions {
  bool strict_trailing = false;  // reject non-zero bytes after the signature data
};

// Parses a binary quote. Throws enarx::Error with a dcap.quote.* code.
Quote parse_quote(ByteView data, const ParseOptions& options = {});

// A quote file may hold the raw bytes or hex text (optionally "0x"-prefixed, whitespace
// tolerated). Returns the raw bytes.
Bytes decode_quote_file(ByteView file_contents);

}  // namespace enarx::attest::dcap
