#include "verify/verify.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <sstream>

#include <sys/socket.h>
#include <sys/time.h>

#include "core/error.h"
#include "core/openssl.h"
#include "identity/keep_certificate.h"
#include "attest/enarx/oids.h"

namespace enarx::verify {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void check_slug(const identity::WorkloadIdentity& id, const std::string& expected_text) {
  identity::Slug want = identity::parse_slug(expected_text);
  if (!id.slug)
    throw Error(ErrorKind::kPolicyRejected, "verify.slug_mismatch", "certificate names no slug; expected " + expected_text);
  const auto& got = *id.slug;
  bool ok = got.user == want.user && got.repo == want.repo &&
            (!want.tag || got.tag == want.tag) &&
            (want.host.empty() || lower(got.host) == lower(want.host));
  if (!ok)
    throw Error(ErrorKind::kPolicyRejected, "verify.slug_mismatch", "certificate is for " + identity::format_slug(got) +
                                            ", expected " + expected_text);
}

void check_digest(const identity::WorkloadIdentity& id, const std::string& expected) {
  if (!id.digest)
    throw Error(ErrorKind::kPolicyRejected, "verify.digest_mismatch", "certificate names no workload digest; expected " + expected);
  std::string want = lower(expected);
  bool ok = want.find(':') == std::string::npos
                ? id.digest->substr(id.digest->find(':') + 1) == want
                : *id.digest == want;
  if (!ok)
    throw Error(ErrorKind::kPolicyRejected, "verify.digest_mismatch",
                "workload digest is " + *id.digest + ", expected " + expected);
}

// An application or configuration digest: the certificate's "sha-256:<hex>" must be the one
// expected, given as "sha-256:<hex>" or bare hex (any case).
void check_package_digest(const std::optional<std::string>& have, const std::string& expected, const char* code,
                          const std::string& what) {
  std::string want = lower(expected);
  if (!want.starts_with("sha-256:")) want = "sha-256:" + want;
  const bool well_formed = want.size() == 8 + 64 && want.find_first_not_of("0123456789abcdef", 8) == std::string::npos;
  if (!well_formed)
    throw Error(ErrorKind::kInvalidInput, "verify.bad_expectation",
                "an expected " + what + " is sha-256:<64 hex digits> (or the bare hex), not " + expected);
  if (!have)
    throw Error(ErrorKind::kPolicyRejected, code, "certificate names no " + what + "; expected " + want);
  if (*have != want) throw Error(ErrorKind::kPolicyRejected, code, what + " is " + *have + ", expected " + want);
}

}  // namespace

PeerIdentity verify_peer(std::span<const Certificate> chain, std::span<const Certificate> steward_cas,
                         TimePoint at, const Expectations& expect) {
  return verify_peer(chain, steward_cas, at, expect, RevocationOptions{});
}

