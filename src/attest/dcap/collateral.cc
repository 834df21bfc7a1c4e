#include "attest/dcap/collateral.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"

namespace enarx::attest::dcap {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorKind::kInvalidInput, "dcap.collateral.malformed", what);
}

// ---- exact-span JSON scanning -------------------------------------------------------------

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (at_end()) fail("unterminated escape");
        char e = s_[pos_++];
        if (e == 'u') {
          if (s_.size() - pos_ < 4) fail("short \\u escape");
          out += "\\u";
          out.append(s_.substr(pos_, 4));
          pos_ += 4;
          continue;
        }
        out.push_back(e);
        continue;
      }
      out.push_back(c);
    }
  }
  // Skips one JSON value and returns its exact text.
  std::string_view value() {
    const std::size_t start = pos_;
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      std::string stack;
      while (true) {
        if (at_end()) fail("unbalanced brackets");
        const char d = s_[pos_];
        if (d == '"') {
          string();
          continue;
        }
        ++pos_;
        if (d == '{' || d == '[') {
          if (stack.size() > 256) fail("nesting too deep");
          stack.push_back(d == '{' ? '}' : ']');
        } else if (d == '}' || d == ']') {
          if (stack.empty() || stack.back() != d) fail("unbalanced brackets");
          stack.pop_back();
          if (stack.empty()) break;
        }
      }
    } else {
      while (!at_end() && s_[pos_] != ',' && s_[pos_] != '}' && s_[pos_] != ']' && s_[pos_] != ' ' &&
             s_[pos_] != '\n' && s_[pos_] != '\r' && s_[pos_] != '\t') {
        ++pos_;
      }
      if (pos_ == start) fail("expected a value");
    }
    return s_.substr(start, pos_ - start);
  }
  [[noreturn]] void fail(const std::string& what) const {
    malformed("collateral JSON: " + what + " at offset " + std::to_string(pos_));
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// ---- typed field access -------------------------------------------------------------------

const json& field(const json& obj, const char* name, const std::string& ctx) {
  if (!obj.is_object()) malformed(ctx + " is not an object");
  auto it = obj.find(name);
  if (it == obj.end()) malformed(ctx + " lacks \"" + name + "\"");
  return *it;
}

std::string str_field(const json& obj, const char* name, const std::string& ctx) {
  const auto& v = field(obj, name, ctx);
  if (!v.is_string()) malformed(ctx + "." + name + " is not a string");
  return v.get<std::string>();
}

std::int64_t int_field(const json& obj, const char* name, const std::string& ctx, std::int64_t min,
                       std::int64_t max) {
  const auto& v = field(obj, name, ctx);
  if (!v.is_number_integer()) malformed(ctx + "." + name + " is not an integer");
  const auto n = v.get<std::int64_t>();
  if (n < min || n > max) malformed(ctx + "." + name + " out of range: " + std::to_string(n));
  return n;
}

Bytes hex_field(const json& obj, const char* name, const std::string& ctx, std::size_t size) {
  const std::string text = str_field(obj, name, ctx);
  Bytes b;
  try {
    b = from_hex(text);
  } catch (const Error&) {
    malformed(ctx + "." + name + " is not hex");
  }
  if (b.size() != size) {
    malformed(ctx + "." + name + " must be " + std::to_string(size) + " bytes, got " +
              std::to_string(b.size()));
  }
  return b;
}

TimePoint time_field(const json& obj, const char* name, const std::string& ctx, std::string& text) {
  text = str_field(obj, name, ctx);
  try {
    return parse_rfc3339(text);
  } catch (const Error&) {
    malformed(ctx + "." + name + " is not an RFC 3339 time: " + text);
  }
}

std::vector<std::string> advisories(const json& level, const std::string& ctx) {
  std::vector<std::string> out;
  auto it = level.find("advisoryIDs");
  if (it == level.end()) return out;
  if (!it->is_array()) malformed(ctx + ".advisoryIDs is not an array");
  for (const auto& a : *it) {
    if (!a.is_string()) malformed(ctx + ".advisoryIDs holds a non-string");
    out.push_back(a.get<std::string>());
  }
  return out;
}

std::array<std::uint8_t, 16> components(const json& tcb, const char* name, const std::string& ctx) {
  const auto& arr = field(tcb, name, ctx);
  if (!arr.is_array() || arr.size() != 16) malformed(ctx + "." + name + " must be an array of 16");
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 16; ++i) {
    out[i] = static_cast<std::uint8_t>(
        int_field(arr[i], "svn", ctx + "." + name + "[" + std::to_string(i) + "]", 0, 255));
  }
  return out;
}

