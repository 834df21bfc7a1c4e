#include "attest/enarx/binding.h"

#include <algorithm>

#include "core/error.h"

namespace enarx {

std::string to_string(Platform p) {
  switch (p) {
    case Platform::Nil: return "nil";
    case Platform::Kvm: return "kvm";
    case Platform::Snp: return "snp";
    case Platform::Sgx: return "sgx";
    case Platform::Tdx: return "tdx";
  }
  return "unknown";
}

Platform platform_from_string(std::string_view name) {
  for (Platform p : {Platform::Nil, Platform::Kvm, Platform::Snp, Platform::Sgx, Platform::Tdx})
    if (name == to_string(p)) return p;
  throw Error(ErrorKind::kInvalidInput, "platform.unknown", "unknown platform '" + std::string(name.substr(0, 40)) +
                                      "' (expected nil, kvm, snp, tdx or sgx)");
}

namespace attest {

DigestAlgorithm binding_digest(Platform p) {
  return p == Platform::Snp || p == Platform::Tdx ? DigestAlgorithm::Sha384 : DigestAlgorithm::Sha256;
}

KeyType keep_key_type(Platform p) {
  return p == Platform::Snp || p == Platform::Tdx ? KeyType::EcP384 : KeyType::EcP256;
}

std::vector<KeyType> csr_key_types(Platform p) {
  if (p == Platform::Kvm || p == Platform::Nil) return {KeyType::EcP256, KeyType::EcP384};
  return {keep_key_type(p)};
}

Bytes report_data_for_spki(Platform p, ByteView spki_der) {
  Bytes out = digest(binding_digest(p), spki_der);
  out.resize(64, 0);
  return out;
}

bool report_data_binds(Platform p, ByteView report_data, ByteView spki_der) {
  const Bytes want = report_data_for_spki(p, spki_der);
  return std::equal(want.begin(), want.end(), report_data.begin(), report_data.end());
}

}  // namespace attest
}  // namespace enarx
