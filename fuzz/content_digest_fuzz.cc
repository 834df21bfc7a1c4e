// libFuzzer target for the Content-Digest header parser (core/content_digest.h).
// Invariants: no crash, failures are digest.header_malformed / digest.header_empty, and an
// accepted header re-serializes to a canonical form that parses back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/content_digest.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  try {
    const ContentDigest d = ContentDigest::parse_header(header);
    if (d.empty()) std::abort();
    const std::string canonical = d.to_header();
    const ContentDigest again = ContentDigest::parse_header(canonical);
    if (!(again == d) || again.to_header() != canonical) std::abort();
    if (!(ContentDigest::from_map(d.to_map()) == d)) std::abort();
    // Streaming over the header bytes themselves exercises the verifier path.
    DigestVerifier v(d);
    v.update(as_bytes(header));
    try {
      v.verify();
    } catch (const Error& e) {
      if (e.code() != "digest.mismatch") std::abort();
    }
  } catch (const Error& e) {
    if (e.code() != "digest.header_malformed" && e.code() != "digest.header_empty") std::abort();
  }
  return 0;
}
