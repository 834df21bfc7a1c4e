#include "client/identity.h"

#include <algorithm>

#include "core/csr.h"
#include "core/error.h"
#include "net/http.h"
#include "identity/keep_certificate.h"

namespace enarx::client {

using namespace std::chrono_literals;

std::string Identity::chain_pem() const {
  std::string out;
  for (const auto& c : chain) out += c.to_pem();
  return out;
}

void check_issued_chain(const std::vector<Certificate>& chain, const PrivateKey& key,
                        const identity::WorkloadIdentity& asked, std::span<const Certificate> steward_cas,
                        TimePoint at) {
  require(!chain.empty(), ErrorKind::kUnavailable, "identity.steward_bad_response", "steward returned no certificate");
  const Certificate& leaf = chain.front();
  require(leaf.public_key() == key.public_key(), ErrorKind::kUnavailable, "identity.steward_bad_response",
          "steward issued a certificate for a different key");
  require(!leaf.is_ca(), ErrorKind::kUnavailable, "identity.steward_bad_response", "steward issued a CA certificate for the keep");
  require(chain.size() >= 2, ErrorKind::kUnavailable, "identity.steward_bad_response",
          "steward returned the certificate without the CA that issued it");

  const std::vector<Certificate> intermediates(chain.begin() + 1, chain.end());
  std::vector<Certificate> anchors(steward_cas.begin(), steward_cas.end());
  if (anchors.empty()) anchors.push_back(chain.back());
  ChainVerifyOptions vo;
  vo.at = at;
  try {
    verify_chain(leaf, intermediates, anchors, vo);
  } catch (const Error& e) {
    throw Error(ErrorKind::kUntrusted, "identity.untrusted_issuer",
                std::string("the certificate steward issued does not chain to the steward CA this keep "
                            "trusts (") +
                    e.code() + "): " + e.what());
  }
  // The chain verifies, so a failure now can only be the purpose.
  for (const char* eku : {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}) {  // serverAuth, clientAuth
    vo.required_eku = eku;
    try {
      verify_chain(leaf, intermediates, anchors, vo);
    } catch (const Error& e) {
      throw Error(ErrorKind::kUnavailable, "identity.steward_bad_response",
                  std::string("the issued certificate is not valid for TLS client and server use: ") + e.what());
    }
  }

  const auto names = leaf.subject_alt_names();
  auto unexpected = [](const std::string& what) {
    throw Error(ErrorKind::kUntrusted, "identity.unexpected_names", "steward's certificate names " + what +
                                                 ", which this keep did not ask for");
  };
  if (!names.dns.empty()) unexpected("DNS:" + names.dns.front());
  if (!names.ips.empty()) unexpected("IP:" + names.ips.front());
  if (!names.emails.empty()) unexpected("email:" + names.emails.front());
  const auto wanted = asked.to_uris();
  std::vector<std::string> workload_uris;
  for (const auto& uri : names.uris) {
    if (uri.starts_with(identity::kKeepUrnPrefix)) continue;  // steward's name for the attested keep
    if (std::find(wanted.begin(), wanted.end(), uri) == wanted.end()) unexpected("URI:" + uri);
    workload_uris.push_back(uri);
  }
  for (const auto& uri : wanted)
    if (std::find(workload_uris.begin(), workload_uris.end(), uri) == workload_uris.end())
      throw Error(ErrorKind::kUntrusted, "identity.unexpected_names", "steward's certificate lacks the requested name URI:" + uri);
}

Bytes build_keep_csr(const PrivateKey& key, const Extension& evidence,
                     const identity::WorkloadIdentity& workload) {
  // No DNS name: steward refuses names a measured runtime cannot vouch for (docs/steward.md).
  SubjectAltNames sans;
  sans.uris = workload.to_uris();
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
    // The one untrusted answer a transfer gives: a verified certificate that is not a server's.
    if (e.kind() == ErrorKind::kUntrusted)
      throw Error(ErrorKind::kUntrusted, "identity.steward_certificate_refused",
                  "steward at " + steward_url + " presented a keep certificate, not a server certificate: " +
                      e.what());
    throw Error(ErrorKind::kUnavailable, "identity.steward_unreachable", "cannot reach steward at " + steward_url + ": " + e.what());
  }
  if (res.status != 200) {
    std::string detail = res.body.size() > 512 ? res.body.substr(0, 512) : res.body;
    throw Error(ErrorKind::kPolicyRejected, "identity.steward_rejected",
                "steward answered " + std::to_string(res.status) + (detail.empty() ? "" : ": " + detail));
  }
  std::vector<Certificate> path;
  try {
    path = Certificate::chain_from_der_sequence(as_bytes(res.body));
  } catch (const Error& e) {
    throw Error(ErrorKind::kUnavailable, "identity.steward_bad_response", std::string("steward's answer is not a certificate path: ") + e.what());
  }
  require(!path.empty(), ErrorKind::kUnavailable, "identity.steward_bad_response", "steward returned no certificate");
  std::reverse(path.begin(), path.end());  // PkiPath is root-side first; TLS wants leaf first
  return path;
}

Identity self_signed_identity(platform::Platform platform, const identity::WorkloadIdentity& workload,
                              TimePoint now) {
  Identity id;
  id.platform = platform;
  id.self_signed = true;
  id.key = PrivateKey::generate(attest::keep_key_type(platform));
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
  id.key = PrivateKey::generate(attest::keep_key_type(id.platform));
  Bytes report_data = platform::report_data_for_spki(id.platform, id.key.public_key().spki_der());
  platform::Evidence evidence = provider.acquire(report_data);
  Extension ext = platform::evidence_extension(evidence, options.collateral);
  Bytes csr = build_keep_csr(id.key, ext, options.workload);
  net::ClientOptions http = options.http;
  const auto refused = identity::keep_certificate_extension_oids();
  http.tls.forbidden_server_extensions.insert(http.tls.forbidden_server_extensions.end(), refused.begin(),
                                              refused.end());
  id.chain = request_certificate(options.steward_url, csr, http);
  check_issued_chain(id.chain, id.key, options.workload, options.steward_cas, options.now);
  return id;
}

}  // namespace enarx::client
