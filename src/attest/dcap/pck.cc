#include "attest/dcap/pck.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest::dcap {
namespace {

constexpr std::string_view kPrefix = "1.2.840.113741.1.13.1.";

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorKind::kInvalidInput, "dcap.pck.extension_malformed", "PCK SGX extension: " + what);
}

Bytes fixed_octets(der::Reader& r, std::size_t n, const char* what) {
  auto v = r.read_octet_string();
  if (v.size() != n) {
    malformed(std::string(what) + " must be " + std::to_string(n) + " bytes, got " +
              std::to_string(v.size()));
  }
  return Bytes(v.begin(), v.end());
}

std::int64_t bounded_integer(der::Reader& r, std::int64_t max, const char* what) {
  const auto v = r.read_small_integer();
  if (v < 0 || v > max) malformed(std::string(what) + " out of range: " + std::to_string(v));
  return v;
}

void parse_tcb(der::Reader tcb, PckExtension& out, unsigned& seen) {
  while (!tcb.empty()) {
    auto entry = tcb.read_sequence();
    const std::string oid = entry.read_oid();
    if (oid.rfind(std::string(kPrefix) + "2.", 0) != 0) malformed("unexpected TCB entry " + oid);
    const std::string tail = oid.substr(kPrefix.size() + 2);
    int index = 0;
    try {
      std::size_t used = 0;
      index = std::stoi(tail, &used);
      if (used != tail.size()) malformed("bad TCB entry OID " + oid);
    } catch (const std::logic_error&) {
      malformed("bad TCB entry OID " + oid);
    }
    if (index >= 1 && index <= 16) {
      out.tcb_components[static_cast<std::size_t>(index - 1)] =
          static_cast<std::uint8_t>(bounded_integer(entry, 255, "TCB component SVN"));
      seen |= 1u << (index - 1);
    } else if (index == 17) {
      out.pcesvn = static_cast<std::uint16_t>(bounded_integer(entry, 65535, "PCESVN"));
      seen |= 1u << 16;
    } else if (index == 18) {
      out.cpusvn = fixed_octets(entry, 16, "CPUSVN");
      seen |= 1u << 17;
    } else {
      malformed("unknown TCB entry " + oid);
    }
    entry.expect_end();
  }
}

void parse_configuration(der::Reader cfg, PckExtension& out) {
  while (!cfg.empty()) {
    auto entry = cfg.read_sequence();
    const std::string oid = entry.read_oid();
    if (oid == std::string(kPrefix) + "7.1") {
      out.dynamic_platform = entry.read_boolean();
    } else if (oid == std::string(kPrefix) + "7.2") {
      out.cached_keys = entry.read_boolean();
    } else if (oid == std::string(kPrefix) + "7.3") {
      out.smt_enabled = entry.read_boolean();
    } else {
      continue;  // future configuration flags: ignore (entry is skipped as a whole)
    }
    entry.expect_end();
  }
}

}  // namespace

PckExtension parse_pck_extension(ByteView value) {
  PckExtension out;
  bool have_ppid = false, have_pceid = false, have_fmspc = false, have_type = false;
  unsigned tcb_seen = 0;
  try {
    der::Reader top(value);
    auto seq = top.read_sequence();
    top.expect_end();
    while (!seq.empty()) {
      auto entry = seq.read_sequence();
      const std::string oid = entry.read_oid();
      if (oid.rfind(kPrefix, 0) != 0) malformed("unexpected entry " + oid);
      const std::string id = oid.substr(kPrefix.size());
      if (id == "1") {
        out.ppid = fixed_octets(entry, 16, "PPID");
        have_ppid = true;
      } else if (id == "2") {
        parse_tcb(entry.read_sequence(), out, tcb_seen);
      } else if (id == "3") {
        out.pce_id = fixed_octets(entry, 2, "PCE-ID");
        have_pceid = true;
      } else if (id == "4") {
        out.fmspc = fixed_octets(entry, 6, "FMSPC");
        have_fmspc = true;
      } else if (id == "5") {
        auto e = entry.read(0x0a);  // ENUMERATED
        if (e.value.size() != 1 || e.value[0] > 2) malformed("SGX type out of range");
        out.sgx_type = e.value[0];
        have_type = true;
      } else if (id == "6") {
        out.platform_instance_id = fixed_octets(entry, 16, "PlatformInstanceID");
      } else if (id == "7") {
        parse_configuration(entry.read_sequence(), out);
      } else {
        continue;  // unknown future entries are skipped
      }
      entry.expect_end();
    }
  } catch (const Error& e) {
    if (e.code() == "dcap.pck.extension_malformed") throw;
    throw Error(ErrorKind::kInvalidInput, "dcap.pck.extension_malformed", std::string("PCK SGX extension: ") + e.what());
  }
  if (!have_ppid || !have_pceid || !have_fmspc || !have_type) {
    malformed("missing PPID, PCE-ID, FMSPC or SGX type");
  }
  if (tcb_seen != 0x3ffffu) malformed("incomplete TCB (need 16 components, PCESVN and CPUSVN)");
  return out;
}

PckExtension parse_pck_extension(const Certificate& pck) {
  auto ext = pck.extension(kSgxExtensionOid);
  require(ext.has_value(), ErrorKind::kUntrusted, "dcap.pck.extension_missing",
          "PCK certificate has no SGX extension (" + std::string(kSgxExtensionOid) + ")");
  return parse_pck_extension(ext->value);
}

std::string sgx_type_name(int sgx_type) {
  switch (sgx_type) {
    case 0: return "Standard";
    case 1: return "Scalable";
    case 2: return "ScalableWithIntegrity";
  }
  return "Unknown";
}

}  // namespace enarx::attest::dcap
