// Project-wide error type.
//
// Choice: exceptions project-wide. Every failure that crosses a library boundary is an
// enarx::Error carrying a stable, dotted, lower-case code (e.g. "snp.report.signature_invalid",
// "http.body_too_large") that scripts, HTTP problem bodies, audit logs and tests match on, plus a
// human message. Codes never change meaning once published; messages may improve.
// Appraisal results that are *expected* outcomes (policy failures) are data, not exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace enarx {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  // Stable machine-readable identifier.
  const std::string& code() const noexcept { return code_; }
  // "code: message", for logs and CLI output.
  std::string describe() const { return code_ + ": " + what(); }

 private:
  std::string code_;
};

// Throws Error(code, message) when `condition` is false. For input validation, not for bugs.
inline void require(bool condition, std::string_view code, std::string_view message) {
  if (!condition) throw Error(std::string(code), std::string(message));
}

}  // namespace enarx
