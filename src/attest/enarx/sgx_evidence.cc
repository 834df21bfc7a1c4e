#include "attest/enarx/sgx_evidence.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest {

SgxEvidence decode_sgx_evidence(ByteView der) {
  SgxEvidence e;
  der::Element crl_list;
  try {
    der::Reader top(der);
    auto seq = top.read_sequence();
    top.expect_end();
    auto quote = seq.read_octet_string();
    e.quote.assign(quote.begin(), quote.end());
    crl_list = seq.read(der::kSequence);
    const der::Element tcb_der = seq.read(der::kSequence);
    seq.expect_end();
    e.tcb = decode_tcb_package(tcb_der.whole);
  } catch (const Error& err) {
    throw Error(ErrorKind::kInvalidInput, "evidence.sgx_malformed", std::string("SgxEvidence: ") + err.what());
  }
  e.crls = parse_crl_list(crl_list.whole);
  return e;
}

Bytes encode_sgx_evidence(const SgxEvidence& e) {
  der::Writer body;
  body.add_octet_string(e.quote)
      .add_raw(encode_crl_list(e.crls))
      .add_raw(encode_tcb_package(e.tcb));
  return body.wrap(der::kSequence);
}

dcap::Collateral collateral_from_sgx_evidence(const SgxEvidence& e) {
  dcap::Collateral c;
  if (!e.tcb.report.empty()) c.tcb_info = dcap::parse_tcb_info_document(as_string(e.tcb.report));
  c.tcb_signing_chain = e.tcb.certs;
  for (const auto& entry : e.crls) c.crls.push_back(entry.crl);
  return c;
}

}  // namespace enarx::attest
