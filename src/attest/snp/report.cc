#include "attest/snp/report.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/error.h"

namespace enarx::attest::snp {
namespace {

std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(le32(p)) | static_cast<std::uint64_t>(le32(p + 4)) << 32;
}

template <std::size_t N>
void copy_at(std::array<std::uint8_t, N>& out, const std::uint8_t* base, std::size_t offset) {
  static_assert(N <= kReportSize);
  std::memcpy(out.data(), base + offset, N);
}

bool all_zero(const std::uint8_t* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

void require_zero(const std::uint8_t* base, std::size_t begin, std::size_t end, const char* what) {
  if (!all_zero(base + begin, end - begin)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "reserved bytes 0x%03zx..0x%03zx (%s) are not zero", begin,
                  end - 1, what);
    throw Error(ErrorKind::kInvalidInput, "snp.report.reserved_nonzero", buf);
  }
}

bool bit(std::uint64_t v, unsigned n) { return (v >> n) & 1u; }

}  // namespace

std::string to_string(Product p) {
  switch (p) {
    case Product::Milan: return "Milan";
    case Product::Genoa: return "Genoa";
    case Product::Turin: return "Turin";
    case Product::Unknown: break;
  }
  return "Unknown";
}

Product product_from_name(std::string_view name) {
  // KDS names products "Milan", "Genoa", "Turin"; VCEKs say e.g. "Milan-B0".
  auto dash = name.find('-');
  std::string base(name.substr(0, dash));
  std::transform(base.begin(), base.end(), base.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (base == "milan") return Product::Milan;
  if (base == "genoa") return Product::Genoa;
  if (base == "turin") return Product::Turin;
  return Product::Unknown;
}

std::string to_string(SigningKey k) {
  switch (k) {
    case SigningKey::Vcek: return "vcek";
    case SigningKey::Vlek: return "vlek";
    case SigningKey::None: return "none";
    case SigningKey::Reserved: break;
  }
  return "reserved";
}

TcbVersion TcbVersion::decode(std::uint64_t raw, Product product) {
  TcbVersion t;
  t.raw = raw;
  auto byte = [raw](unsigned i) { return static_cast<std::uint8_t>(raw >> (8 * i)); };
  if (product == Product::Turin) {
    t.fmc = byte(0);
    t.bootloader = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bootloader = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.microcode = byte(7);
  return t;
}

Product Report::cpuid_product() const {
  if (!cpuid) return Product::Unknown;
  const auto fam = cpuid->family;
  const auto mod = cpuid->model;
  if (fam == 0x19) {
    if (mod <= 0x0F) return Product::Milan;
    if ((mod >= 0x10 && mod <= 0x1F) || (mod >= 0xA0 && mod <= 0xAF)) return Product::Genoa;
  }
  if (fam == 0x1A && mod <= 0x1F) return Product::Turin;
  return Product::Unknown;
}

bool Report::chip_id_masked() const { return all_zero(chip_id.data(), chip_id.size()); }

Report parse_report(ByteView data) {
  if (data.size() != kReportSize) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.size", "an SEV-SNP attestation report is exactly 1184 bytes, got " +
                                       std::to_string(data.size()));
  }
  Report r;
  std::memcpy(r.raw.data(), data.data(), kReportSize);
  const std::uint8_t* b = r.raw.data();

  r.version = le32(b + 0x000);
  if (r.version < kMinReportVersion || r.version > kMaxReportVersion) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.unsupported_version",
                "unsupported SEV-SNP report version " + std::to_string(r.version) +
                    " (supported: 2, 3, 4, 5)");
  }
  r.guest_svn = le32(b + 0x004);

  const std::uint64_t pol = le64(b + 0x008);
  r.policy.raw = pol;
  r.policy.abi_minor = static_cast<std::uint8_t>(pol);
  r.policy.abi_major = static_cast<std::uint8_t>(pol >> 8);
  r.policy.smt = bit(pol, 16);
  r.policy.reserved_one = bit(pol, 17);
  r.policy.migrate_ma = bit(pol, 18);
  r.policy.debug = bit(pol, 19);
  r.policy.single_socket = bit(pol, 20);
  r.policy.cxl_allow = bit(pol, 21);
  r.policy.mem_aes_256_xts = bit(pol, 22);
  r.policy.rapl_dis = bit(pol, 23);
  r.policy.ciphertext_hiding = bit(pol, 24);
  r.policy.page_swap_disable = bit(pol, 25);
  if (!r.policy.reserved_one) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.policy_reserved", "guest POLICY bit 17 (reserved, must be 1) is 0");
  }

  copy_at(r.family_id, b, 0x010);
  copy_at(r.image_id, b, 0x020);
  r.vmpl = le32(b + 0x030);
  r.signature_algo = le32(b + 0x034);
  if (r.signature_algo != 1) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.signature_algo",
                "SIGNATURE_ALGO " + std::to_string(r.signature_algo) +
                    " is not 1 (ECDSA P-384 with SHA-384)");
  }
  r.current_tcb = le64(b + 0x038);

  const std::uint64_t pi = le64(b + 0x040);
  r.platform_info.raw = pi;
  r.platform_info.smt_en = bit(pi, 0);
  r.platform_info.tsme_en = bit(pi, 1);
  r.platform_info.ecc_en = bit(pi, 2);
  r.platform_info.rapl_dis = bit(pi, 3);
  r.platform_info.ciphertext_hiding_en = bit(pi, 4);
  r.platform_info.alias_check_complete = bit(pi, 5);
  r.platform_info.tio_en = bit(pi, 7);

  r.key_info = le32(b + 0x048);
  r.author_key_en = bit(r.key_info, 0);
  r.mask_chip_key = bit(r.key_info, 1);
  switch ((r.key_info >> 2) & 7u) {
    case 0: r.signing_key = SigningKey::Vcek; break;
    case 1: r.signing_key = SigningKey::Vlek; break;
    case 7: r.signing_key = SigningKey::None; break;
    default:
      throw Error(ErrorKind::kInvalidInput, "snp.report.signing_key",
                  "KEY_INFO.SIGNING_KEY " + std::to_string((r.key_info >> 2) & 7u) +
                      " is reserved");
  }
  if ((r.key_info >> 5) != 0) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.reserved_nonzero", "KEY_INFO reserved bits 5..31 are not zero");
  }
  require_zero(b, 0x04C, 0x050, "after KEY_INFO");

  copy_at(r.report_data, b, 0x050);
  copy_at(r.measurement, b, 0x090);
  copy_at(r.host_data, b, 0x0C0);
  copy_at(r.id_key_digest, b, 0x0E0);
  copy_at(r.author_key_digest, b, 0x110);
  copy_at(r.report_id, b, 0x140);
  copy_at(r.report_id_ma, b, 0x160);
  r.reported_tcb = le64(b + 0x180);
  if (r.version >= 3) {
    r.cpuid = Cpuid{b[0x188], b[0x189], b[0x18A]};
    require_zero(b, 0x18B, 0x1A0, "after CPUID_STEP");
  } else {
    require_zero(b, 0x188, 0x1A0, "after REPORTED_TCB");
  }
  copy_at(r.chip_id, b, 0x1A0);
  r.committed_tcb = le64(b + 0x1E0);
  r.current_fw = FirmwareVersion{b[0x1EA], b[0x1E9], b[0x1E8]};
  require_zero(b, 0x1EB, 0x1EC, "after CURRENT_MAJOR");
  r.committed_fw = FirmwareVersion{b[0x1EE], b[0x1ED], b[0x1EC]};
  require_zero(b, 0x1EF, 0x1F0, "after COMMITTED_MAJOR");
  r.launch_tcb = le64(b + 0x1F0);
  if (r.version >= 5) {
    r.launch_mit_vector = le64(b + 0x1F8);
    r.current_mit_vector = le64(b + 0x200);
    require_zero(b, 0x208, 0x2A0, "after CURRENT_MIT_VECTOR");
  } else if (r.version >= 3) {
    // v3/v4 reserve 0x1F8..0x207, but firmware that already has the mitigation vectors (Turin)
    // fills them early; they are covered by the signature, so keep them rather than reject.
    if (!all_zero(b + 0x1F8, 16)) {
      r.launch_mit_vector = le64(b + 0x1F8);
      r.current_mit_vector = le64(b + 0x200);
    }
    require_zero(b, 0x208, 0x2A0, "after LAUNCH_TCB");
  } else {
    require_zero(b, 0x1F8, 0x2A0, "after LAUNCH_TCB");
  }
  copy_at(r.signature_r, b, 0x2A0);
  copy_at(r.signature_s, b, 0x2E8);
  require_zero(b, 0x330, kReportSize, "signature padding");
  return r;
}

