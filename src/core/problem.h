// The one error body both servers send: RFC 9457 problem details,
//   {"status":404,"title":"Not Found","code":"drawbridge.not_found","detail":"..."}
// with Content-Type application/problem+json. "code" is the stable enarx::Error code; a server
// may add members (steward: csr_index, platform, failures).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace enarx {

inline constexpr std::string_view kProblemContentType = "application/problem+json";

// Standard reason phrase ("Not Found"), "" when unknown.
std::string_view reason_phrase(int status);

nlohmann::ordered_json problem_details(int status, std::string_view code, std::string_view detail);
// The serialized document (invalid UTF-8 in `detail` replaced, never thrown on).
std::string to_problem_body(const nlohmann::ordered_json& problem);
std::string problem_body(int status, std::string_view code, std::string_view detail);

}  // namespace enarx
