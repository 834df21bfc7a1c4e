// HTTP client on libcurl (OpenSSL backend).
//
//   net::ClientOptions opts;
//   opts.tls.ca_pem = steward_ca_pem;              // trust only this CA
//   opts.tls.client_cert_pem = cert; opts.tls.client_key_pem = key;   // mutual TLS from memory
//   net::HttpClient client(opts);
//   auto res = client.get("https://127.0.0.1:8443/healthz");
//   if (res.status != 200) ...
//
// Statuses are data: any HTTP response (including 4xx/5xx) is returned, not thrown; use
// ClientResponse::raise_for_status(). Transport failures throw enarx::Error:
//   http.bad_url         malformed or unsupported URL
//   http.resolve         host name did not resolve
//   http.connect_failed  TCP connect refused / unreachable / reset before a response
//   http.timeout         connect_timeout or timeout exceeded
//   http.tls             TLS handshake or certificate verification failed, bad client cert/key,
//                        pinned key mismatch
//   http.tls_unexpected_certificate  the server's certificate verified but carries an extension
//                        listed in ClientTlsConfig::forbidden_server_extensions
//   http.too_large       response body over max_response_size
//   http.aborted         a sink or progress callback threw (the exception is rethrown instead
//                        when it is an enarx::Error)
//   http.transfer        any other libcurl failure (message has curl's text)
//   http.status          from raise_for_status()
//   http.curl_unavailable  libcurl (loaded on the first request) cannot be loaded
//
// Retries: only for idempotent requests (GET, HEAD, and others marked idempotent = true, e.g.
// a content-addressed PUT), on http.connect_failed / http.timeout / http.resolve, and on
// 502/503/504 responses; up to max_retries extra attempts with exponential backoff
// (initial_backoff * 2^n, capped at max_backoff). A download retries only if nothing was
// passed to its sink yet. POST is never retried unless marked idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.h"

namespace enarx::net {

struct ClientTlsConfig {
  // Trust anchors for the server: PEM in memory (CURLOPT_CAINFO_BLOB) or a file. Both empty =
  // the system store.
  std::string ca_pem{};
  std::filesystem::path ca_file{};
  // Public-key pin, curl syntax: "sha256//<base64 of SHA-256(SPKI DER)>[;sha256//...]".
  std::string pinned_public_key{};
  // Client certificate (PEM; leaf first, may include intermediates) and its key, from memory.
  std::string client_cert_pem{};
  std::string client_key_pem{};  // secret: never logged
  bool verify_peer = true;     // false only for tests against self-signed servers
  bool verify_host = true;
  // Extension OIDs (dotted) the server's leaf certificate must not carry. A keep certificate
  // (attested claims, tagged evidence) is valid for TLS under its steward CA, so a client that
  // talks to a *service* refuses leaves that look like keeps even when the chain verifies.
  std::vector<std::string> forbidden_server_extensions{};
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{60'000};  // whole transfer, per attempt; 0 = none
  int max_retries = 3;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5'000};
  std::uint64_t max_response_size = 64ull << 20;  // for buffered responses (not download())
  std::string user_agent = "enarx";
  bool follow_redirects = false;
  ClientTlsConfig tls{};
};

struct ClientRequest {
  Method method = Method::Get;
  std::string url{};
  Headers headers{};
  std::string body{};
  // nullopt: GET and HEAD are idempotent, the rest not.
  std::optional<bool> idempotent{};
  // Per-request override of ClientOptions::timeout.
  std::optional<std::chrono::milliseconds> timeout{};
};

struct ClientResponse {
  int status = 0;
  Headers headers{};
  std::string body{};  // empty for HEAD and for download()
  int attempts = 1;  // how many tries it took
  // Throws Error("http.status", "<METHOD> <url>: <status> <code/message from a JSON error
  // body if any>") unless 200..299.
  const ClientResponse& raise_for_status() const;
  std::string url{};
  Method method = Method::Get;
};

// Receives body bytes as they arrive. Throwing aborts the transfer.
using BodySink = std::function<void(std::string_view chunk)>;
// Bytes received so far and the total when known (Content-Length).
using ProgressCallback = std::function<void(std::uint64_t received, std::optional<std::uint64_t> total)>;

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Thread-safe: each call uses its own curl handle (connection reuse within a call only).
  ClientResponse send(const ClientRequest& request) const;

  ClientResponse get(const std::string& url, Headers headers = {}) const;
  ClientResponse head(const std::string& url, Headers headers = {}) const;
  ClientResponse post(const std::string& url, std::string body, Headers headers = {}) const;
  ClientResponse put(const std::string& url, std::string body, Headers headers = {},
                     bool idempotent = false) const;

  // Streams the response body to `sink` (no size limit other than the sink's), calling
  // `progress` as bytes arrive. Only 2xx bodies go to the sink; for other statuses the body (up
  // to 64 KiB) is returned in ClientResponse::body so callers can show the error.
  ClientResponse download(const ClientRequest& request, const BodySink& sink,
                          const ProgressCallback& progress = {}) const;

  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

}  // namespace enarx::net
