// libFuzzer target for the strict DER reader (core/der.h), OID codec and the hand-written
// CSR attribute parser. Invariants: no crash or out-of-bounds read, every failure is an
// enarx::Error with code der.* / csr.*, and what the reader accepts re-encodes byte-exactly.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/csr.h"
#include "core/der.h"
#include "core/error.h"

namespace {

using namespace enarx;

void check(bool ok) {
  if (!ok) std::abort();
}

void walk(ByteView data, std::size_t base, int depth) {
  if (depth > 64) return;
  der::Reader r(data, base);
  while (!r.empty()) {
    const der::Element e = r.read_any();
    // Accepted DER re-encodes to the same bytes.
    der::Writer w;
    w.add(e.tag, e.value);
    check(w.bytes().size() == e.whole.size() &&
          std::equal(w.bytes().begin(), w.bytes().end(), e.whole.begin()));
    try {
      der::Reader typed(e.whole);
      switch (e.tag) {
        case der::kOid: {
          const std::string dotted = typed.read_oid();
          const Bytes again = der::encode_oid(dotted);
          check(again.size() == e.value.size() &&
                std::equal(again.begin(), again.end(), e.value.begin()));
          break;
        }
        case der::kInteger:
          if (e.value.size() <= 8) {
            const std::int64_t v = typed.read_small_integer();
            const Bytes again = der::Writer().add_integer(v).take();
            check(again.size() == e.whole.size() &&
                  std::equal(again.begin(), again.end(), e.whole.begin()));
          } else {
            typed.read_integer_bytes();
          }
          break;
        case der::kBoolean:
          typed.read_boolean();
          break;
        case der::kUtf8String:
          typed.read_utf8_string();
          break;
        default:
          break;
      }
    } catch (const Error& err) {
      check(err.code() == "der.malformed");
    }
    if (e.tag & 0x20) walk(e.value, 0, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  try {
    walk(in, 0, 0);
  } catch (const Error& e) {
    check(e.code() == "der.malformed");
  }
  try {
    der::parse_single(in);
  } catch (const Error& e) {
    check(e.code() == "der.malformed");
  }
  // OID text -> DER -> text must be the identity when accepted.
  try {
    const std::string text(as_string(in));
    const Bytes enc = der::encode_oid(text);
    check(der::decode_oid(enc) == text);
  } catch (const Error& e) {
    check(e.code() == "der.oid");
  }
  try {
    const CertificationRequest req = CertificationRequest::from_der(in);
    (void)req.extensions();
    (void)req.attribute_oids();
    (void)req.verify_self_signature();
    try {
      (void)req.subject_alt_names();
    } catch (const Error& e) {
      check(e.code() == "x509.san");
    }
  } catch (const Error& e) {
    check(e.code().rfind("csr.", 0) == 0);
  }
  return 0;
}
