// The one list of platforms a keep can run on, shared by every component (the keep's platform
// detection, the attestation library, steward, relying parties).
#pragma once

#include <string>
#include <string_view>

namespace enarx {

// nil: no isolation at all; kvm: a VM guest without memory encryption (no evidence);
// snp / tdx: confidential VM guests; sgx: inside an SGX enclave under a LibOS (Gramine).
enum class Platform { Nil, Kvm, Snp, Sgx, Tdx };

std::string to_string(Platform p);  // "nil", "kvm", "snp", "sgx", "tdx"
// Throws Error("platform.unknown") for any other name.
Platform platform_from_string(std::string_view name);

}  // namespace enarx
