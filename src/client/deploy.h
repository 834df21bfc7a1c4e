// `enarx deploy`: the whole keep-side flow, one named step at a time.
//
//   slug        parse [host/]user/repo:tag[@alg:hex] (or file://<dir> for a local package)
//   metadata    fetch the tag over TLS; compare the digest pin; verify the tag signature
//               (always when present; required with --signer)
//   platform    pick the evidence provider (auto-detect, or --platform incl. sim-snp)
//   attest      fresh TLS key (memory only), evidence bound to it, CSR with the workload identity
//               SANs -> steward -> certificate chain (or self-signed on nil / without a steward)
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
  std::string steward_url;   // "" = the package's Enarx.toml `steward`, else self-signed
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
};

// Runs the flow; throws DeployError for any step failure.
DeployOutcome deploy(const DeployOptions& options);

}  // namespace enarx::client
