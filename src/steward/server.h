// The HTTP face of steward: routes and metrics in front of Steward::handle.
//   GET  /         200, empty body (Enarx health check)
//   POST /         Steward::handle(Content-Type, body); body limit = StewardLimits
//   GET  /crl      the CA's current CRL (DER, application/pkix-crl)          } with a
//   POST /ocsp     RFC 6960 OCSP (application/ocsp-request -> -response)      } StatusService
//   GET  /ocsp/{base64 request}  the same, RFC 6960 appendix A.1 GET form   }
//   GET  /healthz  {"status":"ok"}        (net built-in)
//   GET  /metrics  Prometheus text        (net built-in + the steward_* families below)
// Metrics: steward_certificates_issued_total{platform},
//          steward_requests_rejected_total{reason,platform},
//          steward_request_duration_seconds{outcome} (histogram; outcome issued|rejected).
#pragma once

#include <memory>

#include "net/http_server.h"
#include "steward/status_service.h"
#include "steward/steward.h"

namespace enarx::steward {

// Registers the routes on `server` and hooks the metrics into `steward` (its observer). Call
// before server.start(); `steward` (and `status`, when given) must outlive the server.
void install_routes(net::HttpServer& server, Steward& steward, std::size_t max_body_size,
                    StatusService* status = nullptr);

// An OCSP request is a few hundred bytes; larger bodies are refused before they are read.
inline constexpr std::size_t kMaxOcspRequestSize = 8192;

}  // namespace enarx::steward
