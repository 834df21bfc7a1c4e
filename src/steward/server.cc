#include "steward/server.h"

namespace enarx::steward {

void install_routes(net::HttpServer& server, Steward& steward, std::size_t max_body_size) {
  auto& registry = server.metrics();
  auto& issued = registry.counter("steward_certificates_issued_total",
                                  "Certificates issued, by attested platform", {"platform"});
  auto& rejected = registry.counter("steward_requests_rejected_total",
                                    "Requests refused, by stable error code and platform",
                                    {"reason", "platform"});
  auto& latency = registry.histogram("steward_request_duration_seconds",
                                     "Time to decide a certificate request", {"outcome"});
  steward.set_observer([&issued, &rejected, &latency](const Outcome& o) {
    if (o.status == 200) {
      issued.inc({o.platform}, static_cast<double>(o.issued));
      latency.observe({"issued"}, o.seconds);
    } else {
      rejected.inc({o.code, o.platform});
      latency.observe({"rejected"}, o.seconds);
    }
  });

  // The health check takes no body.
  server.get("/", [](net::Request&) { return net::Response::empty(200); },
             net::RouteOptions{.max_body_size = 0});
  net::RouteOptions options;
  options.max_body_size = max_body_size;
  server.post(
      "/",
      [&steward](net::Request& request) {
        const auto content_type = request.header("Content-Type").value_or("");
        Response r = steward.handle(content_type, as_bytes(request.body));
        net::Response out;
        out.status = r.status;
        out.headers.set("Content-Type", r.content_type);
        out.body.assign(r.body.begin(), r.body.end());
        return out;
      },
      options);
}

}  // namespace enarx::steward
