#include "steward/registry_check.h"

#include <algorithm>
#include <cctype>

#include "core/content_digest.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "identity/keep_certificate.h"
#include "identity/slug.h"
#include "jose/jws.h"
#include "net/http_client.h"

namespace enarx::steward {
namespace {

// The API version every drawbridge (ours and Enarx's) answers; the path is the same in later ones.
constexpr std::string_view kApiPrefix = "/api/v0.1.0/";

[[noreturn]] void refuse(ErrorKind kind, const std::string& code, const std::string& message) {
  throw Error(kind, "steward.registry." + code, message);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "application/jose+json; charset=utf-8" -> "application/jose+json".
std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && std::isspace(static_cast<unsigned char>(content_type.back())))
    content_type.remove_suffix(1);
  return lower(std::string(content_type));
}

std::string read_token(const std::filesystem::path& file) {
  std::string token;
  try {
    token = read_text_file(file, 64 << 10);
  } catch (const Error& e) {
    refuse(ErrorKind::kInternal, "token_unreadable",
           "cannot read the registry token " + file.string() + ": " + e.what());
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos)
    refuse(ErrorKind::kInternal, "token_unreadable",
           "the registry token " + file.string() + " is not one bearer token");
  return token;
}

}  // namespace

struct RegistryChecker::Endpoint {
  std::string url;  // "" for the unlisted hosts' endpoint
  std::optional<std::filesystem::path> token_file;
  std::unique_ptr<net::HttpClient> client;
};

RegistryChecker::RegistryChecker(const RegistryPolicy& policy) : policy_(policy) {
  const auto make_client = [&](const std::string& ca_pem) {
    net::ClientOptions options;
    options.connect_timeout = policy_.timeout;
    options.timeout = policy_.timeout;
    // The keep waits for the answer; it retries the whole request if it wants to.
    options.max_retries = 0;
    options.max_response_size = policy_.max_response_size;
    options.follow_redirects = false;
    options.user_agent = "steward";
    options.tls.ca_pem = ca_pem.empty() ? policy_.ca_pem : ca_pem;
    // A keep certificate is a valid TLS server certificate under a steward CA: never a registry.
    options.tls.forbidden_server_extensions = identity::keep_certificate_extension_oids();
    return std::make_unique<net::HttpClient>(options);
  };
  for (const auto& [host, endpoint] : policy_.hosts) {
    auto e = std::make_unique<Endpoint>();
    e->url = endpoint.url;
    e->token_file = endpoint.token_file ? endpoint.token_file : policy_.token_file;
    e->client = make_client(endpoint.ca_pem);
    listed_.emplace(host, std::move(e));
  }
  unlisted_ = std::make_unique<Endpoint>();
  unlisted_->token_file = policy_.token_file;
  unlisted_->client = make_client({});
}

RegistryChecker::~RegistryChecker() = default;

const RegistryChecker::Endpoint& RegistryChecker::endpoint_for(const std::string& host) const {
  auto it = listed_.find(lower(host));
  if (it != listed_.end()) return *it->second;
  if (policy_.only_listed_hosts)
    refuse(ErrorKind::kPolicyRejected, "host_not_allowed",
           "the slug's host " + host.substr(0, 255) +
               " is not in [registry.hosts] and registry.only_listed_hosts is set");
  return *unlisted_;
}

std::string RegistryChecker::base_url(const std::string& host) const {
  const Endpoint& e = endpoint_for(host);
  return e.url.empty() ? "https://" + lower(host) : e.url;
}

void RegistryChecker::check_token_files() const {
  if (unlisted_->token_file) (void)read_token(*unlisted_->token_file);
  for (const auto& [host, endpoint] : listed_)
    if (endpoint->token_file) (void)read_token(*endpoint->token_file);
}

