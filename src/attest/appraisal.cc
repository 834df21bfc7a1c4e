#include "attest/appraisal.h"

namespace enarx::attest {

std::string to_string(Platform p) {
  switch (p) {
    case Platform::Kvm: return "kvm";
    case Platform::Snp: return "snp";
    case Platform::Sgx: return "sgx";
    case Platform::Tdx: return "tdx";
  }
  return "unknown";
}

}  // namespace enarx::attest
