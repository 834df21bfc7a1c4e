#include "support/pki.h"

namespace enarx::support {

Issued issue(const std::string& cn, const Issued* issuer, CertOptions o) {
  const auto now = std::chrono::system_clock::now();
  Issued out;
  out.key = PrivateKey::generate(KeyType::EcP256);
  CertificateBuilder b;
  b.subject({{"CN", cn}}).public_key(out.key.public_key()).validity(now + o.not_before, now + o.not_after);
  if (o.ca) b.ca(*o.ca);
  if (o.key_usage.empty()) {
    o.key_usage = o.ca.value_or(false) ? std::vector<std::string>{"keyCertSign", "cRLSign"}
                                       : std::vector<std::string>{"digitalSignature"};
  }
  b.key_usage(std::move(o.key_usage));
  if (!o.eku.empty()) b.extended_key_usage(std::move(o.eku));
  if (!o.sans.dns.empty() || !o.sans.ips.empty() || !o.sans.uris.empty() || !o.sans.emails.empty()) b.subject_alt_names(o.sans);
  for (auto& e : o.extensions) b.add_extension(std::move(e));
  out.cert = issuer ? b.sign(issuer->key, &issuer->cert) : b.sign(out.key);
  return out;
}

}  // namespace enarx::support
