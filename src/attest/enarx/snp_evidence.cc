#include "attest/enarx/snp_evidence.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest {

SnpEvidence decode_snp_evidence(ByteView input) {
  SnpEvidence ev;
  ByteView crl_der;
  try {
    der::Reader top(input);
    der::Reader seq = top.read_sequence();
    top.expect_end();
    der::Reader crts = seq.read_sequence();
    der::Element vcek = crts.read(der::kSequence);
    der::Element crl = crts.read(der::kSequence);
    crts.expect_end();
    ByteView report = seq.read_octet_string();
    seq.expect_end();
    ev.vcek_der.assign(vcek.whole.begin(), vcek.whole.end());
    ev.report.assign(report.begin(), report.end());
    crl_der = crl.whole;
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "evidence.snp_malformed", std::string("malformed SnpEvidence: ") + e.what());
  }
  ev.crls = parse_crl_list(crl_der);
  return ev;
}

Bytes encode_snp_evidence(const SnpEvidence& ev) {
  der::Writer crts;
  crts.add_raw(ev.vcek_der);
  crts.add_raw(encode_crl_list(ev.crls));
  der::Writer seq;
  seq.add_sequence(crts);
  seq.add_octet_string(ev.report);
  return seq.wrap(der::kSequence);
}

}  // namespace enarx::attest
