// Drawbridge-style content digests: the RFC 9530 `Content-Digest` header
// (`sha-256=:<base64>:, sha-384=:<base64>:`) and the JSON digest object
// (`{"sha-256":"<base64>"}`), with streaming computation and comparison.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/crypto.h"

namespace enarx {

// "sha-224", "sha-256", "sha-384", "sha-512".
std::string_view digest_name(DigestAlgorithm alg);
std::optional<DigestAlgorithm> digest_from_name(std::string_view name);  // case-insensitive

class ContentDigest {
 public:
  ContentDigest() = default;
  // Parses one or more comma-separated header values (several header instances may be joined
  // with ","). Unknown algorithms are ignored, as RFC 9530 asks; a malformed member, a bad
  // base64 value, a wrong digest length, or a repeated algorithm throws
  // Error("digest.header_malformed"). An empty result throws Error("digest.header_empty").
  static ContentDigest parse_header(std::string_view header);
  // From the JSON digest object's members (name -> base64).
  static ContentDigest from_map(const std::map<std::string, std::string>& members);
  // Computes the given algorithms over `data`.
  static ContentDigest compute(ByteView data, std::vector<DigestAlgorithm> algs = all_algorithms());
  static std::vector<DigestAlgorithm> all_algorithms();

  // Header form, sorted by algorithm: "sha-224=:...:,sha-256=:...:".
  std::string to_header() const;
  // name -> base64, sorted by algorithm (for JSON).
  std::map<std::string, std::string> to_map() const;

  const std::map<DigestAlgorithm, Bytes>& values() const { return values_; }
  bool empty() const { return values_.empty(); }
  std::optional<Bytes> get(DigestAlgorithm alg) const;
  void set(DigestAlgorithm alg, Bytes value);

  // True when every algorithm present in both has the same value and at least one is shared.
  bool matches(const ContentDigest& other) const;
  bool operator==(const ContentDigest& other) const { return values_ == other.values_; }

 private:
  std::map<DigestAlgorithm, Bytes> values_;
};

// Streams data through several digests at once; verify() compares with an expected set.
class DigestVerifier {
 public:
  explicit DigestVerifier(std::vector<DigestAlgorithm> algs);
  explicit DigestVerifier(const ContentDigest& expected);
  void update(ByteView data);
  ContentDigest finish();
  // finish() and compare with the expected value given at construction: every expected
  // algorithm must match. Throws Error("digest.mismatch") otherwise.
  void verify();
  std::uint64_t bytes_seen() const { return seen_; }

 private:
  std::vector<Hasher> hashers_;
  std::optional<ContentDigest> expected_;
  std::uint64_t seen_ = 0;
};

}  // namespace enarx
