#include "client/identity.h"

#include <algorithm>

#include "core/csr.h"
#include "core/error.h"
#include "net/http.h"

namespace enarx::client {

using namespace std::chrono_literals;

std::string Identity::chain_pem() const {
  std::string out;
  for (const auto& c : chain) out += c.to_pem();
  return out;
}

Bytes build_keep_csr(const PrivateKey& key, const Extension& evidence,
                     const verify::WorkloadIdentity& workload) {
  SubjectAltNames sans;
  sans.uris = workload.to_uris();
  sans.dns = {"localhost"};
  return CsrBuilder().subject_alt_names(sans).add_extension(evidence).build_der(key);
}

std::vector<Certificate> request_certificate(const std::string& steward_url, ByteView csr_der,
                                             const net::ClientOptions& http) {
  net::HttpClient client(http);
  net::ClientRequest req;
  req.method = net::Method::Post;
  req.url = steward_url;
  req.headers.set("Content-Type", "application/pkcs10");
  req.body.assign(reinterpret_cast<const char*>(csr_der.data()), csr_der.size());
  req.idempotent = true;  // issuing twice for the same CSR is harmless
  net::ClientResponse res;
  try {
    res = client.send(req);
  } catch (const Error& e) {
    throw Error("identity.steward_unreachable", "cannot reach steward at " + steward_url + ": " + e.what());
  }
  if (res.status != 200) {
    std::string detail = res.body.size() > 512 ? res.body.substr(0, 512) : res.body;
    throw Error("identity.steward_rejected",
                "steward answered " + std::to_string(res.status) + (detail.empty() ? "" : ": " + detail));
  }
  std::vector<Certificate> path;
  try {
    path = Certificate::chain_from_der_sequence(as_bytes(res.body));
  } catch (const Error& e) {
    throw Error("identity.steward_bad_response", std::string("steward's answer is not a certificate path: ") + e.what());
  }
  require(!path.empty(), "identity.steward_bad_response", "steward returned no certificate");
  std::reverse(path.begin(), path.end());  // PkiPath is root-side first; TLS wants leaf first
  return path;
}

Identity self_signed_identity(platform::Platform platform, const verify::WorkloadIdentity& workload,
                              TimePoint now) {
  Identity id;
  id.platform = platform;
  id.self_signed = true;
  id.key = PrivateKey::generate(platform::key_curve_for(platform) == platform::KeyCurve::P384
                                    ? KeyType::EcP384
                                    : KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = workload.to_uris();
  sans.dns = {"localhost"};
  id.chain.push_back(CertificateBuilder()
                         .subject({{"CN", "localhost"}})
                         .public_key(id.key.public_key())
                         .validity(now - 5min, now + 24h * 365)
                         .ca(false)
                         .key_usage({"digitalSignature", "keyEncipherment"}, true)
                         .extended_key_usage({"serverAuth", "clientAuth"})
                         .subject_alt_names(sans)
                         .sign(id.key));
  return id;
}

Identity establish_identity(platform::EvidenceProvider& provider, const IdentityOptions& options) {
  if (options.steward_url.empty())
    return self_signed_identity(provider.platform(), options.workload, options.now);

  Identity id;
  id.platform = provider.platform();
  id.simulated = provider.simulated();
  id.key = PrivateKey::generate(platform::key_curve_for(id.platform) == platform::KeyCurve::P384
                                    ? KeyType::EcP384
                                    : KeyType::EcP256);
  Bytes report_data = platform::report_data_for_spki(id.platform, id.key.public_key().spki_der());
  platform::Evidence evidence = provider.acquire(report_data);
  Extension ext = platform::evidence_extension(evidence, options.collateral);
  Bytes csr = build_keep_csr(id.key, ext, options.workload);
  id.chain = request_certificate(options.steward_url, csr, options.http);
  // The leaf must be for our key: a steward answering with someone else's certificate is broken.
  require(id.chain.front().public_key() == id.key.public_key(), "identity.steward_bad_response",
          "steward issued a certificate for a different key");
  return id;
}

}  // namespace enarx::client