std::vector<EnclaveTcbLevel> enclave_levels(const json& obj, const std::string& ctx) {
  const auto& arr = field(obj, "tcbLevels", ctx);
  if (!arr.is_array() || arr.empty()) malformed(ctx + ".tcbLevels must be a non-empty array");
  std::vector<EnclaveTcbLevel> out;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string lctx = ctx + ".tcbLevels[" + std::to_string(i) + "]";
    EnclaveTcbLevel l;
    l.isvsvn = static_cast<std::uint16_t>(int_field(field(arr[i], "tcb", lctx), "isvsvn", lctx + ".tcb", 0, 65535));
    l.tcb_date = str_field(arr[i], "tcbDate", lctx);
    l.status = str_field(arr[i], "tcbStatus", lctx);
    l.advisory_ids = advisories(arr[i], lctx);
    out.push_back(std::move(l));
  }
  return out;
}

TdxModule tdx_module(const json& obj, const std::string& ctx) {
  TdxModule m;
  m.mrsigner = hex_field(obj, "mrsigner", ctx, 48);
  m.attributes = hex_field(obj, "attributes", ctx, 8);
  m.attributes_mask = hex_field(obj, "attributesMask", ctx, 8);
  return m;
}

json parse_json(std::string_view text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    malformed(std::string(what) + " is not valid JSON: " + e.what());
  }
}

Bytes signature_from_hex(std::string_view hex, const char* what) {
  Bytes sig;
  try {
    sig = from_hex(hex);
  } catch (const Error&) {
    malformed(std::string(what) + " signature is not hex");
  }
  if (sig.size() != 64) malformed(std::string(what) + " signature must be 64 bytes (r || s)");
  return sig;
}

template <typename T>
Signed<T> make_signed(T value, std::string_view body, Bytes sig) {
  Signed<T> s;
  s.value = std::move(value);
  s.signed_body = std::string(body);
  s.signature = std::move(sig);
  s.body_sha256 = sha256(as_bytes(body));
  return s;
}

template <typename T, typename ParseBody>
Signed<T> parse_document(std::string_view doc, const char* key, ParseBody parse_body) {
  // Validate the whole document as JSON first, then take the exact span of the signed value.
  json j = parse_json(doc, key);
  if (!j.is_object()) malformed(std::string("collateral document is not a JSON object"));
  auto span = json_member_span(doc, key);
  if (!span) malformed(std::string("collateral document lacks \"") + key + "\"");
  const std::string sig_hex = str_field(j, "signature", "document");
  return make_signed<T>(parse_body(*span), *span, signature_from_hex(sig_hex, key));
}

}  // namespace

std::optional<std::string_view> json_member_span(std::string_view text, std::string_view key) {
  Scanner s(text);
  s.ws();
  s.expect('{');
  std::optional<std::string_view> found;
  std::set<std::string> seen;
  s.ws();
  if (s.peek() == '}') return found;
  while (true) {
    s.ws();
    std::string k = s.string();
    if (!seen.insert(k).second) s.fail("duplicate member \"" + k + "\"");
    s.ws();
    s.expect(':');
    s.ws();
    auto v = s.value();
    if (k == key) found = v;
    s.ws();
    if (s.peek() == ',') {
      s.expect(',');
      continue;
    }
    s.expect('}');
    break;
  }
  s.ws();
  if (!s.at_end()) s.fail("trailing text after the object");
  return found;
}