PeerIdentity verify_peer(std::span<const Certificate> chain, std::span<const Certificate> steward_cas,
                         TimePoint at, const Expectations& expect, const RevocationOptions& revocation) {
  require(!chain.empty(), ErrorKind::kInvalidInput, "verify.no_certificate", "the peer presented no certificate");
  require(!steward_cas.empty(), ErrorKind::kPolicyRejected, "verify.no_trust_anchor", "no steward CA certificate given");

  ChainVerifyOptions options;
  options.at = at;
  options.required_eku = "1.3.6.1.5.5.7.3.1";  // serverAuth: the keep is a TLS server to us
  std::vector<Certificate> intermediates(chain.begin() + 1, chain.end());
  PeerIdentity peer;
  peer.path = verify_chain(chain.front(), intermediates, steward_cas, options);
  const Certificate& leaf = chain.front();
  peer.not_before = leaf.not_before();
  peer.not_after = leaf.not_after();

  const auto facts = identity::read_keep_facts(leaf);
  if (!facts)
    throw Error(ErrorKind::kUntrusted, "verify.no_claims", "certificate carries no attested claims (OID " +
                                        std::string(oids::kAttestedClaims) + ")");
  peer.claims = facts->claims;
  peer.platform = facts->platform;
  peer.measurement = facts->measurement;
  peer.tcb_status = facts->tcb_status;
  peer.insecure = facts->insecure;
  peer.insecure_reason = facts->insecure_reason;
  peer.simulated = facts->simulated;

  peer.identity = identity::WorkloadIdentity::from_uris(leaf.subject_alt_names().uris);

  if (peer.simulated && !expect.allow_simulated)
    throw Error(ErrorKind::kPolicyRejected, "verify.simulated_not_allowed",
                "the keep was attested by a SIMULATED platform (test root of trust); "
                "pass --allow-simulated to accept it");
  if (peer.insecure && !peer.simulated && !expect.allow_insecure)
    throw Error(ErrorKind::kPolicyRejected, "verify.insecure_not_allowed",
                "the certificate was issued WITHOUT hardware attestation (" + peer.insecure_reason + ")");
  if (expect.slug) check_slug(peer.identity, *expect.slug);
  if (expect.digest) check_digest(peer.identity, *expect.digest);
  if (expect.app_digest)
    check_package_digest(peer.identity.app_digest, *expect.app_digest, "verify.app_digest_mismatch",
                         "application digest");
  if (expect.config_digest)
    check_package_digest(peer.identity.config_digest, *expect.config_digest, "verify.config_digest_mismatch",
                         "configuration digest");
  if (expect.signer) {
    if (!peer.identity.signer || *peer.identity.signer != lower(*expect.signer))
      throw Error(ErrorKind::kPolicyRejected, "verify.signer_mismatch",
                  "workload signer is " + peer.identity.signer.value_or("(unsigned)") +
                      ", expected " + *expect.signer);
  }
  if (expect.measurement && lower(peer.measurement) != lower(*expect.measurement))
    throw Error(ErrorKind::kPolicyRejected, "verify.measurement_mismatch", "measurement is " +
                                                   (peer.measurement.empty() ? "(none)" : peer.measurement) +
                                                   ", expected " + *expect.measurement);
  if (!revocation.enabled) {
    peer.revocation.detail = "revocation checking was disabled";
  } else if (peer.path.size() < 2) {
    peer.revocation.detail = "the certificate is itself a trust anchor";
  } else if (revocation.checker) {
    peer.revocation = revocation.checker->check(leaf, peer.path[1], at);
  } else {
    revocation::StatusChecker checker(revocation.status);
    peer.revocation = checker.check(leaf, peer.path[1], at);
  }
  return peer;
}

namespace {

json revocation_json(const revocation::StatusReport& r) {
  json out = {{"status", revocation::to_string(r.status)}};
  if (r.source != revocation::Source::kNone) out["source"] = revocation::to_string(r.source);
  if (!r.url.empty()) out["url"] = r.url;
  if (!r.detail.empty()) out["detail"] = r.detail;
  if (r.status == revocation::Status::kGood) {
    out["this_update"] = format_rfc3339(r.this_update);
    if (r.next_update) out["next_update"] = format_rfc3339(*r.next_update);
    if (r.crl_number) out["crl_number"] = *r.crl_number;
  }
  return out;
}

std::string revocation_text(const revocation::StatusReport& r) {
  if (r.status != revocation::Status::kGood) return "not checked: " + r.detail;
  std::string out = "good (";
  switch (r.source) {
    case revocation::Source::kLocalCrl: out += "CRL given"; break;
    case revocation::Source::kOcsp: out += "OCSP " + r.url; break;
    case revocation::Source::kCrlDistributionPoint: out += "CRL " + r.url + (r.from_cache ? ", cached" : ""); break;
    case revocation::Source::kNone: out += "?"; break;
  }
  if (r.crl_number) out += ", CRL number " + std::to_string(*r.crl_number);
  if (r.next_update) out += ", next update " + format_rfc3339(*r.next_update);
  return out + ")";
}

}  // namespace

json PeerIdentity::to_json() const {
  json out = {
      {"platform", platform},
      {"measurement", measurement.empty() ? json(nullptr) : json(measurement)},
      {"tcb_status", tcb_status.empty() ? json(nullptr) : json(tcb_status)},
      {"simulated", simulated},
      {"insecure", insecure},
      {"slug", identity.slug ? json(identity::format_slug(*identity.slug)) : json(nullptr)},
      {"workload_digest", identity.digest ? json(*identity.digest) : json(nullptr)},
      {"signer", identity.signer ? json(*identity.signer) : json(nullptr)},
      {"app_digest", identity.app_digest ? json(*identity.app_digest) : json(nullptr)},
      {"config_digest", identity.config_digest ? json(*identity.config_digest) : json(nullptr)},
      {"not_before", format_rfc3339(not_before)},
      {"not_after", format_rfc3339(not_after)},
      {"subject", path.empty() ? "" : path.front().subject()},
      {"issuer", path.empty() ? "" : path.front().issuer()},
      {"claims", claims},
      {"revocation", revocation_json(revocation)},
  };
  if (insecure) out["insecure_reason"] = insecure_reason;
  return out;
}

