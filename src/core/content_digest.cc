#include "core/content_digest.h"

#include <algorithm>

#include "core/error.h"

namespace enarx {

namespace {

constexpr std::string_view kMalformed = "digest.header_malformed";

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 8941 key characters, accepting upper case because names are case-insensitive here.
bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '*';
}

[[noreturn]] void malformed(const std::string& what) { throw Error(ErrorKind::kInvalidInput, std::string(kMalformed), what); }

Bytes decode_value(DigestAlgorithm alg, std::string_view b64, std::string_view code) {
  Bytes v;
  try {
    v = from_base64(b64);
  } catch (const Error&) {
    throw Error(ErrorKind::kInvalidInput, std::string(code),
                std::string(digest_name(alg)) + ": value is not padded standard base64");
  }
  if (v.size() != digest_size(alg)) {
    throw Error(ErrorKind::kInvalidInput, std::string(code), std::string(digest_name(alg)) + ": digest is " +
                                       std::to_string(v.size()) + " bytes, expected " +
                                       std::to_string(digest_size(alg)));
  }
  return v;
}

}  // namespace

std::string_view digest_name(DigestAlgorithm alg) {
  switch (alg) {
    case DigestAlgorithm::Sha224:
      return "sha-224";
    case DigestAlgorithm::Sha256:
      return "sha-256";
    case DigestAlgorithm::Sha384:
      return "sha-384";
    case DigestAlgorithm::Sha512:
      return "sha-512";
  }
  return "unknown";
}

std::optional<DigestAlgorithm> digest_from_name(std::string_view name) {
  std::string n;
  n.reserve(name.size());
  for (char c : name) n += lower(c);
  for (DigestAlgorithm a : ContentDigest::all_algorithms()) {
    if (n == digest_name(a)) return a;
  }
  return std::nullopt;
}

std::vector<DigestAlgorithm> ContentDigest::all_algorithms() {
  return {DigestAlgorithm::Sha224, DigestAlgorithm::Sha256, DigestAlgorithm::Sha384,
          DigestAlgorithm::Sha512};
}

ContentDigest ContentDigest::parse_header(std::string_view header) {
  ContentDigest out;
  if (trim(header).empty()) throw Error(ErrorKind::kInvalidInput, "digest.header_empty", "empty Content-Digest header");
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = header.find(',', start);
    const std::string_view member =
        trim(header.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                  : comma - start));
    if (member.empty()) malformed("empty member in Content-Digest header");
    const std::size_t eq = member.find('=');
    if (eq == std::string_view::npos || eq == 0) malformed("member without \"name=\"");
    const std::string_view name = member.substr(0, eq);
    if (!std::all_of(name.begin(), name.end(), is_key_char))
      malformed("invalid algorithm name \"" + std::string(name) + "\"");
    const std::string_view value = member.substr(eq + 1);
    if (auto alg = digest_from_name(name)) {
      // A byte sequence: ":" base64 ":" with nothing else (no parameters).
      if (value.size() < 2 || value.front() != ':' || value.back() != ':')
        malformed(std::string(name) + ": value must be :base64:");
      const std::string_view b64 = value.substr(1, value.size() - 2);
      if (b64.find(':') != std::string_view::npos) malformed(std::string(name) + ": stray ':'");
      Bytes v = decode_value(*alg, b64, kMalformed);
      if (out.values_.count(*alg)) malformed("algorithm " + std::string(name) + " repeated");
      out.values_.emplace(*alg, std::move(v));
    } else if (value.empty()) {
      malformed(std::string(name) + ": empty value");
    }
    // Unknown algorithms are ignored (RFC 9530 §2).
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.values_.empty())
    throw Error(ErrorKind::kInvalidInput, "digest.header_empty", "Content-Digest header has no supported algorithm");
  return out;
}

ContentDigest ContentDigest::from_map(const std::map<std::string, std::string>& members) {
  ContentDigest out;
  for (const auto& [name, b64] : members) {
    auto alg = digest_from_name(name);
    if (!alg) continue;
    Bytes v = decode_value(*alg, b64, "digest.object_malformed");
    if (out.values_.count(*alg))
      throw Error(ErrorKind::kInvalidInput, "digest.object_malformed", "algorithm " + name + " repeated");
    out.values_.emplace(*alg, std::move(v));
  }
  return out;
}

ContentDigest ContentDigest::compute(ByteView data, std::vector<DigestAlgorithm> algs) {
  ContentDigest out;
  for (DigestAlgorithm a : algs) out.values_[a] = digest(a, data);
  return out;
}

std::string ContentDigest::to_header() const {
  std::string out;
  for (const auto& [alg, v] : values_) {
    if (!out.empty()) out += ',';
    out += digest_name(alg);
    out += "=:";
    out += to_base64(v);
    out += ':';
  }
  return out;
}

std::map<std::string, std::string> ContentDigest::to_map() const {
  std::map<std::string, std::string> out;
  for (const auto& [alg, v] : values_) out.emplace(std::string(digest_name(alg)), to_base64(v));
  return out;
}

std::optional<Bytes> ContentDigest::get(DigestAlgorithm alg) const {
  auto it = values_.find(alg);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void ContentDigest::set(DigestAlgorithm alg, Bytes value) {
  require(value.size() == digest_size(alg), ErrorKind::kInvalidInput, "digest.bad_length",
          std::string(digest_name(alg)) + ": wrong digest length");
  values_[alg] = std::move(value);
}

bool ContentDigest::matches(const ContentDigest& other) const {
  bool shared = false;
  for (const auto& [alg, v] : values_) {
    auto it = other.values_.find(alg);
    if (it == other.values_.end()) continue;
    if (!constant_time_equal(v, it->second)) return false;
    shared = true;
  }
  return shared;
}

DigestVerifier::DigestVerifier(std::vector<DigestAlgorithm> algs) {
  std::sort(algs.begin(), algs.end());
  algs.erase(std::unique(algs.begin(), algs.end()), algs.end());
  for (DigestAlgorithm a : algs) hashers_.emplace_back(a);
}

DigestVerifier::DigestVerifier(const ContentDigest& expected) : expected_(expected) {
  for (const auto& [alg, v] : expected.values()) hashers_.emplace_back(alg);
}

void DigestVerifier::update(ByteView data) {
  for (Hasher& h : hashers_) h.update(data);
  seen_ += data.size();
}

ContentDigest DigestVerifier::finish() {
  ContentDigest out;
  for (Hasher& h : hashers_) out.set(h.algorithm(), h.finish());
  return out;
}

void DigestVerifier::verify() {
  require(expected_.has_value() && !expected_->empty(), ErrorKind::kUntrusted, "digest.mismatch",
          "no expected digest to verify against");
  const ContentDigest actual = finish();
  for (const auto& [alg, v] : expected_->values()) {
    auto got = actual.get(alg);
    if (!got || !constant_time_equal(*got, v)) {
      throw Error(ErrorKind::kUntrusted, "digest.mismatch", std::string(digest_name(alg)) + " of the content (" +
                                         to_base64(got ? *got : Bytes{}) +
                                         ") does not match the expected " + to_base64(v));
    }
  }
}

}  // namespace enarx
