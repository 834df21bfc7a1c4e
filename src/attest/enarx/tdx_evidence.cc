#include "attest/enarx/tdx_evidence.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest {

namespace {
constexpr std::uint8_t kQeIdentityTag = der::context(0, false);  // [0] IMPLICIT OCTET STRING
}

TdxEvidence decode_tdx_evidence(ByteView der_bytes) {
  TdxEvidence out;
  der::Element crl_list;
  try {
    der::Reader top(der_bytes);
    der::Reader seq = top.read_sequence();
    top.expect_end();
    const ByteView quote = seq.read_octet_string();
    out.quote.assign(quote.begin(), quote.end());
    crl_list = seq.read(der::kSequence);
    if (auto pkg = seq.read_optional(der::kSequence)) out.tcb = decode_tcb_package(pkg->whole);
    if (auto qe = seq.read_optional(kQeIdentityTag)) out.qe_identity = Bytes(qe->value.begin(), qe->value.end());
    seq.expect_end();
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "evidence.tdx_malformed", std::string("TdxEvidence: ") + e.what());
  }
  out.crls = parse_crl_list(crl_list.whole);
  return out;
}

Bytes encode_tdx_evidence(const TdxEvidence& e) {
  der::Writer seq;
  seq.add_octet_string(e.quote).add_raw(encode_crl_list(e.crls));
  if (e.tcb) seq.add_raw(encode_tcb_package(*e.tcb));
  if (e.qe_identity) seq.add(kQeIdentityTag, *e.qe_identity);
  return seq.wrap(der::kSequence);
}

}  // namespace enarx::attest