std::string PeerIdentity::to_text() const {
  std::ostringstream s;
  s << "platform:        " << platform << (simulated ? " (SIMULATED)" : "")
    << (insecure && !simulated ? " (INSECURE: " + insecure_reason + ")" : "") << "\n";
  s << "measurement:     " << (measurement.empty() ? "-" : measurement) << "\n";
  s << "tcb status:      " << (tcb_status.empty() ? "-" : tcb_status) << "\n";
  s << "slug:            " << (identity.slug ? identity::format_slug(*identity.slug) : "-") << "\n";
  s << "workload digest: " << identity.digest.value_or("-") << "\n";
  s << "application:     " << identity.app_digest.value_or("-") << "\n";
  s << "configuration:   " << identity.config_digest.value_or("-") << "\n";
  s << "signer:          " << identity.signer.value_or("- (unsigned)") << "\n";
  s << "valid:           " << format_rfc3339(not_before) << " .. " << format_rfc3339(not_after) << "\n";
  if (!path.empty()) s << "issued by:       " << path.back().subject() << "\n";
  s << "revocation:      " << revocation_text(revocation) << "\n";
  // What steward says about itself and its registry check (docs/oids.md claims); shown as
  // claimed, the chain above is what makes them steward's word.
  const auto claim = [&](const char* key) -> const json* {
    auto it = claims.find(key);
    return it == claims.end() ? nullptr : &*it;
  };
  if (const auto* url = claim("steward"); url && url->is_string()) s << "steward:         " << url->get<std::string>() << "\n";
  if (const auto* check = claim("registry_check"); check && check->is_object()) {
    auto drawbridge = check->find("drawbridge");
    s << "registry check:  tag, digest and signer confirmed by "
      << (drawbridge != check->end() && drawbridge->is_string() ? drawbridge->get<std::string>() : "?") << "\n";
  } else {
    s << "registry check:  - (not made)\n";
  }
  return s.str();
}

std::vector<Certificate> fetch_peer_chain(const std::string& host, int port,
                                          std::chrono::milliseconds timeout) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  ossl::check(ctx != nullptr, ErrorKind::kUnavailable, "verify.tls_failed", "cannot create TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The chain is checked by verify_peer against the steward CA, not by the handshake.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);

  std::string target = host + ":" + std::to_string(port);
  if (host.find(':') != std::string::npos) target = "[" + host + "]:" + std::to_string(port);
  ossl::BioPtr conn(BIO_new_connect(target.c_str()));
  ossl::check(conn != nullptr, ErrorKind::kUnavailable, "verify.connect_failed", "cannot create connection");
  BIO_set_nbio(conn.get(), 0);
  // Bound the connect + handshake: a socket timeout via the BIO's fd once connected.
  if (BIO_do_connect(conn.get()) <= 0) ossl::throw_error(ErrorKind::kUnavailable, "verify.connect_failed", "cannot connect to " + target);
  int fd = -1;
  BIO_get_fd(conn.get(), &fd);
  if (fd >= 0) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ossl::SslPtr ssl(SSL_new(ctx.get()));
  ossl::check(ssl != nullptr, ErrorKind::kUnavailable, "verify.tls_failed", "cannot create TLS session");
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  BIO* raw = conn.release();
  SSL_set_bio(ssl.get(), raw, raw);
  if (SSL_connect(ssl.get()) != 1) ossl::throw_error(ErrorKind::kUnavailable, "verify.tls_failed", "TLS handshake with " + target + " failed");

  std::vector<Certificate> chain;
  STACK_OF(X509)* peer_chain = SSL_get_peer_cert_chain(ssl.get());  // client side: includes leaf
  for (int i = 0; peer_chain && i < sk_X509_num(peer_chain); ++i) {
    X509* c = sk_X509_value(peer_chain, i);
    X509_up_ref(c);
    chain.emplace_back(ossl::X509Ptr(c));
  }
  SSL_shutdown(ssl.get());
  require(!chain.empty(), ErrorKind::kInvalidInput, "verify.no_certificate", "the peer presented no certificate");
  return chain;
}

}  // namespace enarx::verify
