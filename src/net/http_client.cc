#include "net/http_client.h"

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/log.h"
#include "net/curl_library.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace enarx::net {
namespace {

struct EasyDeleter {
  void operator()(CURL* c) const { curl_library().easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_library().slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

constexpr std::size_t kErrorBodyLimit = 64 * 1024;

// Per-attempt transfer state shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  bool streaming = false;
  const BodySink* sink = nullptr;
  const ProgressCallback* progress = nullptr;
  std::uint64_t max_size = 0;
  std::string body;
  Headers headers;
  std::uint64_t received = 0;     // bytes delivered to the sink or buffered
  bool sink_used = false;
  bool too_large = false;
  std::exception_ptr callback_error;
};

long current_status(CURL* curl) {
  long code = 0;
  curl_library().easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->headers = Headers();  // a new response (after 100 Continue or a redirect)
    return size * n;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    t->headers.add(std::string(line.substr(0, colon)), std::string(value));
  }
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  try {
    const long status = current_status(t->curl);
    if (t->streaming && status >= 200 && status < 300) {
      t->sink_used = true;
      (*t->sink)(std::string_view(data, len));
      t->received += len;
      if (t->progress && *t->progress) {
        curl_off_t total = -1;
        curl_library().easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
        (*t->progress)(t->received, total >= 0 ? std::optional<std::uint64_t>(total) : std::nullopt);
      }
      return len;
    }
    const std::uint64_t limit = t->streaming ? kErrorBodyLimit : t->max_size;
    if (t->body.size() + len > limit) {
      if (t->streaming) {
        t->body.append(data, limit - t->body.size());
        return len;  // keep the truncated error body, drop the rest
      }
      t->too_large = true;
      return 0;
    }
    t->body.append(data, len);
    t->received += len;
    return len;
  } catch (...) {
    t->callback_error = std::current_exception();
    return 0;
  }
}

bool is_tls_text(std::string_view s) {
  // Only handshake-level failures; a plain "unexpected eof" under SSL_read is a dropped
  // connection.
  return s.find("alert") != std::string_view::npos ||
         s.find("certificate") != std::string_view::npos ||
         s.find("handshake") != std::string_view::npos;
}

std::string code_for(CURLcode rc, std::string_view detail) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return "http.bad_url";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "http.resolve";
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
      return "http.connect_failed";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      // TLS 1.3 reports a rejected client certificate as an alert on the first read.
      return is_tls_text(detail) ? "http.tls" : "http.connect_failed";
    case CURLE_OPERATION_TIMEDOUT:
      return "http.timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return "http.tls";
    case CURLE_FILESIZE_EXCEEDED:
      return "http.too_large";
    case CURLE_ABORTED_BY_CALLBACK:
      return "http.aborted";
    default:
      return "http.transfer";
  }
}

// Failures worth another attempt: the peer was not reached or did not answer in time.
bool transient(CURLcode rc, std::string_view detail) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT: return true;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: return !is_tls_text(detail);
    default: return false;
  }
}

// A transfer that failed, and whether trying again may help (decided where curl reported it).
class TransferFailure : public Error {
 public:
  TransferFailure(ErrorKind kind, std::string code, const std::string& message, bool transient)
      : Error(kind, std::move(code), message), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

bool retryable_status(int status) { return status == 502 || status == 503 || status == 504; }

bool default_idempotent(Method m) { return m == Method::Get || m == Method::Head; }

// URL without userinfo or query, for messages.
std::string safe_url(const std::string& url) {
  std::string out = url.substr(0, url.find_first_of("?#"));
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      out.erase(scheme + 3, at - scheme - 2);
    }
  }
  return out;
}

// Installed through CURLOPT_SSL_CTX_FUNCTION: the normal chain verification, then a look at the
// leaf's extensions. What it refused is remembered so the failure gets its own code.
struct ServerLeafGuard {
  const std::vector<std::string>* forbidden = nullptr;
  std::string refused_oid;
};

int verify_then_inspect_leaf(X509_STORE_CTX* store_ctx, void* arg) {
  auto* guard = static_cast<ServerLeafGuard*>(arg);
  const int ok = X509_verify_cert(store_ctx);
  if (ok <= 0) return ok;
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  for (int i = 0; leaf && i < X509_get_ext_count(leaf); ++i) {
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(X509_get_ext(leaf, i));
    char text[128];
    if (OBJ_obj2txt(text, sizeof text, obj, 1) <= 0) continue;
    for (const auto& oid : *guard->forbidden) {
      if (oid == text) {
        guard->refused_oid = oid;
        X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
      }
    }
  }
  return ok;
}

