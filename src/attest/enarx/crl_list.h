// Enarx's CRL container, carried inside SNP and SGX evidence and written by host preparation:
//   CrlList      ::= SEQUENCE { crls SEQUENCE OF CrlListEntry }
//   CrlListEntry ::= SEQUENCE { url UTF8String, crl CertificateList }
// (see ../shared/design/enarx-protocols.md §1.5). Entries keep their exact URL.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest {

struct CrlListEntry {
  std::string url;
  Crl crl;
};

// Throws Error("evidence.crl_list_malformed") on any DER problem.
std::vector<CrlListEntry> parse_crl_list(ByteView der);
Bytes encode_crl_list(const std::vector<CrlListEntry>& entries);

}  // namespace enarx::attest
