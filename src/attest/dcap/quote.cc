#include "attest/dcap/quote.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace enarx::attest::dcap {

const std::array<std::uint8_t, 16> kIntelQeVendorId = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c,
                                                       0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3,
                                                       0x95, 0x7f, 0x06, 0x07};

namespace {

// Forward-only reader over untrusted bytes; every read is bounds-checked against `end_`.
class Cursor {
 public:
  Cursor(ByteView data, std::size_t begin, std::size_t end) : data_(data), pos_(begin), end_(end) {}
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return end_ - pos_; }
  ByteView take(std::size_t n, const char* what) {
    if (n > remaining()) {
      throw Error(ErrorKind::kInvalidInput, "dcap.quote.truncated", std::string("quote truncated reading ") + what + " at offset " +
                                              std::to_string(pos_) + " (need " + std::to_string(n) +
                                              " bytes, have " + std::to_string(remaining()) + ")");
    }
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  Bytes bytes(std::size_t n, const char* what) {
    auto v = take(n, what);
    return Bytes(v.begin(), v.end());
  }
  std::uint16_t u16(const char* what) {
    auto v = take(2, what);
    return static_cast<std::uint16_t>(v[0] | (v[1] << 8));
  }
  std::uint32_t u32(const char* what) {
    auto v = take(4, what);
    return static_cast<std::uint32_t>(v[0]) | (static_cast<std::uint32_t>(v[1]) << 8) |
           (static_cast<std::uint32_t>(v[2]) << 16) | (static_cast<std::uint32_t>(v[3]) << 24);
  }

 private:
  ByteView data_;
  std::size_t pos_;
  std::size_t end_;
};

std::uint64_t le64(const Bytes& b, std::size_t off) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b.at(off + i)) << (8 * i);
  return v;
}

Bytes slice(ByteView v, std::size_t off, std::size_t n) {
  return Bytes(v.begin() + static_cast<std::ptrdiff_t>(off),
               v.begin() + static_cast<std::ptrdiff_t>(off + n));
}

SgxReportBody parse_sgx_report(ByteView raw) {
  SgxReportBody r;
  r.raw.assign(raw.begin(), raw.end());
  r.cpusvn = slice(raw, 0, 16);
  r.misc_select = static_cast<std::uint32_t>(raw[16]) | (static_cast<std::uint32_t>(raw[17]) << 8) |
                  (static_cast<std::uint32_t>(raw[18]) << 16) |
                  (static_cast<std::uint32_t>(raw[19]) << 24);
  r.isv_ext_prod_id = slice(raw, 32, 16);
  r.attributes = slice(raw, 48, 16);
  r.mrenclave = slice(raw, 64, 32);
  r.mrsigner = slice(raw, 128, 32);
  r.config_id = slice(raw, 192, 64);
  r.isv_prod_id = static_cast<std::uint16_t>(raw[256] | (raw[257] << 8));
  r.isv_svn = static_cast<std::uint16_t>(raw[258] | (raw[259] << 8));
  r.config_svn = static_cast<std::uint16_t>(raw[260] | (raw[261] << 8));
  r.isv_family_id = slice(raw, 304, 16);
  r.report_data = slice(raw, 320, 64);
  return r;
}

TdReportBody parse_td_report(ByteView raw) {
  TdReportBody r;
  r.raw.assign(raw.begin(), raw.end());
  r.tee_tcb_svn = slice(raw, 0, 16);
  r.mrseam = slice(raw, 16, 48);
  r.mrsignerseam = slice(raw, 64, 48);
  r.seam_attributes = slice(raw, 112, 8);
  r.td_attributes = slice(raw, 120, 8);
  r.xfam = slice(raw, 128, 8);
  r.mrtd = slice(raw, 136, 48);
  r.mrconfigid = slice(raw, 184, 48);
  r.mrowner = slice(raw, 232, 48);
  r.mrownerconfig = slice(raw, 280, 48);
  for (std::size_t i = 0; i < 4; ++i) r.rtmr[i] = slice(raw, 328 + 48 * i, 48);
  r.report_data = slice(raw, 520, 64);
  if (raw.size() == kTdReport15Size) {
    r.tee_tcb_svn2 = slice(raw, 584, 16);
    r.mrservicetd = slice(raw, 600, 48);
  }
  return r;
}

}  // namespace

