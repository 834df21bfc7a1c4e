#include "client/trust.h"

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "core/x509.h"

namespace enarx::client {
namespace generated {
const char* web_roots_pem();
const char* web_roots_sha256();
const char* web_roots_source();
const char* web_roots_version();
}  // namespace generated

namespace {

std::size_t certificates_in(const std::string& pem, const char* what) {
  std::vector<Certificate> certs;
  try {
    certs = Certificate::chain_from_pem(pem);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "client.trust.bad_pem", std::string(what) + ": " + e.what());
  }
  require(!certs.empty(), ErrorKind::kInvalidInput, "client.trust.bad_pem",
          std::string(what) + " holds no PEM certificate");
  return certs.size();
}

}  // namespace

const EmbeddedRoots& embedded_roots() {
  static const std::string pem = generated::web_roots_pem();
  static const EmbeddedRoots roots{pem, Certificate::chain_from_pem(pem).size(), generated::web_roots_sha256(),
                                   generated::web_roots_source(), generated::web_roots_version()};
  return roots;
}

void apply_trust(const TrustChoice& choice, net::ClientTlsConfig& tls) {
  tls.ca_file.clear();
  if (!choice.replace_pem.empty()) certificates_in(choice.replace_pem, "the CA bundle");
  if (!choice.extra_pem.empty()) certificates_in(choice.extra_pem, "the extra CA file");
  if (choice.system_roots && choice.replace_pem.empty()) {
    // curl's own default: the host's store. Extra roots cannot be added to it in memory, so
    // they are refused rather than silently dropped.
    require(choice.extra_pem.empty(), ErrorKind::kInvalidInput, "client.trust.conflict",
            "--extra-ca cannot be combined with --system-roots");
    tls.ca_pem.clear();
    return;
  }
  std::string pem = choice.replace_pem.empty() ? embedded_roots().pem : choice.replace_pem;
  if (!choice.extra_pem.empty()) {
    if (!pem.empty() && pem.back() != '\n') pem += '\n';
    pem += choice.extra_pem;
  }
  tls.ca_pem = std::move(pem);
}

net::ClientOptions with_trust(const TrustChoice& choice, net::ClientOptions options) {
  apply_trust(choice, options.tls);
  return options;
}

std::string describe(const TrustChoice& choice) {
  const auto& e = embedded_roots();
  std::string base;
  if (!choice.replace_pem.empty()) {
    base = "given CA bundle (" + std::to_string(certificates_in(choice.replace_pem, "the CA bundle")) +
           " certificates; the embedded roots are not used)";
  } else if (choice.system_roots) {
    base = "the host's certificate store (--system-roots: the host decides what is trusted)";
  } else {
    base = "embedded web PKI roots (" + std::to_string(e.certificates) + " certificates from " + e.source +
           (e.version.empty() ? "" : ", ca-certificates " + e.version) + ", sha256 " + e.sha256.substr(0, 16) + "…)";
  }
  if (!choice.extra_pem.empty())
    base += " + " + std::to_string(certificates_in(choice.extra_pem, "the extra CA file")) + " extra";
  return base;
}

}  // namespace enarx::client
