#include "attest/enarx_evidence_sgx.h"

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
    crl_list = seq.read_any();
    if (crl_list.tag != der::kSequence) {
      throw Error("der.malformed", "CrlList is not a SEQUENCE");
    }
    auto tcb = seq.read_sequence();
    seq.expect_end();
    auto crts = tcb.read_sequence();
    while (!crts.empty()) {
      auto cert = crts.read(der::kSequence);
      e.tcb_certs.push_back(Certificate::from_der(cert.whole));
    }
    auto report = tcb.read_octet_string();
    e.tcb_report.assign(report.begin(), report.end());
    tcb.expect_end();
  } catch (const Error& err) {
    throw Error("evidence.sgx_malformed", std::string("SgxEvidence: ") + err.what());
  }
  e.crls = parse_crl_list(crl_list.whole);
  return e;
}

Bytes encode_sgx_evidence(const SgxEvidence& e) {
  der::Writer crts;
  for (const auto& c : e.tcb_certs) crts.add_raw(c.to_der());
  der::Writer tcb;
  tcb.add_sequence(crts).add_octet_string(e.tcb_report);
  der::Writer body;
  body.add_octet_string(e.quote).add_raw(encode_crl_list(e.crls)).add_sequence(tcb);
  return body.wrap(der::kSequence);
}

dcap::Collateral collateral_from_sgx_evidence(const SgxEvidence& e) {
  dcap::Collateral c;
  if (!e.tcb_report.empty()) c.tcb_info = dcap::parse_tcb_info_document(as_string(e.tcb_report));
  c.tcb_signing_chain = e.tcb_certs;
  for (const auto& entry : e.crls) c.crls.push_back(entry.crl);
  return c;
}

}  // namespace enarx::attest
