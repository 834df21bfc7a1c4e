// The HTTP face of steward: routes and metrics in front of Steward::handle.
//   GET  /         200, empty body (Enarx health check)
//   POST /         Steward::handle(Content-Type, body); body limit = StewardLimits
//   GET  /healthz  {"status":"ok"}        (net built-in)
//   GET  /metrics  Prometheus text        (net built-in + the steward_* families below)
// Metrics: steward_certificates_issued_total{platform},
//          steward_requests_rejected_total{reason,platform},
//          steward_request_duration_seconds{outcome} (histogram; outcome issued|rejected).
#pragma once

#include <memory>

#include "net/http_server.h"
#include "steward/steward.h"

namespace enarx::steward {

// Registers the routes on `server` and hooks the metrics into `steward` (its observer). Call
// before server.start(); `steward` must outlive the server.
void install_routes(net::HttpServer& server, Steward& steward, std::size_t max_body_size);

}  // namespace enarx::steward
