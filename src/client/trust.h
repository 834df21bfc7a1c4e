// What the enarx side trusts for a drawbridge or steward URL. The host is not trusted, so neither
// is its certificate store: by default the web-PKI roots built into this binary (Debian's
// ca-certificates bundle at build time, the design's "embedded Mozilla certificates"). A user may
// replace them (--ca-bundle / ENARX_CA_BUNDLE, --steward-ca) or add to them (--extra-ca /
// ENARX_EXTRA_CA), or, explicitly, use the host's store (--system-roots / ENARX_SYSTEM_ROOTS).
#pragma once

#include <cstddef>
#include <string>

#include "net/http_client.h"

namespace enarx::client {

struct EmbeddedRoots {
  const std::string& pem;   // the bundle, PEM
  std::size_t certificates;
  std::string sha256;       // of `pem`, lower-case hex
  std::string source;       // the file it was built from
  std::string version;      // the ca-certificates package version ("" if unknown)
};
const EmbeddedRoots& embedded_roots();

struct TrustChoice {
  std::string replace_pem{};  // non-empty: these roots instead of the embedded set
  std::string extra_pem{};    // added to the embedded (or replacing) set
  bool system_roots = false;  // the host's store instead (only when asked for; logged)
};

// Sets the trust anchors of `tls` (ca_pem / ca_file) for `choice`. Throws
// Error(kInvalidInput, "client.trust.bad_pem") when given PEM holds no certificate: a wrong file
// must not silently leave the embedded set, or nothing, in force.
void apply_trust(const TrustChoice& choice, net::ClientTlsConfig& tls);
net::ClientOptions with_trust(const TrustChoice& choice, net::ClientOptions options = {});

// One line for `enarx platform info` / logs: which root set is in use.
std::string describe(const TrustChoice& choice);

}  // namespace enarx::client
