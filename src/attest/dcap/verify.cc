#include "attest/dcap/verify.h"

#include <algorithm>
#include <atomic>
#include <functional>

#include "core/crypto.h"
#include "core/lru_cache.h"
#include "core/error.h"

namespace enarx::attest::dcap {
namespace {

// The span of time in which a cached verification result stays true.
struct Window {
  TimePoint from = TimePoint::min();
  TimePoint until = TimePoint::max();
  void narrow(TimePoint a, TimePoint b) {
    from = std::max(from, a);
    until = std::min(until, b);
  }
  bool contains(TimePoint t) const { return from <= t && t <= until; }
};

TimePoint plus_grace(TimePoint t, std::chrono::seconds grace) {
  if (t > TimePoint::max() - grace) return TimePoint::max();
  return t + grace;
}

std::string when(TimePoint t) { return format_rfc3339(t); }

std::string map_chain_code(const std::string& x509_code, const std::string& prefix) {
  static const std::map<std::string, std::string> names = {
      {"x509.chain.untrusted", "untrusted"},       {"x509.chain.expired", "expired"},
      {"x509.chain.not_yet_valid", "not_yet_valid"}, {"x509.chain.bad_signature", "bad_signature"},
  };
  auto it = names.find(x509_code);
  return prefix + (it != names.end() ? it->second : std::string("invalid"));
}

// Which CRL is newer: a higher cRLNumber, or on a tie (or without numbers) a later thisUpdate.
bool newer_crl(const Crl& a, const Crl& b) {
  const auto na = a.number(), nb = b.number();
  if (na && nb && *na != *nb) return *na > *nb;
  return a.this_update() > b.this_update();
}

// For each certificate path[i] (path = leaf .. anchor), applies the newest CRL issued by
// path[i+1] among `crls` (cRLNumber, then thisUpdate): every CRL naming that issuer must carry
// its signature, and the newest must be fresh. An older CRL therefore can never hide a
// revocation a newer one records, whoever supplied which. Returns the validity window the
// result depends on.
Window apply_crls(const std::vector<Certificate>& path, const std::vector<Crl>& crls,
                  const VerifyOptions& options, std::vector<CrlUse>* uses,
                  const char* leaf_revoked_code) {
  Window w;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const Certificate& cert = path[i];
    const Certificate& issuer = path[i + 1];
    const Crl* newest = nullptr;
    for (const Crl& crl : crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer.get())) != 0) {
        continue;
      }
      if (!crl.signed_by(issuer.public_key())) {
        throw Error(ErrorKind::kUntrusted, "dcap.crl.bad_signature",
                    "CRL claiming issuer " + crl.issuer() + " is not signed by that CA's key");
      }
      if (!newest || newer_crl(crl, *newest)) newest = &crl;
    }
    if (!newest) {
      if (options.require_crls)
        throw Error(ErrorKind::kUntrusted, "dcap.crl.missing", "no CRL from " + issuer.subject() + " covers " + cert.subject());
      continue;
    }
    const Crl& crl = *newest;
    const TimePoint this_update = crl.this_update();
    const auto next_update = crl.next_update();
    if (options.at < this_update) {
      throw Error(ErrorKind::kUntrusted, "dcap.crl.not_yet_valid", "CRL of " + crl.issuer() + " is not valid before " +
                                                when(this_update) + " (verifying at " +
                                                when(options.at) + ")");
    }
    TimePoint until = next_update ? plus_grace(*next_update, options.collateral_grace)
                                  : TimePoint::max();
    if (options.at > until) {
      throw Error(ErrorKind::kUntrusted, "dcap.crl.expired", "CRL of " + crl.issuer() + " expired at " +
                                          when(*next_update) + " (verifying at " +
                                          when(options.at) + ")");
    }
    if (options.crl_max_age) {
      const TimePoint aged = plus_grace(this_update, *options.crl_max_age);
      if (options.at > aged)
        throw Error(ErrorKind::kUntrusted, "dcap.crl.too_old", "the newest CRL of " + crl.issuer() + " was issued at " +
                                            when(this_update) + ", more than the policy's crl_max_age ago");
      until = std::min(until, aged);
    }
    w.narrow(this_update, until);
    if (uses) {
      const Bytes digest = sha256(crl.to_der());
      if (std::none_of(uses->begin(), uses->end(),
                       [&](const CrlUse& u) { return u.sha256 == digest; })) {
        uses->push_back({crl.issuer(), crl.number(), digest});
      }
    }
    if (crl.is_revoked(cert)) {
      throw Error(ErrorKind::kUntrusted, i == 0 ? leaf_revoked_code : "dcap.pck.ca_revoked",
                  "certificate " + cert.subject() + " serial " + cert.serial_hex() +
                      " is revoked by the CRL of " + crl.issuer());
    }
  }
  return w;
}

