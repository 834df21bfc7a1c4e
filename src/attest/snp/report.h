// AMD SEV-SNP ATTESTATION_REPORT: a typed, bounds-checked view of the 1184-byte structure the
// AMD Secure Processor returns (SEV-SNP Firmware ABI spec, "ATTESTATION_REPORT Structure").
// Parsing does no cryptography; verify.h checks the signature and the certificate chain.
//
// Layout (little-endian integers):
//   0x000 VERSION u32            0x004 GUEST_SVN u32        0x008 POLICY u64
//   0x010 FAMILY_ID[16]          0x020 IMAGE_ID[16]         0x030 VMPL u32
//   0x034 SIGNATURE_ALGO u32     0x038 CURRENT_TCB u64      0x040 PLATFORM_INFO u64
//   0x048 KEY_INFO u32 (bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits2-4 SIGNING_KEY)
//   0x04C reserved u32           0x050 REPORT_DATA[64]      0x090 MEASUREMENT[48]
//   0x0C0 HOST_DATA[32]          0x0E0 ID_KEY_DIGEST[48]    0x110 AUTHOR_KEY_DIGEST[48]
//   0x140 REPORT_ID[32]          0x160 REPORT_ID_MA[32]     0x180 REPORTED_TCB u64
//   0x188 CPUID_FAM_ID, 0x189 CPUID_MOD_ID, 0x18A CPUID_STEP (v3+; reserved in v2)
//   0x18B..0x19F reserved        0x1A0 CHIP_ID[64]          0x1E0 COMMITTED_TCB u64
//   0x1E8 CURRENT_BUILD/MINOR/MAJOR, 0x1EB reserved
//   0x1EC COMMITTED_BUILD/MINOR/MAJOR, 0x1EF reserved       0x1F0 LAUNCH_TCB u64
//   0x1F8 LAUNCH_MIT_VECTOR u64, 0x200 CURRENT_MIT_VECTOR u64 (v5; reserved before, but kept
//         when v3/v4 firmware fills them)
//   0x208..0x29F reserved        0x2A0 SIGNATURE: R[72] LE, S[72] LE, reserved to 0x4A0
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace enarx::attest::snp {

inline constexpr std::size_t kReportSize = 0x4A0;    // 1184
inline constexpr std::size_t kSignedSize = 0x2A0;    // bytes covered by the signature
inline constexpr std::uint32_t kMinReportVersion = 2;
inline constexpr std::uint32_t kMaxReportVersion = 5;

enum class Product { Unknown, Milan, Genoa, Turin };
std::string to_string(Product p);  // "Milan", "Genoa", "Turin", "Unknown"
// "Milan", "Milan-B0", "genoa" ... -> product; anything else -> Unknown.
Product product_from_name(std::string_view name);

// TCB_VERSION. Milan/Genoa: byte0 BOOT_LOADER, byte1 TEE, byte6 SNP, byte7 MICROCODE.
// Turin: byte0 FMC, byte1 BOOT_LOADER, byte2 TEE, byte3 SNP, byte7 MICROCODE.
struct TcbVersion {
  std::uint64_t raw = 0;
  std::uint8_t bootloader = 0;
  std::uint8_t tee = 0;
  std::uint8_t snp = 0;
  std::uint8_t microcode = 0;
  std::optional<std::uint8_t> fmc;  // Turin and later only
  static TcbVersion decode(std::uint64_t raw, Product product);
  bool operator==(const TcbVersion& o) const = default;
};

enum class SigningKey { Vcek, Vlek, None, Reserved };
std::string to_string(SigningKey k);  // "vcek", "vlek", "none", "reserved"

// Guest policy (POLICY field).
struct GuestPolicy {
  std::uint64_t raw = 0;
  std::uint8_t abi_minor = 0;
  std::uint8_t abi_major = 0;
  bool smt = false;                // bit 16: SMT allowed
  bool reserved_one = false;       // bit 17: must be 1
  bool migrate_ma = false;         // bit 18
  bool debug = false;              // bit 19
  bool single_socket = false;      // bit 20
  bool cxl_allow = false;          // bit 21
  bool mem_aes_256_xts = false;    // bit 22
  bool rapl_dis = false;           // bit 23
  bool ciphertext_hiding = false;  // bit 24
  bool page_swap_disable = false;  // bit 25
};

// PLATFORM_INFO bits.
struct PlatformInfo {
  std::uint64_t raw = 0;
  bool smt_en = false;                // bit 0
  bool tsme_en = false;               // bit 1
  bool ecc_en = false;                // bit 2
  bool rapl_dis = false;              // bit 3
  bool ciphertext_hiding_en = false;  // bit 4
  bool alias_check_complete = false;  // bit 5
  bool tio_en = false;                // bit 7
};

struct FirmwareVersion {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  std::uint8_t build = 0;
};

struct Cpuid {
  std::uint8_t family = 0;  // CPUID_FAM_ID (extended family + base family)
  std::uint8_t model = 0;   // CPUID_MOD_ID (extended model + base model)
  std::uint8_t stepping = 0;
};

struct Report {
  std::array<std::uint8_t, kReportSize> raw{};

  std::uint32_t version = 0;
  std::uint32_t guest_svn = 0;
  GuestPolicy policy;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::uint32_t vmpl = 0;
  std::uint32_t signature_algo = 0;
  std::uint64_t current_tcb = 0;   // raw TCB_VERSION; decode with the product
  PlatformInfo platform_info;
  std::uint32_t key_info = 0;
  bool author_key_en = false;
  bool mask_chip_key = false;
  SigningKey signing_key = SigningKey::Vcek;
  std::array<std::uint8_t, 64> report_data{};
  std::array<std::uint8_t, 48> measurement{};
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 32> report_id_ma{};
  std::uint64_t reported_tcb = 0;
  std::optional<Cpuid> cpuid;  // v3+
  std::array<std::uint8_t, 64> chip_id{};
  std::uint64_t committed_tcb = 0;
  FirmwareVersion current_fw;
  FirmwareVersion committed_fw;
  std::uint64_t launch_tcb = 0;
  std::optional<std::uint64_t> launch_mit_vector;   // v5 (v3/v4 when non-zero)
  std::optional<std::uint64_t> current_mit_vector;  // v5 (v3/v4 when non-zero)
  // Signature components as stored: little-endian, 72 bytes each.
  std::array<std::uint8_t, 72> signature_r{};
  std::array<std::uint8_t, 72> signature_s{};

  ByteView signed_bytes() const { return ByteView(raw.data(), kSignedSize); }
  ByteView bytes() const { return ByteView(raw.data(), raw.size()); }
  // The product the CPUID fields name (v3+), else Unknown.
  Product cpuid_product() const;
  bool chip_id_masked() const;  // CHIP_ID all zero (MASK_CHIP_ID, or a VLEK-signed report)
};

// Parses exactly kReportSize bytes. Throws Error with:
//   snp.report.size                 not exactly 1184 bytes
//   snp.report.unsupported_version  VERSION outside 2..5
//   snp.report.signature_algo       SIGNATURE_ALGO != 1 (ECDSA P-384 with SHA-384)
//   snp.report.policy_reserved      POLICY bit 17 (reserved, always 1) clear
//   snp.report.reserved_nonzero     a field reserved in this version is not zero
//   snp.report.signing_key          SIGNING_KEY is a reserved selector
Report parse_report(ByteView data);

// Accepts a report file as tools write it: 1184 raw bytes; the same as hex text (upper/lower
// case, whitespace and newlines ignored); a whole MSG_REPORT_RSP (0x20-byte header + report);
// or an Azure vTPM HCL report ("HCLA" header, report at 0x20). Throws snp.report.size or
// snp.report.encoding.
Bytes decode_report_file(ByteView file);

}  // namespace enarx::attest::snp
