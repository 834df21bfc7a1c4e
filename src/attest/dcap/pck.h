// The Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1): platform identity and the
// TCB the PCK certificate was issued for. A small bounds-checked DER walk (core/der.h).
//
// Errors: dcap.pck.extension_missing, dcap.pck.extension_malformed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest::dcap {

inline constexpr const char* kSgxExtensionOid = "1.2.840.113741.1.13.1";

struct PckExtension {
  Bytes ppid;                               // 16
  std::array<std::uint8_t, 16> tcb_components{};  // SGX TCB component SVNs 1..16
  std::uint16_t pcesvn = 0;
  Bytes cpusvn;                             // 16
  Bytes pce_id;                             // 2
  Bytes fmspc;                              // 6
  int sgx_type = 0;                         // 0 Standard, 1 Scalable, 2 Scalable with integrity
  std::optional<Bytes> platform_instance_id;  // 16 (Platform CA PCKs)
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
};

// Parses the extension's value (the content of extnValue).
PckExtension parse_pck_extension(ByteView extension_value);
// Finds and parses the extension in `pck`; throws dcap.pck.extension_missing when absent.
PckExtension parse_pck_extension(const Certificate& pck);

std::string sgx_type_name(int sgx_type);  // "Standard", "Scalable", "ScalableWithIntegrity"

}  // namespace enarx::attest::dcap
