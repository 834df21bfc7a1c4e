// libFuzzer target for limit_memory (runtime/engine.h), the runtime's own parser of a package's
// wasm bytes: it walks the sections and rewrites the memory section before V8 sees the module.
// Input: two bytes of page limit, then the module after its 8-byte header (supplied here, so
// the fuzzer spends its time on sections, not on finding the magic number).
// Invariants: no crash; failures are runtime.module.invalid or runtime.limit.memory; an accepted
// module keeps the header, and limiting it again (to the same or any larger limit) changes
// nothing, i.e. every memory already has a maximum within the limit.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "runtime/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx;
  if (size < 2) return 0;
  const std::uint32_t max_pages = (data[0] | (std::uint32_t{data[1]} << 8)) % 65537;
  static const std::uint8_t kHeader[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  Bytes wasm(kHeader, kHeader + sizeof kHeader);
  wasm.insert(wasm.end(), data + 2, data + size);
  try {
    const Bytes once = runtime::limit_memory(wasm, max_pages);
    if (once.size() < 8 || std::memcmp(once.data(), kHeader, 8) != 0) std::abort();
    if (runtime::limit_memory(once, max_pages) != once) std::abort();
    if (runtime::limit_memory(once, 65536) != once) std::abort();
  } catch (const Error& e) {
    if (e.code() != "runtime.module.invalid" && e.code() != "runtime.limit.memory") std::abort();
  }
  return 0;
}
