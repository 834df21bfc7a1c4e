// Fetching CRLs and OCSP responses over HTTP(S) with src/net's client. CRLs and OCSP responses
// are signed objects, so plain http is allowed (RFC 5280 and 6960 normally use it); https trust
// comes from a CA file or PEM in memory (or the system store). Tests and callers may substitute their own Fetcher.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace enarx::revocation {

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // The body of a 200 answer, at most `max_size` bytes. Throws Error: revocation.fetch.url
  // (kInvalidInput: not http(s), or http when refused), revocation.fetch.status (kUnavailable:
  // another status), http.* from net (kUnavailable transport failures, kTooLarge over
  // max_size, kUntrusted TLS).
  virtual Bytes get(const std::string& url, std::size_t max_size) = 0;
  virtual Bytes post(const std::string& url, std::string_view content_type, ByteView body, std::size_t max_size) = 0;
};

struct FetchOptions {
  std::chrono::milliseconds timeout{10'000};  // connect and whole transfer, each
  // https trust: PEM in memory, else a CA file; both empty: the system store.
  std::string ca_file{};
  std::string ca_pem{};
  bool allow_http = true;
};

std::shared_ptr<Fetcher> http_fetcher(FetchOptions options = {});

// "http://..." or "https://..." (case-insensitive scheme)?
bool is_http_url(std::string_view url);

}  // namespace enarx::revocation
