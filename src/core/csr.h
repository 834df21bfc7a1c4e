// PKCS#10 certification requests: building (with custom extensions and URI SANs) and parsing
// (self-signature check, extension request read-back), as Enarx keeps and Steward use them.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/openssl.h"
#include "core/x509.h"

namespace enarx {

class CsrBuilder {
 public:
  // Empty subject by default (Enarx sends an empty RDNSequence).
  CsrBuilder& subject(std::vector<std::pair<std::string, std::string>> rdns);
  CsrBuilder& subject_alt_names(SubjectAltNames sans);
  CsrBuilder& add_extension(Extension ext);
  // Signs with `key` (ES256 for P-256, ES384 for P-384) and returns the DER request.
  Bytes build_der(const PrivateKey& key) const;

 private:
  std::vector<std::pair<std::string, std::string>> rdns_;
  std::optional<SubjectAltNames> sans_;
  std::vector<Extension> extensions_;
};

class CertificationRequest {
 public:
  // Throws Error("csr.malformed") unless `der` is exactly one well-formed PKCS#10 request.
  static CertificationRequest from_der(ByteView der);
  static CertificationRequest from_pem(std::string_view pem);
  Bytes to_der() const;
  std::string to_pem() const;

  long version() const;  // 0 means v1
  PublicKey public_key() const;
  Bytes spki_der() const;
  Bytes subject_der() const;  // DER X509_NAME
  std::string subject() const;
  bool verify_self_signature() const;

  // OIDs of every attribute present (Steward allows only extensionRequest).
  std::vector<std::string> attribute_oids() const;
  // The extensions inside the extensionRequest attribute, in order (duplicates preserved).
  std::vector<Extension> extensions() const;
  SubjectAltNames subject_alt_names() const;

  X509_REQ* get() const { return req_.get(); }

 private:
  std::shared_ptr<X509_REQ> req_;
};

}  // namespace enarx
