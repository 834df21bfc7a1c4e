// libFuzzer target: the DCAP quote parser (v3/v4/v5, nested certification data) and the PCK
// SGX extension parser. Any input must parse or throw enarx::Error; nothing else.
#include <cstddef>
#include <cstdint>

#include "attest/dcap/pck.h"
#include "attest/dcap/quote.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const enarx::ByteView input(data, size);
  try {
    auto q = enarx::attest::dcap::parse_quote(input);
    (void)q.sgx;
  } catch (const enarx::Error&) {
  }
  try {
    (void)enarx::attest::dcap::decode_quote_file(input);
  } catch (const enarx::Error&) {
  }
  try {
    (void)enarx::attest::dcap::parse_pck_extension(input);
  } catch (const enarx::Error&) {
  }
  return 0;
}