std::uint64_t SgxReportBody::flags() const { return attributes.size() == 16 ? le64(attributes, 0) : 0; }
std::uint64_t SgxReportBody::xfrm() const { return attributes.size() == 16 ? le64(attributes, 8) : 0; }
std::uint64_t TdReportBody::td_attributes_u64() const {
  return td_attributes.size() == 8 ? le64(td_attributes, 0) : 0;
}
std::uint64_t TdReportBody::seam_attributes_u64() const {
  return seam_attributes.size() == 8 ? le64(seam_attributes, 0) : 0;
}

Quote parse_quote(ByteView data, const ParseOptions& options) {
  Quote q;
  Cursor c(data, 0, data.size());
  q.header.version = c.u16("header.version");
  q.header.att_key_type = c.u16("header.att_key_type");
  q.header.tee_type = c.u32("header.tee_type");
  q.header.qe_svn = c.u16("header.qe_svn");
  q.header.pce_svn = c.u16("header.pce_svn");
  q.header.qe_vendor_id = c.bytes(16, "header.qe_vendor_id");
  q.header.user_data = c.bytes(20, "header.user_data");

  const auto version = q.header.version;
  require(version == 3 || version == 4 || version == 5, ErrorKind::kInvalidInput, "dcap.quote.unsupported_version",
          "unsupported quote version " + std::to_string(version) + " (supported: 3, 4, 5)");
  require(q.header.att_key_type == kAttKeyEcdsaP256, ErrorKind::kInvalidInput, "dcap.quote.unsupported_key_type",
          "unsupported attestation key type " + std::to_string(q.header.att_key_type) +
              " (only 2 = ECDSA-256-with-P-256)");
  require(q.header.tee_type == kTeeTypeSgx || q.header.tee_type == kTeeTypeTdx, ErrorKind::kInvalidInput,
          "dcap.quote.unsupported_tee_type",
          "unsupported TEE type 0x" + to_hex(slice(data, 4, 4)) + " (0 = SGX, 0x81 = TDX)");
  require(version != 3 || q.header.tee_type == kTeeTypeSgx, ErrorKind::kInvalidInput, "dcap.quote.unsupported_tee_type",
          "quote v3 must be SGX");
  require(std::equal(q.header.qe_vendor_id.begin(), q.header.qe_vendor_id.end(),
                     kIntelQeVendorId.begin()), ErrorKind::kInvalidInput,
          "dcap.quote.unknown_qe_vendor",
          "QE vendor ID " + to_hex(q.header.qe_vendor_id) + " is not Intel's");

  std::size_t body_size = 0;
  if (version == 5) {
    q.body_type = c.u16("body type");
    const std::uint32_t size = c.u32("body size");
    switch (q.body_type) {
      case 1: body_size = kSgxReportSize; break;
      case 2: body_size = kTdReport10Size; break;
      case 3: body_size = kTdReport15Size; break;
      default:
        throw Error(ErrorKind::kInvalidInput, "dcap.quote.bad_body", "unknown v5 body type " + std::to_string(q.body_type));
    }
    require(size == body_size, ErrorKind::kInvalidInput, "dcap.quote.bad_body",
            "v5 body type " + std::to_string(q.body_type) + " must be " +
                std::to_string(body_size) + " bytes, size field says " + std::to_string(size));
    require((q.body_type == 1) == (q.header.tee_type == kTeeTypeSgx), ErrorKind::kInvalidInput, "dcap.quote.bad_body",
            "v5 body type does not match the header TEE type");
  } else if (q.header.tee_type == kTeeTypeSgx) {
    q.body_type = 1;
    body_size = kSgxReportSize;
  } else {
    q.body_type = 2;
    body_size = kTdReport10Size;
  }
  auto body = c.take(body_size, "report body");
  if (q.body_type == 1) {
    q.sgx = parse_sgx_report(body);
  } else {
    q.td = parse_td_report(body);
  }
  q.signed_data = slice(data, 0, c.pos());

  const std::uint32_t sig_len = c.u32("signature data length");
  require(sig_len <= c.remaining(), ErrorKind::kInvalidInput, "dcap.quote.truncated",
          "signature data length " + std::to_string(sig_len) + " exceeds the remaining " +
              std::to_string(c.remaining()) + " bytes");
  const std::size_t sig_end = c.pos() + sig_len;
  Cursor s(data, c.pos(), sig_end);
  q.signature = s.bytes(64, "quote signature");
  q.attestation_key = s.bytes(64, "attestation key");

  // v3 carries the QE report directly; v4/v5 wrap it in certification data type 6.
  Cursor qe = s;
  std::size_t qe_end = sig_end;
  if (version == 3) {
    q.outer_cert_data_type = 5;
  } else {
    q.outer_cert_data_type = s.u16("certification data type");
    const std::uint32_t size = s.u32("certification data size");
    require(q.outer_cert_data_type == 6, ErrorKind::kInvalidInput, "dcap.quote.unsupported_cert_data_type",
            "v4/v5 certification data type " + std::to_string(q.outer_cert_data_type) +
                " (only 6 = QE report certification data)");
    require(size == s.remaining(), ErrorKind::kInvalidInput, "dcap.quote.bad_signature_data",
            "certification data size " + std::to_string(size) + " does not fill the signature data (" +
                std::to_string(s.remaining()) + " bytes left)");
    qe = Cursor(data, s.pos(), sig_end);
    qe_end = sig_end;
  }
  q.qe_report = parse_sgx_report(qe.take(kSgxReportSize, "QE report"));
  q.qe_report_signature = qe.bytes(64, "QE report signature");
  const std::uint16_t auth_len = qe.u16("QE auth data size");
  q.qe_auth_data = qe.bytes(auth_len, "QE auth data");
  q.cert_data_type = qe.u16("PCK certification data type");
  const std::uint32_t cert_size = qe.u32("PCK certification data size");
  require(q.cert_data_type == 5, ErrorKind::kInvalidInput, "dcap.quote.unsupported_cert_data_type",
          "certification data type " + std::to_string(q.cert_data_type) +
              " (only 5 = PEM PCK certificate chain)");
  q.cert_data = qe.bytes(cert_size, "PCK certification data");
  require(qe.pos() == qe_end, ErrorKind::kInvalidInput, "dcap.quote.bad_signature_data",
          std::to_string(qe_end - qe.pos()) + " unexplained bytes inside the signature data");

  q.size = sig_end;
  const auto tail = data.subspan(sig_end);
  q.trailing_bytes = tail.size();
  q.trailing_all_zero = std::all_of(tail.begin(), tail.end(), [](std::uint8_t b) { return b == 0; });
  require(q.trailing_all_zero || !options.strict_trailing, ErrorKind::kInvalidInput, "dcap.quote.trailing_data",
          "non-zero bytes after the signature data (offset " + std::to_string(sig_end) + ")");
  return q;
}

Bytes decode_quote_file(ByteView contents) {
  auto is_hex_text = [](std::uint8_t ch) {
    return std::isxdigit(ch) || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' || ch == 'x' ||
           ch == 'X';
  };
  if (contents.empty() || !std::all_of(contents.begin(), contents.end(), is_hex_text)) {
    return Bytes(contents.begin(), contents.end());
  }
  std::string hex;
  std::string_view text = as_string(contents);
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  if (text.substr(start, 2) == "0x" || text.substr(start, 2) == "0X") start += 2;
  for (std::size_t i = start; i < text.size(); ++i) {
    const char ch = text[i];
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      throw Error(ErrorKind::kInvalidInput, "dcap.quote.hex", "quote hex text has a stray character at offset " + std::to_string(i));
    }
    hex.push_back(ch);
  }
  try {
    return from_hex(hex);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "dcap.quote.hex", std::string("quote hex text: ") + e.what());
  }
}

}  // namespace enarx::attest::dcap
