// "Expect this call to throw an enarx::Error with code X": tests match codes, never messages
// (core/error.h), so they compare what error_code returns.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace enarx::support {

// What error_code returns when nothing was thrown; no error code has this spelling.
inline constexpr std::string_view kNoError = "<no error>";

// The code of the enarx::Error that `f()` throws, or kNoError. Any other exception escapes, so
// the test fails on it instead of comparing codes.
template <typename F>
std::string error_code(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const Error& e) {
    return e.code();
  }
  return std::string(kNoError);
}

}  // namespace enarx::support
