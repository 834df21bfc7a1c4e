#include "steward/server.h"

#include <optional>

#include "core/bytes.h"
#include "core/error.h"
#include "core/log.h"

namespace enarx::steward {

namespace {

std::optional<Bytes> base64_any(std::string_view text) {
  // RFC 6960 A.1: base64 of the DER, URL-encoded (the router already decoded it); some clients
  // send base64url. Both are accepted.
  std::string s(text);
  for (auto& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4) s.push_back('=');
  try {
    return from_base64(s);
  } catch (const Error&) {
    return std::nullopt;
  }
}

net::Response der_response(std::string_view content_type, const Bytes& body, std::string_view cache) {
  net::Response out;
  out.status = 200;
  out.headers.set("Content-Type", std::string(content_type));
  if (!cache.empty()) out.headers.set("Cache-Control", std::string(cache));
  out.body.assign(body.begin(), body.end());
  return out;
}

}  // namespace

void install_routes(net::HttpServer& server, Steward& steward, std::size_t max_body_size,
                    StatusService* status) {
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
  // Asynchronous: the worker verifies and signs, then takes the next request while the index
  // and audit log commit; their committer sends the answer (docs/steward.md "Performance").
  server.route_async(
      net::Method::Post, "/",
      [&steward](net::Request& request, net::Responder respond) {
        const auto content_type = request.header("Content-Type").value_or("");
        steward.handle_async(content_type, as_bytes(request.body), [respond](Response r) {
          net::Response out;
          out.status = r.status;
          out.headers.set("Content-Type", r.content_type);
          out.body.assign(r.body.begin(), r.body.end());
          respond(std::move(out));
        });
      },
      options);

  if (!status) return;
  auto& crl_number = registry.gauge("steward_crl_number", "cRLNumber of the CRL served", {});
  auto& ocsp_answers = registry.counter("steward_ocsp_responses_total", "OCSP answers sent", {});
  server.get(
      "/crl",
      [status, &crl_number](net::Request&) {
        try {
          const auto crl = status->crl_record();
          crl_number.set({}, static_cast<double>(crl.number));
          // Caches may keep it until the next rebuild at the latest.
          return der_response("application/pkix-crl", crl.der, "max-age=60");
        } catch (const Error& e) {
          log::error("steward.crl_unavailable", {{"code", e.code()}, {"error", e.what()}});
          return net::Response::error(503, "steward.crl_unavailable", "the CRL is unavailable");
        }
      },
      net::RouteOptions{.max_body_size = 0});
  auto answer = [status, &ocsp_answers](ByteView request) {
    try {
      const Bytes response = status->ocsp(request);
      ocsp_answers.inc({});
      return der_response("application/ocsp-response", response, "");
    } catch (const Error& e) {
      // Input never throws (it becomes malformedRequest); the index can.
      log::error("steward.ocsp_unavailable", {{"code", e.code()}, {"error", e.what()}});
      return net::Response::error(503, "steward.ocsp_unavailable", "certificate status is unavailable");
    }
  };
  server.post(
      "/ocsp",
      [answer](net::Request& request) { return answer(as_bytes(request.body)); },
      net::RouteOptions{.max_body_size = kMaxOcspRequestSize});
  server.get(
      "/ocsp/{request*}",
      [answer](net::Request& request) {
        const auto der = base64_any(request.param("request"));
        if (!der || der->size() > kMaxOcspRequestSize)
          return net::Response::error(400, "steward.ocsp_malformed", "the GET form takes the base64 DER request");
        return answer(*der);
      },
      net::RouteOptions{.max_body_size = 0});
}

}  // namespace enarx::steward