CURLcode install_leaf_guard(CURL*, void* ssl_ctx, void* arg) {
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ssl_ctx), verify_then_inspect_leaf, arg);
  return CURLE_OK;
}

curl_blob blob_of(const std::string& s) {
  curl_blob b{};
  b.data = const_cast<char*>(s.data());
  b.len = s.size();
  b.flags = CURL_BLOB_COPY;
  return b;
}

}  // namespace

const ClientResponse& ClientResponse::raise_for_status() const {
  if (status >= 200 && status < 300) return *this;
  std::string detail;
  try {
    auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("code") && j["code"].is_string()) {
      detail = " " + j["code"].get<std::string>();
      if (j.contains("detail") && j["detail"].is_string()) {
        detail += ": " + j["detail"].get<std::string>();
      }
    }
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::kUnavailable, "http.status", std::string(to_string(method)) + " " + safe_url(url) + ": " +
                                 std::to_string(status) + detail);
}

HttpClient::HttpClient(ClientOptions options) : options_(std::move(options)) {}
HttpClient::~HttpClient() = default;

namespace {

// One attempt. Throws enarx::Error for transport failures.
ClientResponse perform(const ClientOptions& opt, const ClientRequest& req, Transfer& t) {
  const CurlLibrary& curl_api = curl_library();
  EasyPtr curl(curl_api.easy_init());
  if (!curl) throw Error(ErrorKind::kUnavailable, "http.transfer", "curl_easy_init failed");
  CURL* c = curl.get();
  t.curl = c;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_api.easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_api.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_api.easy_setopt(c, CURLOPT_USERAGENT, opt.user_agent.c_str());
  curl_api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(opt.connect_timeout.count()));
  curl_api.easy_setopt(c, CURLOPT_TIMEOUT_MS,
                       static_cast<long>(req.timeout.value_or(opt.timeout).count()));
  curl_api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, opt.follow_redirects ? 1L : 0L);
  curl_api.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_api.easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_api.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_api.easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (!t.streaming && opt.max_response_size > 0) {
    curl_api.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                         static_cast<curl_off_t>(opt.max_response_size));
  }

  switch (req.method) {
    case Method::Get:
      curl_api.easy_setopt(c, CURLOPT_HTTPGET, 1L);
      break;
    case Method::Head:
      curl_api.easy_setopt(c, CURLOPT_NOBODY, 1L);
      break;
    case Method::Post:
      curl_api.easy_setopt(c, CURLOPT_POST, 1L);
      break;
    default:
      curl_api.easy_setopt(c, CURLOPT_CUSTOMREQUEST, std::string(to_string(req.method)).c_str());
      break;
  }
  if (req.method != Method::Get && req.method != Method::Head &&
      (!req.body.empty() || req.method == Method::Post || req.method == Method::Put)) {
    curl_api.easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  SlistPtr headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_api.slist_append(headers.get(), line.c_str());
    if (!next) throw Error(ErrorKind::kUnavailable, "http.transfer", "out of memory");
    (void)headers.release();
    headers.reset(next);
  };
  for (const auto& [k, v] : req.headers.items()) {
    add_header(v.empty() ? k + ";" : k + ": " + v);
  }
  // POST/PUT without an explicit Content-Type should not claim a form encoding.
  if ((req.method == Method::Post || req.method == Method::Put) && !req.headers.has("Content-Type")) {
    add_header("Content-Type: application/octet-stream");
  }
  if (headers) curl_api.easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  const auto& tls = opt.tls;
  curl_api.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls.verify_peer ? 1L : 0L);
  curl_api.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls.verify_host ? 2L : 0L);
  curl_api.easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!tls.ca_pem.empty()) {
    // Only the given anchors: no system bundle or directory.
    curl_api.easy_setopt(c, CURLOPT_CAINFO, nullptr);
    curl_api.easy_setopt(c, CURLOPT_CAPATH, nullptr);
    curl_blob b = blob_of(tls.ca_pem);
    curl_api.easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
  } else if (!tls.ca_file.empty()) {
    curl_api.easy_setopt(c, CURLOPT_CAPATH, nullptr);
    curl_api.easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str());
  }
  if (!tls.pinned_public_key.empty()) {
    curl_api.easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, tls.pinned_public_key.c_str());
  }
  if (!tls.client_cert_pem.empty()) {
    curl_blob b = blob_of(tls.client_cert_pem);
    curl_api.easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
    curl_api.easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls.client_key_pem.empty()) {
    curl_blob b = blob_of(tls.client_key_pem);
    curl_api.easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
    curl_api.easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }

  ServerLeafGuard guard;
  if (!tls.forbidden_server_extensions.empty()) {
    guard.forbidden = &tls.forbidden_server_extensions;
    curl_api.easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, install_leaf_guard);
    curl_api.easy_setopt(c, CURLOPT_SSL_CTX_DATA, &guard);
  }

  const CURLcode rc = curl_api.easy_perform(c);
  if (!guard.refused_oid.empty()) {
    throw Error(ErrorKind::kUntrusted, "http.tls_unexpected_certificate",
                safe_url(req.url) + ": the server's certificate carries extension " +
                    guard.refused_oid + ", which this client refuses from a server");
  }
  if (t.callback_error) {
    try {
      std::rethrow_exception(t.callback_error);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::kUnavailable, "http.aborted", safe_url(req.url) + ": transfer aborted: " + e.what());
    }
  }
  if (t.too_large) {
    throw Error(ErrorKind::kTooLarge, "http.too_large", safe_url(req.url) + ": response body exceeds " +
                                      std::to_string(opt.max_response_size) + " bytes");
  }
  if (rc != CURLE_OK) {
    const std::string detail = errbuf[0] ? std::string(errbuf) : curl_api.easy_strerror(rc);
    // A URL the caller wrote is its input; everything else is the peer's or the path's failure.
    const bool bad_url = rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
    throw TransferFailure(bad_url ? ErrorKind::kInvalidInput : ErrorKind::kUnavailable, code_for(rc, detail),
                          std::string(to_string(req.method)) + " " + safe_url(req.url) + ": " + detail,
                          transient(rc, detail));
  }
  ClientResponse res;
  res.status = static_cast<int>(current_status(c));
  res.headers = std::move(t.headers);
  res.body = std::move(t.body);
  res.url = req.url;
  res.method = req.method;
  return res;
}

