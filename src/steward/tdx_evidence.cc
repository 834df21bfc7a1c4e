#include "steward/tdx_evidence.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::steward {

TdxEvidence decode_tdx_evidence(ByteView der_bytes) {
  try {
    TdxEvidence out;
    der::Reader top(der_bytes);
    der::Reader seq = top.read_sequence();
    top.expect_end();
    const ByteView quote = seq.read_octet_string();
    out.quote.assign(quote.begin(), quote.end());
    const der::Element crl = seq.read(der::kSequence);
    out.crls = attest::parse_crl_list(crl.whole);
    if (auto pkg = seq.read_optional(der::kSequence)) {
      der::Reader p(pkg->value);
      der::Reader crts = p.read_sequence();
      while (!crts.empty())
        out.tcb_certs.push_back(Certificate::from_der(crts.read(der::kSequence).whole));
      const ByteView report = p.read_octet_string();
      p.expect_end();
      out.tcb_report = Bytes(report.begin(), report.end());
    }
    if (auto qe = seq.read_optional(der::context(0, false))) {
      out.qe_identity = Bytes(qe->value.begin(), qe->value.end());
    }
    seq.expect_end();
    return out;
  } catch (const Error& e) {
    throw Error("steward.tdx.evidence_malformed", std::string("bad TdxEvidence: ") + e.what());
  }
}

Bytes encode_tdx_evidence(const TdxEvidence& e) {
  der::Writer seq;
  seq.add_octet_string(e.quote);
  seq.add_raw(attest::encode_crl_list(e.crls));
  if (e.tcb_report) {
    der::Writer crts;
    for (const auto& c : e.tcb_certs) crts.add_raw(c.to_der());
    der::Writer pkg;
    pkg.add_sequence(crts);
    pkg.add_octet_string(*e.tcb_report);
    seq.add_sequence(pkg);
  }
  if (e.qe_identity) seq.add(der::context(0, false), *e.qe_identity);
  return seq.wrap(der::kSequence);
}

}  // namespace enarx::steward
