#include "attest/enarx/tcb_package.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest {

TcbPackage decode_tcb_package(ByteView der_bytes) {
  try {
    TcbPackage pkg;
    der::Reader top(der_bytes);
    der::Reader seq = top.read_sequence();
    top.expect_end();
    der::Reader crts = seq.read_sequence();
    while (!crts.empty()) pkg.certs.push_back(Certificate::from_der(crts.read(der::kSequence).whole));
    const ByteView report = seq.read_octet_string();
    pkg.report.assign(report.begin(), report.end());
    seq.expect_end();
    return pkg;
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "evidence.tcb_package_malformed", std::string("TcbPackage: ") + e.what());
  }
}

Bytes encode_tcb_package(const std::vector<Certificate>& certs, ByteView report) {
  der::Writer crts;
  for (const auto& c : certs) crts.add_raw(c.to_der());
  der::Writer pkg;
  pkg.add_sequence(crts).add_octet_string(report);
  return pkg.wrap(der::kSequence);
}

}  // namespace enarx::attest