struct PckResult {
  std::vector<Certificate> chain;
  PckExtension pck;
  bool simulated = false;
  std::vector<CrlUse> crls;
  Window window;
};

PckResult verify_pck_chain(const Quote& quote, const std::vector<Crl>& crls, const TrustStore& trust,
                           const VerifyOptions& options) {
  std::string_view text = as_string(quote.cert_data);
  const std::string_view end_marker = "-----END CERTIFICATE-----";
  const auto last = text.rfind(end_marker);
  require(last != std::string_view::npos, ErrorKind::kInvalidInput, "dcap.pck.chain_malformed",
          "certification data holds no PEM certificate");
  text = text.substr(0, last + end_marker.size());
  std::vector<Certificate> certs;
  try {
    certs = Certificate::chain_from_pem(text);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "dcap.pck.chain_malformed", std::string("PCK chain: ") + e.what());
  }
  require(!certs.empty(), ErrorKind::kInvalidInput, "dcap.pck.chain_malformed", "certification data holds no certificate");
  std::vector<Certificate> intermediates;
  for (std::size_t i = 1; i < certs.size(); ++i) {
    // Self-issued certificates in the quote are never trusted; only our anchors are.
    if (!certs[i].is_self_issued()) intermediates.push_back(certs[i]);
  }
  std::vector<Certificate> anchors;
  for (const auto& a : trust.anchors) anchors.push_back(a.cert);
  require(!anchors.empty(), ErrorKind::kUntrusted, "dcap.pck.chain_untrusted", "no trust anchors configured");

  PckResult r;
  ChainVerifyOptions cvo;
  cvo.at = options.at;
  try {
    r.chain = verify_chain(certs[0], intermediates, anchors, cvo);
  } catch (const Error& e) {
    throw Error(e.kind(), map_chain_code(e.code(), "dcap.pck.chain_"), std::string("PCK chain: ") + e.what());
  }
  require(r.chain.size() >= 2, ErrorKind::kUntrusted, "dcap.pck.chain_invalid", "the PCK certificate is itself an anchor");
  for (const auto& a : trust.anchors) {
    if (a.cert == r.chain.back()) r.simulated = a.simulated;
  }
  for (const auto& c : r.chain) r.window.narrow(c.not_before(), c.not_after());
  const Window crl_window = apply_crls(r.chain, crls, options, &r.crls, "dcap.pck.revoked");
  r.window.narrow(crl_window.from, crl_window.until);
  r.pck = parse_pck_extension(r.chain.front());
  return r;
}

