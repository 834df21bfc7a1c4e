#include "attest/snp/vcek.h"

#include "core/error.h"

namespace enarx::attest::snp {
namespace {

constexpr const char* kOidStructVersion = "1.3.6.1.4.1.3704.1.1";
constexpr const char* kOidProductName = "1.3.6.1.4.1.3704.1.2";
constexpr const char* kOidBlSpl = "1.3.6.1.4.1.3704.1.3.1";
constexpr const char* kOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
constexpr const char* kOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
constexpr const char* kOidUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
constexpr const char* kOidFmcSpl = "1.3.6.1.4.1.3704.1.3.9";
constexpr const char* kOidHwId = "1.3.6.1.4.1.3704.1.4";
constexpr const char* kOidCspId = "1.3.6.1.4.1.3704.1.5";

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorKind::kInvalidInput, "snp.vcek.malformed", "VCEK/VLEK extension " + what);
}

// One short DER TLV spanning all of `v` (these values are tiny: at most a few hundred bytes).
ByteView single_tlv(ByteView v, std::uint8_t tag, const char* oid) {
  if (v.size() < 2 || v[0] != tag) malformed(std::string(oid) + " has an unexpected encoding");
  std::size_t len = v[1];
  std::size_t hdr = 2;
  if (len == 0x81) {
    if (v.size() < 3 || v[2] < 0x80) malformed(std::string(oid) + " has a bad length");
    len = v[2];
    hdr = 3;
  } else if (len > 0x7f) {
    malformed(std::string(oid) + " is too long");
  }
  if (hdr + len != v.size()) malformed(std::string(oid) + " has a bad length");
  return v.subspan(hdr);
}

std::int64_t read_int(ByteView v, const char* oid) {
  ByteView c = single_tlv(v, 0x02, oid);
  if (c.empty() || c.size() > 8) malformed(std::string(oid) + " is not a small INTEGER");
  if (c[0] & 0x80) malformed(std::string(oid) + " is negative");
  std::int64_t out = 0;
  for (std::uint8_t b : c) out = (out << 8) | b;
  return out;
}

std::uint8_t read_spl(const Certificate& cert, const char* oid, const char* name) {
  auto ext = cert.extension(oid);
  if (!ext) malformed(std::string("missing ") + name + " (" + oid + ")");
  std::int64_t v = read_int(ext->value, oid);
  if (v > 255) malformed(std::string(name) + " is out of range");
  return static_cast<std::uint8_t>(v);
}

}  // namespace

VcekInfo parse_vcek_extensions(const Certificate& cert) {
  VcekInfo info;
  if (auto ext = cert.extension(kOidStructVersion)) {
    info.struct_version = read_int(ext->value, kOidStructVersion);
  }
  auto name = cert.extension(kOidProductName);
  if (!name) malformed("missing productName (1.3.6.1.4.1.3704.1.2)");
  ByteView s = single_tlv(name->value, 0x16, kOidProductName);
  info.product_name = std::string(as_string(s));
  info.product = product_from_name(info.product_name);
  info.bl_spl = read_spl(cert, kOidBlSpl, "blSPL");
  info.tee_spl = read_spl(cert, kOidTeeSpl, "teeSPL");
  info.snp_spl = read_spl(cert, kOidSnpSpl, "snpSPL");
  info.ucode_spl = read_spl(cert, kOidUcodeSpl, "ucodeSPL");
  if (cert.extension(kOidFmcSpl)) info.fmc_spl = read_spl(cert, kOidFmcSpl, "fmcSPL");
  if (auto hw = cert.extension(kOidHwId)) {
    ByteView v = hw->value;
    // Raw bytes is what AMD KDS issues; a DER OCTET STRING wrapping 64 or 8 bytes is accepted
    // too (the "legacy" encoding some tools produce).
    if ((v.size() == 66 && v[0] == 0x04 && v[1] == 0x40) ||
        (v.size() == 10 && v[0] == 0x04 && v[1] == 0x08)) {
      v = v.subspan(2);
    }
    if (v.size() != 64 && v.size() != 8) malformed("hwID has length " + std::to_string(v.size()));
    info.hw_id = Bytes(v.begin(), v.end());
  }
  if (auto csp = cert.extension(kOidCspId)) {
    // csp_id is a DER string (IA5/UTF8); keep the text, whatever the string type.
    ByteView v = csp->value;
    if (v.size() >= 2 && v[1] < 0x80 && v.size() == 2u + v[1]) v = v.subspan(2);
    info.csp_id = std::string(as_string(v));
  }
  return info;
}

}  // namespace enarx::attest::snp
