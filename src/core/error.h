// Project-wide error type.
//
// Choice: exceptions project-wide. Every failure that crosses a library boundary is an
// enarx::Error carrying
//  - a kind, chosen where the error is raised, from the closed set below: what the failure means
//    to whoever handles it. HTTP statuses (net/http.h http_status), CLI exit codes
//    (apps/enarx/exit_codes.h) and problem bodies are mapped from the kind, each in one place;
//    nothing classifies an error by matching its code or message;
//  - a stable, dotted, lower-case code (e.g. "snp.report.signature_invalid") that scripts, HTTP
//    problem bodies, audit logs and tests match on; codes never change meaning once published;
//  - a human message, which may improve.
// Appraisal results that are *expected* outcomes (policy failures) are data, not exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace enarx {

enum class ErrorKind {
  kInvalidInput,       // malformed, unreadable or out-of-range input; the sender must fix it
  kTooLarge,           // input over a stated size bound
  kUntrusted,          // a signature, chain, CRL, collateral or key binding did not verify
  kPolicyRejected,     // authentic, but a policy or an expectation refuses it
  kUnauthenticated,    // no credentials, or credentials that do not verify
  kPermissionDenied,   // authenticated, but not allowed
  kNotFound,           // the named thing (package, tag, file, device, platform) does not exist
  kConflict,           // the request contradicts stored state (exists already, immutable)
  kResourceExhausted,  // a bound of the host or the workload was reached (memory, time, disk)
  kUnavailable,        // a peer could not be reached, or answered with an error
  kInternal,           // a bug, or a local failure the caller cannot fix
};

// "invalid_input", ... (stable; used in logs and metrics).
std::string_view to_string(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const noexcept { return kind_; }
  // Stable machine-readable identifier.
  const std::string& code() const noexcept { return code_; }
  // "code: message", for logs and CLI output.
  std::string describe() const { return code_ + ": " + what(); }

 private:
  ErrorKind kind_;
  std::string code_;
};

// Throws Error(kind, code, message) when `condition` is false. For input validation, not bugs.
inline void require(bool condition, ErrorKind kind, std::string_view code, std::string_view message) {
  if (!condition) throw Error(kind, std::string(code), std::string(message));
}

}  // namespace enarx