// Finds the TCB signing certificate that signed `body`, valid at the verification time and
// chaining to `anchor`; returns the window in which that stays true.
Window verify_collateral_signature(const std::string& body, const Bytes& signature,
                                   const std::vector<Certificate>& supplied,
                                   const Certificate& anchor, const std::vector<Crl>& crls,
                                   const VerifyOptions& options, const std::string& what,
                                   std::vector<CrlUse>* uses) {
  std::vector<Certificate> candidates;
  for (const auto& c : supplied) {
    if (!c.is_self_issued()) candidates.push_back(c);
  }
  for (const auto& c : intel_tcb_signing_certs()) candidates.push_back(c);
  // The TCB signing certificate was re-issued with the same key: prefer the copy valid now.
  std::stable_partition(candidates.begin(), candidates.end(), [&](const Certificate& c) {
    return c.not_before() <= options.at && options.at <= c.not_after();
  });
  const ByteView sig(signature);
  std::optional<Error> chain_error;
  for (const auto& cand : candidates) {
    const PublicKey key = cand.public_key();
    if (key.type() != KeyType::EcP256) continue;
    if (!key.verify_ecdsa_rs(DigestAlgorithm::Sha256, as_bytes(body), sig.first(32), sig.last(32))) {
      continue;
    }
    std::vector<Certificate> path;
    try {
      ChainVerifyOptions cvo;
      cvo.at = options.at;
      const std::vector<Certificate> anchors{anchor};
      path = verify_chain(cand, {}, anchors, cvo);
    } catch (const Error& e) {
      if (!chain_error) chain_error = e;
      continue;
    }
    Window w;
    for (const auto& c : path) w.narrow(c.not_before(), c.not_after());
    const Window cw = apply_crls(path, crls, options, uses, "dcap.collateral.signer_revoked");
    w.narrow(cw.from, cw.until);
    return w;
  }
  if (chain_error) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.signer_untrusted",
                what + " signer does not chain to the PCK's trust anchor at " + when(options.at) +
                    ": " + chain_error->what());
  }
  throw Error(ErrorKind::kUntrusted, "dcap.collateral." + what + "_signature_invalid",
              what + " signature does not verify with any TCB signing certificate");
}

void check_freshness(TimePoint issue, TimePoint next, const std::string& issue_text,
                     const std::string& next_text, const VerifyOptions& options,
                     const std::string& what, std::int64_t evaluation_number,
                     const std::optional<std::chrono::seconds>& max_age) {
  if (options.min_tcb_evaluation_data_number &&
      evaluation_number < *options.min_tcb_evaluation_data_number) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.tcb_evaluation_too_old",
                what + " has tcbEvaluationDataNumber " + std::to_string(evaluation_number) +
                    ", below the policy's minimum " +
                    std::to_string(*options.min_tcb_evaluation_data_number));
  }
  if (max_age && options.at > plus_grace(issue, *max_age)) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.too_old", what + " was issued " + issue_text +
                                               ", more than the policy's maximum age before " +
                                               when(options.at));
  }
  if (options.at < issue) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.not_yet_valid", what + " is issued " + issue_text +
                                                     ", after the verification time " +
                                                     when(options.at));
  }
  if (options.at > plus_grace(next, options.collateral_grace)) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.expired", what + " expired at its nextUpdate " + next_text +
                                               " (verifying at " + when(options.at) + ")");
  }
}

std::string cache_key(std::initializer_list<ByteView> parts) {
  Hasher h(DigestAlgorithm::Sha256);
  for (auto p : parts) {
    const std::uint64_t n = p.size();
    std::uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
    h.update(ByteView(len, 8));
    h.update(p);
  }
  const Bytes d = h.finish();
  return std::string(d.begin(), d.end());
}

// PCS endpoints of a PCK CA's CRL ("processor" / "platform"), as PCK certificates name them.
std::vector<std::string> pcs_pck_crl_urls(const std::string& ca) {
  std::vector<std::string> out;
  for (const char* v : {"v3", "v4"})
    for (const char* suffix : {"", "&encoding=der"})
      out.push_back(std::string("https://api.trustedservices.intel.com/sgx/certification/") + v +
                    "/pckcrl?ca=" + ca + suffix);
  return out;
}

}  // namespace

