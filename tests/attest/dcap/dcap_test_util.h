// Shared helpers for the DCAP tests: locating the test vectors and loading each MANIFEST case's
// quote and collateral.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "attest/dcap/collateral.h"
#include "attest/dcap/quote.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "core/x509.h"

namespace enarx::attest::dcap::testing {

inline std::filesystem::path shared_dir() {
  const char* env = std::getenv("ENARX_SHARED_DIR");
  return env ? std::filesystem::path(env) : std::filesystem::path();
}

inline std::filesystem::path tv(const std::string& rel) { return shared_dir() / "testvectors" / rel; }

#define DCAP_REQUIRE_VECTORS()                                                              \
  do {                                                                                      \
    if (::enarx::attest::dcap::testing::shared_dir().empty() ||                             \
        !std::filesystem::exists(::enarx::attest::dcap::testing::tv("sgx/common")))         \
      GTEST_SKIP() << "ENARX_SHARED_DIR test vectors not available";                        \
  } while (0)

inline Bytes load_quote(const std::string& rel) { return decode_quote_file(read_file(tv(rel))); }

inline Crl crl(const std::string& rel) { return load_crl_file(tv(rel)); }

inline SignedTcbInfo tcb_info(const std::string& rel) {
  return parse_tcb_info_document(read_text_file(tv(rel)));
}
inline SignedEnclaveIdentity qe_identity(const std::string& rel) {
  return parse_enclave_identity_document(read_text_file(tv(rel)));
}
inline Collateral qvl_collateral(const std::string& rel) {
  return parse_dcap_qvl_collateral(read_text_file(tv(rel)));
}

// Runs `f` and returns the enarx::Error code it throws ("" when it does not throw).
template <typename F>
std::string error_code(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return "";
}

inline TimePoint at(const char* rfc3339) { return parse_rfc3339(rfc3339); }

}  // namespace enarx::attest::dcap::testing