TcbInfo parse_tcb_info_body(std::string_view body) {
  const json j = parse_json(body, "tcbInfo");
  const std::string ctx = "tcbInfo";
  TcbInfo t;
  t.version = static_cast<int>(int_field(j, "version", ctx, 0, 1000));
  if (t.version != 2 && t.version != 3) {
    throw Error(ErrorKind::kInvalidInput, "dcap.collateral.unsupported_version",
                "TCB info version " + std::to_string(t.version) + " (supported: 2, 3)");
  }
  t.id = t.version >= 3 ? str_field(j, "id", ctx) : std::string("SGX");
  if (t.id != "SGX" && t.id != "TDX") malformed("tcbInfo.id must be SGX or TDX, got " + t.id);
  t.issue_date_tp = time_field(j, "issueDate", ctx, t.issue_date);
  t.next_update_tp = time_field(j, "nextUpdate", ctx, t.next_update);
  t.fmspc = hex_field(j, "fmspc", ctx, 6);
  t.pce_id = hex_field(j, "pceId", ctx, 2);
  t.tcb_type = static_cast<int>(int_field(j, "tcbType", ctx, 0, 0));
  t.tcb_evaluation_data_number = int_field(j, "tcbEvaluationDataNumber", ctx, 0, INT64_MAX);
  if (t.id == "TDX") {
    if (j.contains("tdxModule")) t.tdx_module = tdx_module(j.at("tdxModule"), ctx + ".tdxModule");
    if (j.contains("tdxModuleIdentities")) {
      const auto& ids = j.at("tdxModuleIdentities");
      if (!ids.is_array()) malformed("tcbInfo.tdxModuleIdentities is not an array");
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string ictx = ctx + ".tdxModuleIdentities[" + std::to_string(i) + "]";
        TdxModuleIdentity m;
        m.id = str_field(ids[i], "id", ictx);
        m.module = tdx_module(ids[i], ictx);
        m.levels = enclave_levels(ids[i], ictx);
        t.tdx_module_identities.push_back(std::move(m));
      }
    }
  }
  const auto& levels = field(j, "tcbLevels", ctx);
  if (!levels.is_array() || levels.empty()) malformed("tcbInfo.tcbLevels must be a non-empty array");
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const std::string lctx = ctx + ".tcbLevels[" + std::to_string(i) + "]";
    const auto& tcb = field(levels[i], "tcb", lctx);
    TcbLevel l;
    if (t.version == 2) {
      for (int c = 1; c <= 16; ++c) {
        const std::string name = std::string("sgxtcbcomp") + (c < 10 ? "0" : "") + std::to_string(c) + "svn";
        l.sgx_components[static_cast<std::size_t>(c - 1)] =
            static_cast<std::uint8_t>(int_field(tcb, name.c_str(), lctx + ".tcb", 0, 255));
      }
    } else {
      l.sgx_components = components(tcb, "sgxtcbcomponents", lctx + ".tcb");
      if (t.id == "TDX") l.tdx_components = components(tcb, "tdxtcbcomponents", lctx + ".tcb");
    }
    l.pcesvn = static_cast<std::uint16_t>(int_field(tcb, "pcesvn", lctx + ".tcb", 0, 65535));
    l.tcb_date = str_field(levels[i], "tcbDate", lctx);
    l.status = str_field(levels[i], "tcbStatus", lctx);
    l.advisory_ids = advisories(levels[i], lctx);
    t.levels.push_back(std::move(l));
  }
  return t;
}

EnclaveIdentity parse_enclave_identity_body(std::string_view body) {
  const json j = parse_json(body, "enclaveIdentity");
  const std::string ctx = "enclaveIdentity";
  EnclaveIdentity e;
  e.version = static_cast<int>(int_field(j, "version", ctx, 0, 1000));
  if (e.version != 2) {
    throw Error(ErrorKind::kInvalidInput, "dcap.collateral.unsupported_version",
                "enclave identity version " + std::to_string(e.version) + " (supported: 2)");
  }
  e.id = str_field(j, "id", ctx);
  if (e.id != "QE" && e.id != "QVE" && e.id != "TD_QE") malformed("enclaveIdentity.id unknown: " + e.id);
  e.issue_date_tp = time_field(j, "issueDate", ctx, e.issue_date);
  e.next_update_tp = time_field(j, "nextUpdate", ctx, e.next_update);
  e.tcb_evaluation_data_number = int_field(j, "tcbEvaluationDataNumber", ctx, 0, INT64_MAX);
  auto le32 = [](const Bytes& b) {
    // MISCSELECT is shown as the little-endian bytes of the 32-bit field, like the report.
    return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
           (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  };
  e.miscselect = le32(hex_field(j, "miscselect", ctx, 4));
  e.miscselect_mask = le32(hex_field(j, "miscselectMask", ctx, 4));
  e.attributes = hex_field(j, "attributes", ctx, 16);
  e.attributes_mask = hex_field(j, "attributesMask", ctx, 16);
  e.mrsigner = hex_field(j, "mrsigner", ctx, 32);
  e.isvprodid = static_cast<std::uint16_t>(int_field(j, "isvprodid", ctx, 0, 65535));
  e.levels = enclave_levels(j, ctx);
  return e;
}

SignedTcbInfo parse_tcb_info_document(std::string_view doc) {
  return parse_document<TcbInfo>(doc, "tcbInfo", parse_tcb_info_body);
}

SignedEnclaveIdentity parse_enclave_identity_document(std::string_view doc) {
  return parse_document<EnclaveIdentity>(doc, "enclaveIdentity", parse_enclave_identity_body);
}

SignedTcbInfo parse_tcb_info_parts(std::string_view body, std::string_view signature_hex) {
  return make_signed<TcbInfo>(parse_tcb_info_body(body), body,
                              signature_from_hex(signature_hex, "tcbInfo"));
}

SignedEnclaveIdentity parse_enclave_identity_parts(std::string_view body,
                                                   std::string_view signature_hex) {
  return make_signed<EnclaveIdentity>(parse_enclave_identity_body(body), body,
                                      signature_from_hex(signature_hex, "enclaveIdentity"));
}

Crl load_crl_file(const std::filesystem::path& path) {
  const Bytes data = read_file(path, 16u << 20);
  try {
    return Crl::from_bytes(data);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "dcap.crl.malformed", path.string() + ": " + e.what());
  }
}