void check_supplied_crls(const std::vector<CrlListEntry>& entries, const VerifiedQuote& verified,
                         const TrustStore& trust) {
  if (entries.empty()) return;
  std::vector<Certificate> known = verified.pck_chain;
  bool genuine = false;
  for (const auto& a : trust.anchors) {
    known.push_back(a.cert);
    genuine = genuine || (!a.simulated && a.cert == intel_sgx_root_ca());
  }
  if (genuine) {
    for (const auto& c : intel_pck_ca_certs()) known.push_back(c);
    for (const auto& c : intel_tcb_signing_certs()) known.push_back(c);
  }
  for (const auto& e : entries) {
    const std::string issuer = e.crl.issuer();
    const Certificate* signer = nullptr;
    for (const auto& c : known)
      if (c.subject() == issuer && e.crl.signed_by(c.public_key())) signer = &c;
    if (!signer) {
      const bool named = std::any_of(known.begin(), known.end(),
                                     [&](const Certificate& c) { return c.subject() == issuer; });
      throw Error(ErrorKind::kUntrusted, named ? "dcap.crl.bad_signature" : "dcap.crl.unknown_issuer",
                  "a supplied CRL names issuer " + issuer +
                      (named ? " but is not signed by it" : ", which this verification does not know"));
    }
    std::vector<std::string> labels;
    for (const auto& c : known) {
      if (c.issuer() != issuer || c.is_self_issued()) continue;
      if (auto dp = c.crl_distribution_point()) labels.push_back(*dp);
    }
    if (genuine && signer->issuer() == intel_sgx_root_ca().subject() && !signer->is_self_issued()) {
      for (const auto& pck_ca : intel_pck_ca_certs()) {
        if (!(pck_ca == *signer)) continue;
        const bool processor = signer->subject_common_name().find("Processor") != std::string::npos;
        for (auto& u : pcs_pck_crl_urls(processor ? "processor" : "platform")) labels.push_back(std::move(u));
      }
    }
    const bool ok = labels.empty() ? e.url.empty()
                                   : std::find(labels.begin(), labels.end(), e.url) != labels.end();
    if (!ok)
      throw Error(ErrorKind::kUntrusted, "dcap.crl.bad_url", "the CRL of " + issuer + " is labelled \"" + e.url.substr(0, 200) +
                                          "\", which is not a distribution point of that CA");
  }
}

// Bounded (an attacker decides how many distinct quotes, chains and CRL sets it sends), keyed
// only on content that verification depends on, and filled only after a quote verified in full:
// a request that fails leaves nothing behind.
struct CachingVerifier::State {
  LruCache<std::string, PckResult> pck{256, 4u << 20};
  LruCache<std::string, Window> signatures{1024, 1u << 20};
  // QE report + signature + auth data + attestation key, certified by a given PCK: constant for
  // every quote a platform's QE signs with the same attestation key.
  LruCache<std::string, PublicKey> attestation_keys{1024, 1u << 20};
  std::atomic<std::size_t> hits{0};
};

