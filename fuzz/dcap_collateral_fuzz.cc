// libFuzzer target: the collateral JSON parsers (exact-span scanner, TCB info v2/v3 SGX/TDX,
// enclave identity, dcap-qvl collateral). Any input must parse or throw enarx::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attest/dcap/collateral.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace dcap = enarx::attest::dcap;
  try {
    (void)dcap::json_member_span(text, "tcbInfo");
  } catch (const enarx::Error&) {
  }
  try {
    (void)dcap::parse_tcb_info_document(text);
  } catch (const enarx::Error&) {
  }
  try {
    (void)dcap::parse_enclave_identity_document(text);
  } catch (const enarx::Error&) {
  }
  try {
    (void)dcap::parse_tcb_info_body(text);
  } catch (const enarx::Error&) {
  }
  try {
    (void)dcap::parse_dcap_qvl_collateral(text);
  } catch (const enarx::Error&) {
  }
  return 0;
}