ClientResponse send_with_retries(const ClientOptions& opt, const ClientRequest& req,
                                 const BodySink* sink, const ProgressCallback* progress) {
  const bool idempotent = req.idempotent.value_or(default_idempotent(req.method));
  const int max_attempts = 1 + (idempotent ? std::max(0, opt.max_retries) : 0);
  auto backoff = opt.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    Transfer t;
    t.streaming = sink != nullptr;
    t.sink = sink;
    t.progress = progress;
    t.max_size = opt.max_response_size;
    bool retry = false;
    std::string reason;
    try {
      ClientResponse res = perform(opt, req, t);
      res.attempts = attempt;
      if (attempt < max_attempts && retryable_status(res.status) && !t.sink_used) {
        retry = true;
        reason = "status " + std::to_string(res.status);
      } else {
        return res;
      }
    } catch (const TransferFailure& e) {
      if (attempt >= max_attempts || !e.transient() || t.sink_used) throw;
      retry = true;
      reason = e.code();
    }
    if (retry) {
      log::debug("http.client_retry", {{"url", safe_url(req.url)},
                                       {"attempt", attempt},
                                       {"reason", reason},
                                       {"backoff_ms", static_cast<std::int64_t>(backoff.count())}});
      std::this_thread::sleep_for(backoff);
      backoff = std::min(opt.max_backoff, backoff * 2);
    }
  }
}

}  // namespace

ClientResponse HttpClient::send(const ClientRequest& request) const {
  return send_with_retries(options_, request, nullptr, nullptr);
}

ClientResponse HttpClient::get(const std::string& url, Headers headers) const {
  return send({.method = Method::Get, .url = url, .headers = std::move(headers)});
}

ClientResponse HttpClient::head(const std::string& url, Headers headers) const {
  return send({.method = Method::Head, .url = url, .headers = std::move(headers)});
}

ClientResponse HttpClient::post(const std::string& url, std::string body, Headers headers) const {
  return send({.method = Method::Post, .url = url, .headers = std::move(headers), .body = std::move(body)});
}

ClientResponse HttpClient::put(const std::string& url, std::string body, Headers headers,
                               bool idempotent) const {
  return send({.method = Method::Put,
               .url = url,
               .headers = std::move(headers),
               .body = std::move(body),
               .idempotent = idempotent});
}

ClientResponse HttpClient::download(const ClientRequest& request, const BodySink& sink,
                                    const ProgressCallback& progress) const {
  return send_with_retries(options_, request, &sink, &progress);
}

}  // namespace enarx::net