namespace {

// The DER of the certificates in the quote's certification data (not its PEM text, which can be
// spelled many ways), or empty when it does not parse (verification then fails anyway).
std::vector<Certificate> chain_certificates(const Quote& quote) {
  try {
    return Certificate::chain_from_pem(as_string(quote.cert_data));
  } catch (const Error&) {
    return {};
  }
}

// Digests of the CRLs issued by one of `issuers` (by name): the only CRLs a result can depend
// on. CRLs of anyone else (junk a client adds) do not change the key.
std::string crl_material(const std::vector<Crl>& crls, const std::vector<std::string>& issuers) {
  std::vector<std::string> digests;
  for (const auto& c : crls) {
    if (std::find(issuers.begin(), issuers.end(), c.issuer()) == issuers.end()) continue;
    const Bytes d = sha256(c.to_der());
    digests.emplace_back(d.begin(), d.end());
  }
  std::sort(digests.begin(), digests.end());
  std::string out;
  for (const auto& d : digests) out += d;
  return out;
}

VerifiedQuote verify_impl(const Quote& quote, const Collateral& collateral, const TrustStore& trust,
                          const VerifyOptions& options, CachingVerifier::State* cache) {
  VerifiedQuote v;
  v.quote = quote;
  v.verified_at = options.at;
  const bool tdx = quote.is_tdx();
  // Cache entries made by this call, stored only once the whole quote has verified.
  std::vector<std::function<void()>> inserts;

  // 1. PCK chain (+ CRLs over it) and the PCK's SGX extension.
  const std::string opts_key = std::to_string(options.collateral_grace.count()) +
                               (options.require_crls ? "R" : "r") +
                               std::to_string(options.crl_max_age ? options.crl_max_age->count() : -1);
  std::vector<std::string> ca_names;
  for (const auto& a : trust.anchors) ca_names.push_back(a.cert.subject());
  PckResult pck;
  bool have_pck = false;
  std::string pck_key;
  if (cache) {
    const auto certs = chain_certificates(quote);
    std::string chain_material;
    for (const auto& c : certs) {
      const Bytes fp = c.fingerprint_sha256();
      chain_material.append(fp.begin(), fp.end());
      ca_names.push_back(c.subject());
    }
    pck_key = cache_key({as_bytes(chain_material), as_bytes(crl_material(collateral.crls, ca_names)),
                         as_bytes(opts_key)});
    if (auto hit = cache->pck.get(pck_key); hit && hit->window.contains(options.at)) {
      pck = std::move(*hit);
      have_pck = true;
      ++cache->hits;
    }
  }
  if (!have_pck) {
    pck = verify_pck_chain(quote, collateral.crls, trust, options);
    if (cache) {
      std::size_t bytes = pck_key.size() + 1024;
      for (const auto& c : pck.chain) bytes += c.to_der().size();
      inserts.push_back([cache, pck_key, pck, bytes] { cache->pck.put(pck_key, pck, bytes); });
    }
  }
  v.pck_chain = pck.chain;
  v.pck = pck.pck;
  v.simulated = pck.simulated;
  v.crls = pck.crls;

  // 2.-3. QE report signed by the PCK key; its report data binds the attestation key and QE
  // auth data. Cached per (PCK, QE report, attestation key) since the QE reuses them.
  PublicKey att;
  std::string qe_key;
  if (cache) {
    qe_key = cache_key({quote.qe_report.raw, quote.qe_report_signature, quote.qe_auth_data,
                        quote.attestation_key, v.pck_chain.front().fingerprint_sha256()});
    if (auto hit = cache->attestation_keys.get(qe_key)) {
      att = std::move(*hit);
      ++cache->hits;
    }
  }
  if (!att) {
    const ByteView qe_sig(quote.qe_report_signature);
    if (!v.pck_chain.front().public_key().verify_ecdsa_rs(DigestAlgorithm::Sha256, quote.qe_report.raw,
                                                          qe_sig.first(32), qe_sig.last(32))) {
      throw Error(ErrorKind::kUntrusted, "dcap.quote.qe_report_signature_invalid",
                  "the QE report signature does not verify with the PCK key");
    }
    Bytes bound = quote.attestation_key;
    bound.insert(bound.end(), quote.qe_auth_data.begin(), quote.qe_auth_data.end());
    Bytes expected = sha256(bound);
    expected.resize(64, 0);
    require(quote.qe_report.report_data == expected, ErrorKind::kUntrusted, "dcap.quote.qe_report_data_mismatch",
            "QE report data is not SHA-256(attestation key || QE auth data) || 32 zero bytes");
    try {
      const ByteView k(quote.attestation_key);
      att = PublicKey::from_ec_point(KeyType::EcP256, k.first(32), k.last(32));
    } catch (const Error& e) {
      throw Error(ErrorKind::kUntrusted, "dcap.quote.attestation_key_invalid",
                  std::string("attestation key is not a P-256 point: ") + e.what());
    }
    if (cache) inserts.push_back([cache, qe_key, att] { cache->attestation_keys.put(qe_key, att, qe_key.size() + 256); });
  }
  // 4. Quote signature by the attestation key.
  const ByteView sig(quote.signature);
  if (!att.verify_ecdsa_rs(DigestAlgorithm::Sha256, quote.signed_data, sig.first(32), sig.last(32))) {
    throw Error(ErrorKind::kUntrusted, "dcap.quote.signature_invalid",
                "the quote signature does not verify with the attestation key");
  }

  // 5. Collateral signatures, chained to the PCK chain's anchor, with freshness.
  const Certificate& anchor = v.pck_chain.back();
  // The TCB signing certificate is issued by the anchor: only the anchor's CRLs matter.
  const std::string signer_crls = cache ? crl_material(collateral.crls, {anchor.subject()}) : std::string();
  auto check_sig = [&](const std::string& body, const Bytes& body_sha256, const Bytes& signature,
                       const std::string& what) {
    std::string key;
    if (cache) {
      key = cache_key({body_sha256, signature, anchor.fingerprint_sha256(), as_bytes(signer_crls),
                       as_bytes(opts_key)});
      if (auto hit = cache->signatures.get(key); hit && hit->contains(options.at)) {
        ++cache->hits;
        return;
      }
    }
    const Window w = verify_collateral_signature(body, signature, collateral.tcb_signing_chain,
                                                 anchor, collateral.crls, options, what, &v.crls);
    if (cache) inserts.push_back([cache, key, w] { cache->signatures.put(key, w, key.size() + 64); });
  };
  if (collateral.tcb_info) {
    const auto& t = *collateral.tcb_info;
    check_sig(t.signed_body, t.body_sha256, t.signature, "tcb_info");
    check_freshness(t.value.issue_date_tp, t.value.next_update_tp, t.value.issue_date,
                    t.value.next_update, options, "TCB info", t.value.tcb_evaluation_data_number,
                    options.tcb_info_max_age);
    require(t.value.id == (tdx ? "TDX" : "SGX"), ErrorKind::kUntrusted, "dcap.collateral.wrong_type",
            "TCB info is for " + t.value.id + " but the quote is " + (tdx ? "TDX" : "SGX"));
    require(t.value.fmspc == v.pck.fmspc, ErrorKind::kUntrusted, "dcap.collateral.fmspc_mismatch",
            "TCB info FMSPC " + to_hex(t.value.fmspc) + " is not the PCK's " + to_hex(v.pck.fmspc));
    require(t.value.pce_id == v.pck.pce_id, ErrorKind::kUntrusted, "dcap.collateral.pce_id_mismatch",
            "TCB info PCE-ID " + to_hex(t.value.pce_id) + " is not the PCK's " + to_hex(v.pck.pce_id));
    v.tcb_info = t;
  } else if (options.require_tcb_info) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.tcb_info_missing", "no TCB info supplied");
  }
  if (collateral.qe_identity) {
    const auto& q = *collateral.qe_identity;
    check_sig(q.signed_body, q.body_sha256, q.signature, "qe_identity");
    check_freshness(q.value.issue_date_tp, q.value.next_update_tp, q.value.issue_date,
                    q.value.next_update, options, "QE identity", q.value.tcb_evaluation_data_number,
                    options.qe_identity_max_age);
    require(q.value.id == (tdx ? "TD_QE" : "QE"), ErrorKind::kUntrusted, "dcap.collateral.wrong_type",
            "QE identity is " + q.value.id + " but the quote needs " + (tdx ? "TD_QE" : "QE"));
    v.qe_identity = q;
  } else if (options.require_qe_identity) {
    throw Error(ErrorKind::kUntrusted, "dcap.collateral.qe_identity_missing", "no QE identity supplied");
  }

