#include "core/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/x509_detail.h"

namespace enarx {

using namespace x509_detail;

// ---------------- SubjectAltName encoding ----------------

Bytes encode_subject_alt_names(const SubjectAltNames& sans) {
  der::Writer w;
  auto ia5 = [&](std::uint8_t tag, const std::string& s) {
    for (unsigned char c : s) {
      require(c < 0x80, ErrorKind::kInvalidInput, "x509.san", "non-ASCII character in subject alternative name \"" + s + "\"");
    }
    w.add(der::context(tag, false), as_bytes(s));
  };
  for (const auto& d : sans.dns) ia5(2, d);
  for (const auto& u : sans.uris) ia5(6, u);
  for (const auto& ip : sans.ips) {
    ossl::Asn1OctetPtr os(a2i_IPADDRESS(ip.c_str()));
    if (!os) {
      ERR_clear_error();
      throw Error(ErrorKind::kInvalidInput, "x509.san", "invalid IP address \"" + ip + "\"");
    }
    w.add(der::context(7, false),
          ByteView(ASN1_STRING_get0_data(os.get()), static_cast<std::size_t>(ASN1_STRING_length(os.get()))));
  }
  for (const auto& e : sans.emails) ia5(1, e);
  require(!w.bytes().empty(), ErrorKind::kInvalidInput, "x509.san", "empty subject alternative names");
  return w.wrap(der::kSequence);
}

SubjectAltNames decode_subject_alt_names(ByteView der_bytes) {
  SubjectAltNames out;
  try {
    der::Reader outer(der_bytes);
    der::Reader seq = outer.read_sequence();
    outer.expect_end();
    while (!seq.empty()) {
      const der::Element e = seq.read_any();
      const std::string text(as_string(e.value));
      switch (e.tag) {
        case der::context(1, false):
          out.emails.push_back(text);
          break;
        case der::context(2, false):
          out.dns.push_back(text);
          break;
        case der::context(6, false):
          out.uris.push_back(text);
          break;
        case der::context(7, false): {
          char buf[INET6_ADDRSTRLEN] = {};
          if (e.value.size() == 4) {
            inet_ntop(AF_INET, e.value.data(), buf, sizeof buf);
          } else if (e.value.size() == 16) {
            inet_ntop(AF_INET6, e.value.data(), buf, sizeof buf);
          } else {
            throw Error(ErrorKind::kInvalidInput, "x509.san", "iPAddress of " + std::to_string(e.value.size()) + " bytes");
          }
          out.ips.emplace_back(buf);
          break;
        }
        default:
          break;  // otherName, directoryName, ...: not used here
      }
    }
  } catch (const Error& e) {
    if (e.code() == "x509.san") throw;
    throw Error(ErrorKind::kInvalidInput, "x509.san", std::string("malformed subjectAltName: ") + e.what());
  }
  return out;
}

}  // namespace enarx