Bytes decode_report_file(ByteView file) {
  if (file.size() == kReportSize) return Bytes(file.begin(), file.end());
  // Azure's vTPM "HCL report" (magic "HCLA"): the SNP report sits at offset 0x20.
  if (file.size() >= 0x20 + kReportSize && std::memcmp(file.data(), "HCLA", 4) == 0) {
    return Bytes(file.begin() + 0x20, file.begin() + 0x20 + kReportSize);
  }
  // A whole MSG_REPORT_RSP (status, report_size = 1184, 24 reserved bytes, report).
  if (file.size() == 0x20 + kReportSize && le32(file.data()) == 0 &&
      le32(file.data() + 4) == kReportSize) {
    return Bytes(file.begin() + 0x20, file.end());
  }
  // Hex text: strip whitespace, then decode.
  std::string hex;
  hex.reserve(file.size());
  for (std::uint8_t c : file) {
    if (std::isspace(c)) continue;
    if (!std::isxdigit(c)) {
      throw Error(ErrorKind::kInvalidInput, "snp.report.size",
                  "report is neither 1184 raw bytes nor hex text (" + std::to_string(file.size()) +
                      " bytes)");
    }
    hex.push_back(static_cast<char>(c));
  }
  if (hex.size() != 2 * kReportSize) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.size", "hex report decodes to " + std::to_string(hex.size() / 2) +
                                       " bytes, expected 1184");
  }
  try {
    return from_hex(hex);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "snp.report.encoding", std::string("bad hex report: ") + e.what());
  }
}

}  // namespace enarx::attest::snp