Collateral load_collateral_dir(const std::filesystem::path& dir, ByteView fmspc, bool tdx) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorKind::kInvalidInput, "dcap.collateral.io", "collateral directory " + dir.string() + " does not exist");
  }
  Collateral c;
  auto existing = [&](const std::string& name) -> std::optional<fs::path> {
    fs::path p = dir / name;
    if (fs::exists(p, ec)) return p;
    return std::nullopt;
  };
  const std::string fmspc_hex = to_hex(fmspc);
  std::string upper = fmspc_hex;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string prefix = tdx ? "tdx-tcbinfo-" : "tcbinfo-";
  auto tcb = existing(prefix + fmspc_hex + ".json");
  if (!tcb) tcb = existing(prefix + upper + ".json");
  if (tcb) c.tcb_info = parse_tcb_info_document(read_text_file(*tcb, 4u << 20));
  if (auto qe = existing(tdx ? "td_qe_identity.json" : "qe_identity.json")) {
    c.qe_identity = parse_enclave_identity_document(read_text_file(*qe, 4u << 20));
  }
  if (auto chain = existing("tcb_signing_chain.pem")) {
    c.tcb_signing_chain = Certificate::chain_from_pem(read_text_file(*chain, 1u << 20));
  }
  for (const char* name : {"root_ca_crl.der", "pck_processor_crl.der", "pck_platform_crl.der"}) {
    if (auto p = existing(name)) c.crls.push_back(load_crl_file(*p));
  }
  return c;
}

Collateral parse_dcap_qvl_collateral(std::string_view text) {
  const json j = parse_json(text, "dcap-qvl collateral");
  if (!j.is_object()) malformed("dcap-qvl collateral is not an object");
  Collateral c;
  c.tcb_info = parse_tcb_info_parts(str_field(j, "tcb_info", "collateral"),
                                    str_field(j, "tcb_info_signature", "collateral"));
  c.qe_identity = parse_enclave_identity_parts(str_field(j, "qe_identity", "collateral"),
                                               str_field(j, "qe_identity_signature", "collateral"));
  if (j.contains("tcb_info_issuer_chain")) {
    c.tcb_signing_chain = Certificate::chain_from_pem(str_field(j, "tcb_info_issuer_chain", "collateral"));
  }
  for (const char* name : {"root_ca_crl", "pck_crl"}) {
    if (!j.contains(name)) continue;
    Bytes der;
    try {
      der = from_hex(str_field(j, name, "collateral"));
    } catch (const Error&) {
      malformed(std::string("collateral.") + name + " is not hex DER");
    }
    try {
      c.crls.push_back(Crl::from_der(der));
    } catch (const Error& e) {
      throw Error(ErrorKind::kInvalidInput, "dcap.crl.malformed", std::string(name) + ": " + e.what());
    }
  }
  return c;
}

}  // namespace enarx::attest::dcap
