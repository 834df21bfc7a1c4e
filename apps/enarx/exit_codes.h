// The `enarx` CLI's exit codes. Scripts depend on these: never renumber, only add.
// (Documented in README.md, "Exit codes".)
#pragma once

#include "core/error.h"

namespace enarx::cli::exit_codes {

constexpr int kOk = 0;
constexpr int kFailure = 1;           // unexpected / internal error
constexpr int kUsage = 2;             // bad command line
constexpr int kInput = 3;             // unreadable or malformed input (file, evidence, config)
constexpr int kVerification = 4;      // signature, chain, CRL or collateral check failed
constexpr int kPolicy = 5;            // evidence is authentic but the policy rejects it
constexpr int kNetwork = 6;           // a server could not be reached or answered an error
constexpr int kNotFound = 7;          // package, tag, file or platform not found

// `enarx run` / `enarx deploy` runtime outcomes. A workload's own exit status (0..255 from
// proc_exit) is passed through unchanged; these are used only when the runtime itself ends it.
constexpr int kWorkloadTrap = 134;         // wasm trap (like SIGABRT's 128+6)
constexpr int kWorkloadLimit = 137;        // memory/time limit hit (like SIGKILL's 128+9)
constexpr int kWorkloadConfig = 78;        // EX_CONFIG: bad Enarx.toml or module

// `enarx deploy` steps (each failure names the step in its message).
constexpr int kDeploySlug = 20;
constexpr int kDeployMetadata = 21;
constexpr int kDeployDigestPin = 22;
constexpr int kDeploySignature = 23;
constexpr int kDeployPlatform = 24;
constexpr int kDeployAttestation = 25;
constexpr int kDeployFetch = 26;
constexpr int kDeployRun = 27;

}  // namespace enarx::cli::exit_codes

namespace enarx::cli {

// The one mapping from an error's kind to the exit code of a command that failed with it.
constexpr int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
    case ErrorKind::kTooLarge:
    case ErrorKind::kConflict: return exit_codes::kInput;
    case ErrorKind::kUntrusted: return exit_codes::kVerification;
    case ErrorKind::kPolicyRejected: return exit_codes::kPolicy;
    case ErrorKind::kUnauthenticated:
    case ErrorKind::kPermissionDenied:
    case ErrorKind::kUnavailable: return exit_codes::kNetwork;
    case ErrorKind::kNotFound: return exit_codes::kNotFound;
    case ErrorKind::kResourceExhausted:
    case ErrorKind::kInternal: return exit_codes::kFailure;
  }
  return exit_codes::kFailure;
}
inline int exit_code_for(const Error& e) { return exit_code_for(e.kind()); }

}  // namespace enarx::cli
