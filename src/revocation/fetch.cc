#include "revocation/fetch.h"

#include "core/error.h"
#include "net/http_client.h"

namespace enarx::revocation {

namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

class HttpFetcher final : public Fetcher {
 public:
  explicit HttpFetcher(FetchOptions options) : options_(std::move(options)) {}

  Bytes get(const std::string& url, std::size_t max_size) override {
    net::ClientRequest req;
    req.method = net::Method::Get;
    req.url = url;
    return send(req, max_size);
  }

  Bytes post(const std::string& url, std::string_view content_type, ByteView body, std::size_t max_size) override {
    net::ClientRequest req;
    req.method = net::Method::Post;
    req.url = url;
    req.headers.set("Content-Type", std::string(content_type));
    req.headers.set("Accept", "application/ocsp-response");
    req.body = std::string(as_string(body));
    req.idempotent = true;  // an OCSP query changes nothing
    return send(req, max_size);
  }

 private:
  Bytes send(const net::ClientRequest& req, std::size_t max_size) const {
    const bool https = starts_with_nocase(req.url, "https://");
    if (!https && !(options_.allow_http && starts_with_nocase(req.url, "http://")))
      throw Error(ErrorKind::kInvalidInput, "revocation.fetch.url",
                  "revocation services are fetched over http(s) only" +
                      std::string(options_.allow_http ? "" : " (https here)"));
    net::ClientOptions o;
    o.connect_timeout = options_.timeout;
    o.timeout = options_.timeout;
    o.max_retries = 1;
    o.max_response_size = max_size;
    o.follow_redirects = false;
    o.user_agent = "enarx-revocation";
    if (!options_.ca_file.empty()) o.tls.ca_file = options_.ca_file;
    if (!options_.ca_pem.empty()) o.tls.ca_pem = options_.ca_pem;
    net::HttpClient client(o);
    const auto res = client.send(req);
    if (res.status != 200)
      throw Error(ErrorKind::kUnavailable, "revocation.fetch.status",
                  std::string(net::to_string(req.method)) + " " + req.url + " answered " + std::to_string(res.status));
    return to_bytes(res.body);
  }

  FetchOptions options_;
};

}  // namespace

bool is_http_url(std::string_view url) {
  return starts_with_nocase(url, "http://") || starts_with_nocase(url, "https://");
}

std::shared_ptr<Fetcher> http_fetcher(FetchOptions options) {
  return std::make_shared<HttpFetcher>(std::move(options));
}

}  // namespace enarx::revocation
