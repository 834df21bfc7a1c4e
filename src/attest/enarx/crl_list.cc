#include "attest/enarx/crl_list.h"

#include "core/der.h"
#include "core/error.h"

namespace enarx::attest {

std::vector<CrlListEntry> parse_crl_list(ByteView der_bytes) {
  try {
    der::Reader top(der_bytes);
    der::Reader list = top.read_sequence();
    top.expect_end();
    der::Reader crls = list.read_sequence();
    list.expect_end();
    std::vector<CrlListEntry> out;
    while (!crls.empty()) {
      der::Reader entry = crls.read_sequence();
      CrlListEntry e;
      e.url = entry.read_utf8_string();
      der::Element crl = entry.read(der::kSequence);
      entry.expect_end();
      e.crl = Crl::from_der(crl.whole);
      out.push_back(std::move(e));
    }
    return out;
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "evidence.crl_list_malformed", std::string("malformed CrlList: ") + e.what());
  }
}

Bytes encode_crl_list(const std::vector<CrlListEntry>& entries) {
  der::Writer crls;
  for (const auto& e : entries) {
    der::Writer entry;
    entry.add_utf8_string(e.url);
    entry.add_raw(e.crl.to_der());
    crls.add_sequence(entry);
  }
  der::Writer list;
  list.add_sequence(crls);
  return list.wrap(der::kSequence);
}

}  // namespace enarx::attest