  // 6. TCB evaluation: platform (PCK SVNs, TEE_TCB_SVN, TDX module), then the QE.
  if (v.tcb_info) {
    v.tcb = evaluate_platform_tcb(v.tcb_info->value, v.pck, quote.td);
    if (v.qe_identity) evaluate_qe_identity(v.qe_identity->value, quote.qe_report, *v.tcb);
  } else if (v.qe_identity) {
    TcbEvaluation scratch;
    evaluate_qe_identity(v.qe_identity->value, quote.qe_report, scratch);
  }
  for (const auto& insert : inserts) insert();
  return v;
}

}  // namespace

VerifiedQuote verify_quote(const Quote& quote, const Collateral& collateral, const TrustStore& trust,
                           const VerifyOptions& options) {
  return verify_impl(quote, collateral, trust, options, nullptr);
}

CachingVerifier::CachingVerifier(TrustStore trust)
    : trust_(std::move(trust)), state_(std::make_shared<State>()) {}

VerifiedQuote CachingVerifier::verify(const Quote& quote, const Collateral& collateral,
                                      const VerifyOptions& options) {
  return verify_impl(quote, collateral, trust_, options, state_.get());
}

std::size_t CachingVerifier::cache_hits() const { return state_->hits; }

CachingVerifier::CacheSizes CachingVerifier::cache_sizes() const {
  return {state_->pck.size() + state_->signatures.size() + state_->attestation_keys.size(),
          state_->pck.bytes() + state_->signatures.bytes() + state_->attestation_keys.bytes()};
}

}  // namespace enarx::attest::dcap
