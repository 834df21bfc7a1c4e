// `enarx deploy`: the whole keep-side flow, one named step at a time.
//
//   slug        parse [host/]user/repo:tag[@alg:hex] (or file://<dir> for a local package)
//   metadata    fetch the tag over TLS; compare the digest pin; verify the tag signature
//               (always when present; required with --signer)
//   platform    pick the evidence provider (auto-detect, or --platform incl. sim-snp)
//   attest      choose the steward (choose_steward: --steward > signed tag > repository > the
//               registry's default > Enarx.toml); fresh TLS key (memory only), evidence bound to
//               it, CSR with the workload identity SANs -> steward -> certificate chain (or
//               self-signed on nil / without a steward)
//   fetch       download every tree node over TLS presenting the keep certificate, verifying each
//               digest against its (verified) parent entry; the tree stays in memory
//   run         run main.wasm with Enarx.toml and the tree as read-only assets; TLS sockets use
//               the keep identity
// A failure throws DeployError naming the step; the CLI maps steps to exit codes 20-27.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "client/identity.h"
#include "client/registry_client.h"
#include "core/error.h"
#include "platform/select.h"
#include "runtime/runtime.h"

namespace enarx::client {

enum class DeployStep { Slug, Metadata, DigestPin, Signature, Platform, Attestation, Fetch, Run };
std::string_view to_string(DeployStep step);

class DeployError : public Error {
 public:
  DeployError(DeployStep step, const Error& cause)
      : Error(cause.kind(), cause.code(), std::string(to_string(step)) + ": " + cause.what()), step_(step) {}
  DeployStep step() const { return step_; }

 private:
  DeployStep step_;
};

struct DeployOptions {
  std::string package;  // slug[@digest] or file://<dir>
  // "" = the signed tag's, the repository's or the registry's default steward, else the
  // package's Enarx.toml `steward`, else self-signed (docs/drawbridge.md "Which steward").
  std::string steward_url;
  std::string steward_ca_pem;   // TLS trust for steward ("" = the embedded roots, client/trust.h)
  // Trust anchors for the keep certificate steward issues (its keep CA; "" = the chain's own
  // root, whose fingerprint is printed). Not the same as steward_ca_pem: steward's HTTPS
  // certificate never comes from the keep CA.
  std::string steward_identity_ca_pem;
  std::string registry_ca_pem;  // TLS trust for drawbridge ("" = the embedded roots)
  std::string extra_ca_pem;     // added to the trust for both
  bool system_roots = false;    // the host's store instead of the embedded roots (explicit only)
  std::string signer;  // publisher key file (PEM public or private key) or hex fingerprint
  std::string token;   // bearer token for the registry (owner reads of private repos)
  bool self_signed = false;  // skip steward even if one is configured
  platform::ProviderSpec platform;
  platform::HostCollateral collateral;
  runtime::RunOptions run;
  std::string workload_ca_pem;  // trust for the workload's connect+tls sockets
  std::function<void(DeployStep step, const std::string& message)> on_step;
  net::ProgressCallback on_bytes;
};

struct DeployOutcome {
  runtime::RunResult result;
  Identity identity;
  TagMetadata metadata;
  std::string steward_url;     // the steward attested to ("" = none: self-signed)
  std::string steward_source;  // "--steward", "the signed tag", "the repository", ...
};

// Which steward to attest to, and where that choice came from (docs/drawbridge.md "Which
// steward"): `flag` (--steward) > the signed tag's (only from a verified signature in
// `metadata`) > the repository's > the registry's default (both from the registry's _steward
// route, asked through `registry` with its token, if any: for a private repository the registry
// answers with its default unless that token may read it) > the package's Enarx.toml. `registry`
// is null for a local package. `note` hears what was ignored and why. An empty url: none.
struct StewardChoice {
  std::string url;
  std::string source;  // "--steward", "the signed tag", "the repository", "the registry's default", "Enarx.toml"
};
StewardChoice choose_steward(const std::string& flag, const std::optional<identity::Slug>& slug,
                             const TagMetadata& metadata, const Package* local_pkg, RegistryClient* registry,
                             const std::function<void(const std::string&)>& note);

// Runs the flow; throws DeployError for any step failure.
DeployOutcome deploy(const DeployOptions& options);

}  // namespace enarx::client