RegistryCheckResult RegistryChecker::check(const identity::WorkloadIdentity& names,
                                           const RegistryCheckRule& rule) const {
  if (!names.slug || !names.slug->tag || !names.digest || !names.signer)
    refuse(ErrorKind::kPolicyRejected, "names_missing",
           "this steward checks workload names against the registry: the CSR must name the "
           "workload by slug with a tag, workload digest and signer (an unsigned tag is not "
           "certified)");
  const identity::Slug& slug = *names.slug;
  const std::string slug_text = identity::format_slug(slug);
  if (slug.host.empty())
    refuse(ErrorKind::kPolicyRejected, "no_host",
           "the slug " + slug_text + " names no registry host; a certificate for it would "
                                     "grant reads on every registry, but steward can check only one");
  const std::string& signer = *names.signer;
  if (std::find(rule.allowed_signers.begin(), rule.allowed_signers.end(), signer) ==
      rule.allowed_signers.end())
    refuse(ErrorKind::kPolicyRejected, "signer_not_allowed",
           "signer " + signer + " is not in the allowed_signers of the [[registry.check]] rule for " +
               rule.platform + (rule.measurement.empty() ? "" : " measurement " + rule.measurement));

  const Endpoint& endpoint = endpoint_for(slug.host);
  const std::string base = endpoint.url.empty() ? "https://" + lower(slug.host) : endpoint.url;
  const std::string url = base + std::string(kApiPrefix) + net::percent_encode(slug.user) + "/" +
                          net::percent_encode(slug.repo) + "/_tag/" + net::percent_encode(*slug.tag);
  net::Headers headers{{"Accept", std::string(drawbridge::kJwsType) + ", " +
                                      std::string(drawbridge::kEntryType)}};
  if (endpoint.token_file) headers.set("Authorization", "Bearer " + read_token(*endpoint.token_file));

  net::ClientResponse response;
  try {
    response = endpoint.client->get(url, headers);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kTooLarge)
      refuse(ErrorKind::kUnavailable, "bad_answer",
             base + " answered the tag " + slug_text + " with more than " +
                 std::to_string(policy_.max_response_size) + " bytes (registry.max_response_size)");
    refuse(ErrorKind::kUnavailable, "unreachable",
           "cannot read the tag " + slug_text + " from " + base + ": " + e.describe());
  }
  if (response.status == 404)
    refuse(ErrorKind::kPolicyRejected, "tag_not_found",
           base + " has no tag " + slug_text +
               " (or the repository is private and steward may not read it: registry.token_file)");
  if (response.status == 401 || response.status == 403)
    refuse(ErrorKind::kUnavailable, "unauthorized",
           base + " refused steward's read of " + slug_text + " (" + std::to_string(response.status) + ")");
  if (response.status != 200)
    refuse(ErrorKind::kUnavailable, "bad_answer",
           base + " answered the tag " + slug_text + " with status " + std::to_string(response.status));

  const std::string type = media_type(response.headers.get("Content-Type").value_or(""));
  drawbridge::Entry root;
  if (type == drawbridge::kEntryType) {
    refuse(ErrorKind::kPolicyRejected, "unsigned",
           "the tag " + slug_text + " at " + base + " is not signed; this steward certifies only "
                                                     "tags signed by an allowed publisher");
  }
  if (type != drawbridge::kJwsType)
    refuse(ErrorKind::kUnavailable, "bad_answer",
           base + " answered the tag " + slug_text + " with Content-Type \"" + type.substr(0, 100) + "\"");
  jws::Verified verified;
  try {
    verified = jws::verify(response.body);
  } catch (const Error& e) {
    refuse(ErrorKind::kUntrusted, "bad_signature",
           "the signature of the tag " + slug_text + " does not verify: " + e.describe());
  }
  try {
    root = drawbridge::parse_entry(as_string(verified.payload));
  } catch (const Error& e) {
    refuse(ErrorKind::kUnavailable, "bad_answer",
           "the signed payload of the tag " + slug_text + " is not a tree entry: " + e.describe());
  }
  if (std::find(verified.signer_fingerprints.begin(), verified.signer_fingerprints.end(), signer) ==
      verified.signer_fingerprints.end())
    refuse(ErrorKind::kPolicyRejected, "signer_mismatch",
           "the tag " + slug_text + " is signed by " + verified.signer_fingerprint +
               ", not by the CSR's signer " + signer);

  // The CSR's digest is "<alg>:<hex>" (identity::classify_workload_uri checked its form).
  const std::string& digest = *names.digest;
  const auto colon = digest.find(':');
  const auto alg = digest_from_name(digest.substr(0, colon));
  const auto have = alg ? root.meta.digest.get(*alg) : std::nullopt;
  if (!have || to_hex(*have) != digest.substr(colon + 1))
    refuse(ErrorKind::kPolicyRejected, "digest_mismatch",
           "the tag " + slug_text + " at " + base + " has root digest " +
               (have ? digest.substr(0, colon) + ":" + to_hex(*have) : "without " + digest.substr(0, colon)) +
               ", the CSR names " + digest);

  return RegistryCheckResult{base, slug_text, digest, signer};
}

}  // namespace enarx::steward
