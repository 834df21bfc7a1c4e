#include "core/problem.h"

namespace enarx {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "";
  }
}

nlohmann::ordered_json problem_details(int status, std::string_view code, std::string_view detail) {
  nlohmann::ordered_json j;
  j["status"] = status;
  j["title"] = reason_phrase(status);
  j["code"] = code;
  j["detail"] = detail;
  return j;
}

std::string to_problem_body(const nlohmann::ordered_json& problem) {
  return problem.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string problem_body(int status, std::string_view code, std::string_view detail) {
  return to_problem_body(problem_details(status, code, detail));
}

}  // namespace enarx
