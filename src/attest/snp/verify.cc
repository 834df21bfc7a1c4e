#include "attest/snp/verify.h"

#include <algorithm>
#include <map>

#include "core/crypto.h"
#include "core/error.h"

namespace enarx::attest::snp {

struct Verifier::ChainEntry {
  std::size_t root_index = 0;
  SigningKey kind = SigningKey::Vcek;
  Certificate leaf;
  VcekInfo info;
  PublicKey key;
  struct Window {
    std::string name;
    TimePoint not_before, not_after;
  };
  std::vector<Window> windows;  // leaf, issuer, root
  std::vector<CrlUse> crls;
  bool ark_crl_seen = false;
};

namespace {

std::string describe_time(TimePoint t) { return format_rfc3339(t); }

Bytes reversed(ByteView le) { return Bytes(le.rbegin(), le.rend()); }

bool is_zero(ByteView v) {
  return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

Certificate parse_leaf(ByteView der_or_pem) {
  try {
    return Certificate::from_bytes(der_or_pem);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "snp.vcek.malformed", std::string("cannot parse the VCEK/VLEK certificate: ") +
                                          e.what());
  }
}

// Which CRL is newer: a higher cRLNumber, or on a tie (or without numbers) a later thisUpdate.
bool newer_crl(const Crl& a, const Crl& b) {
  const auto na = a.number(), nb = b.number();
  if (na && nb && *na != *nb) return *na > *nb;
  return a.this_update() > b.this_update();
}

}  // namespace

const Certificate* Verifier::crl_signer(const Crl& crl) const {
  const std::string name = crl.issuer();
  for (const auto& root : roots_) {
    if (root.ark.subject() == name) return &root.ark;
    if (root.ask.subject() == name) return &root.ask;
    if (root.asvk && root.asvk->subject() == name) return &*root.asvk;
  }
  return nullptr;
}

std::vector<std::string> Verifier::crl_labels(const Crl& crl) const {
  std::vector<std::string> labels;
  const std::string name = crl.issuer();
  for (const auto& root : roots_) {
    for (const Certificate* c : {&root.ark, &root.ask, root.asvk ? &*root.asvk : nullptr}) {
      if (!c || c == &root.ark || c->issuer() != name) continue;
      if (auto dp = c->crl_distribution_point())
        if (std::find(labels.begin(), labels.end(), *dp) == labels.end()) labels.push_back(*dp);
    }
  }
  return labels;
}

void Verifier::check_crl_label(std::string_view url, const Crl& crl) const {
  const auto labels = crl_labels(crl);
  const bool ok = labels.empty() ? url.empty()
                                 : std::find(labels.begin(), labels.end(), url) != labels.end();
  if (!ok) {
    std::string want = labels.empty() ? "an empty URL" : labels.front();
    for (std::size_t i = 1; i < labels.size(); ++i) want += " or " + labels[i];
    throw Error(ErrorKind::kUntrusted, "snp.crl.bad_url", "the CRL of " + crl.issuer() + " is labelled \"" +
                                       std::string(url.substr(0, 200)) + "\"; expected " + want);
  }
}

bool verify_report_signature(const Report& report, const PublicKey& key) {
  const ByteView r(report.signature_r.data(), report.signature_r.size());
  const ByteView s(report.signature_s.data(), report.signature_s.size());
  // A P-384 scalar fits in 48 bytes; the upper 24 of each little-endian field must be zero.
  if (!is_zero(r.subspan(48)) || !is_zero(s.subspan(48))) return false;
  const Bytes r_be = reversed(r.first(48));
  const Bytes s_be = reversed(s.first(48));
  if (is_zero(r_be) || is_zero(s_be)) return false;
  return key.verify_ecdsa_rs(DigestAlgorithm::Sha384, report.signed_bytes(), r_be, s_be);
}

Verifier::Verifier(std::vector<TrustRoot> extra_roots, bool trust_genuine) {
  if (trust_genuine) roots_ = genuine_amd_roots();
  for (auto& r : extra_roots) roots_.push_back(std::move(r));
}

std::size_t Verifier::cached_chains() const { return cache_.size(); }

void Verifier::clear_cache() const { cache_.clear(); }

Verifier::ChainLookup Verifier::chain_for(const Bytes& vcek_der, const Collateral& collateral,
                                          const VerifyOptions&) const {
  // The key covers only what the result depends on: the leaf certificate (its DER, not however
  // the client spelled it) and the CRLs of trusted AMD keys. A supplied CRL from anyone else
  // fails verification below and is never cached.
  Certificate parsed_leaf = parse_leaf(vcek_der);
  const Bytes leaf_der = parsed_leaf.to_der();
  std::vector<Bytes> crl_ders, local_ders;
  for (const auto& crl : collateral.crls) crl_ders.push_back(crl.to_der());
  for (const auto& crl : collateral.local_crls) local_ders.push_back(crl.to_der());
  std::string key = to_hex(sha256(leaf_der));
  for (const auto* set : {&crl_ders, &local_ders}) {
    const auto& crls = set == &crl_ders ? collateral.crls : collateral.local_crls;
    std::vector<std::string> crl_keys;
    for (std::size_t i = 0; i < set->size(); ++i)
      if (crl_signer(crls[i])) crl_keys.push_back(to_hex(sha256((*set)[i])));
    std::sort(crl_keys.begin(), crl_keys.end());
    key += set == &crl_ders ? "|supplied" : "|local";
    for (const auto& k : crl_keys) key += "|" + k;
  }
  if (auto hit = cache_.get(key)) return {*hit, key, true};

  auto entry = std::make_shared<ChainEntry>();
  entry->leaf = std::move(parsed_leaf);
  const Certificate& leaf = entry->leaf;
  const std::string leaf_issuer = leaf.issuer();

  // Find the issuing ASK/ASVK by name, then prove it by signature.
  bool name_matched = false;
  bool found = false;
  for (std::size_t i = 0; i < roots_.size() && !found; ++i) {
    const TrustRoot& root = roots_[i];
    struct Candidate {
      const Certificate* cert;
      SigningKey kind;
    };
    std::vector<Candidate> candidates{{&root.ask, SigningKey::Vcek}};
    if (root.asvk) candidates.push_back({&*root.asvk, SigningKey::Vlek});
    for (const auto& c : candidates) {
      if (c.cert->subject() != leaf_issuer) continue;
      name_matched = true;
      if (!leaf.signed_by(c.cert->public_key())) continue;
      if (!c.cert->signed_by(root.ark.public_key()) || !root.ark.signed_by(root.ark.public_key())) {
        throw Error(ErrorKind::kUntrusted, "snp.chain.bad_signature",
                    "trusted root " + root.ark.subject_common_name() + " / " +
                        c.cert->subject_common_name() + " does not verify");
      }
      entry->root_index = i;
      entry->kind = c.kind;
      found = true;
      break;
    }
  }
  if (!found) {
    if (name_matched) {
      throw Error(ErrorKind::kUntrusted, "snp.chain.bad_signature",
                  "the VCEK/VLEK signature does not verify with its issuer " + leaf_issuer);
    }
    throw Error(ErrorKind::kUntrusted, "snp.chain.untrusted_root",
                "the VCEK/VLEK issuer is not a trusted AMD ASK or ASVK: " + leaf_issuer);
  }
  const TrustRoot& root = roots_[entry->root_index];
  const Certificate& issuer = entry->kind == SigningKey::Vlek ? *root.asvk : root.ask;

  entry->key = leaf.public_key();
  if (entry->key.type() != KeyType::EcP384) {
    throw Error(ErrorKind::kUntrusted, "snp.chain.bad_key", "the VCEK/VLEK key is " + to_string(entry->key.type()) +
                                         ", not ECDSA P-384");
  }
  entry->info = parse_vcek_extensions(leaf);
  if (entry->info.product != root.product) {
    throw Error(ErrorKind::kUntrusted, "snp.chain.wrong_product",
                "the VCEK/VLEK names product \"" + entry->info.product_name + "\" but chains to " +
                    to_string(root.product) + "'s root");
  }
  entry->windows = {{"VCEK/VLEK " + leaf.subject_common_name(), leaf.not_before(), leaf.not_after()},
                    {issuer.subject_common_name(), issuer.not_before(), issuer.not_after()},
                    {root.ark.subject_common_name(), root.ark.not_before(), root.ark.not_after()}};

  // CRLs. Every CRL, supplied or local, must come from a trusted AMD key: an ARK (covering its
  // ASK/ASVK) or an ASK/ASVK (covering the VCEKs/VLEKs it signed), of any product. A supplied
  // CRL from anyone else is an error, never silently skipped: a client must not be able to
  // choose which revocation data steward looks at. For each issuer of this chain the newest
  // CRL (cRLNumber, then thisUpdate) among the supplied and the local ones is the one applied.
  struct Candidate {
    const Crl* crl;
    const Bytes* der;
    bool local;
  };
  std::map<std::string, Candidate> newest;  // by issuer DN, for this chain's issuers only
  const std::string ark_name = root.ark.subject();
  const std::string issuer_name = issuer.subject();
  auto consider = [&](const Crl& crl, const Bytes& der, bool local) {
    const std::string crl_issuer = crl.issuer();
    const Certificate* signer = crl_signer(crl);
    if (!signer) {
      if (local) return;  // another vendor's file in the operator's cache: not ours to judge
      throw Error(ErrorKind::kUntrusted, "snp.crl.unknown_issuer",
                  "a supplied CRL is issued by " + crl_issuer + ", which is no trusted AMD key");
    }
    if (!crl.signed_by(signer->public_key())) {
      throw Error(ErrorKind::kUntrusted, "snp.crl.bad_signature",
                  "CRL from " + crl_issuer + " is not signed by " + signer->subject_common_name());
    }
    if (crl_issuer != ark_name && crl_issuer != issuer_name) return;  // another product's
    auto [it, inserted] = newest.try_emplace(crl_issuer, Candidate{&crl, &der, local});
    if (!inserted && newer_crl(crl, *it->second.crl)) it->second = Candidate{&crl, &der, local};
  };
  for (std::size_t i = 0; i < collateral.crls.size(); ++i)
    consider(collateral.crls[i], crl_ders[i], false);
  for (std::size_t i = 0; i < collateral.local_crls.size(); ++i)
    consider(collateral.local_crls[i], local_ders[i], true);
  for (const auto& [crl_issuer, c] : newest) {
    const Certificate* subject = crl_issuer == ark_name ? &issuer : &leaf;
    if (c.crl->is_revoked(*subject)) {
      throw Error(ErrorKind::kUntrusted, "snp.crl.revoked", subject->subject_common_name() + " (serial " +
                                         subject->serial_hex() + ") is revoked by " +
                                         crl_signer(*c.crl)->subject_common_name() + "'s CRL");
    }
    if (crl_issuer == ark_name) entry->ark_crl_seen = true;
    entry->crls.push_back(CrlUse{crl_issuer, c.crl->number(), c.crl->this_update(),
                                 c.crl->next_update(), sha256(*c.der), c.local});
  }

  return {entry, key, false};
}

Verified Verifier::verify(ByteView report_bytes, const Collateral& collateral,
                          const VerifyOptions& options) const {
  return verify(parse_report(report_bytes), collateral, options);
}

Verified Verifier::verify(const Report& report, const Collateral& collateral,
                          const VerifyOptions& options) const {
  if (report.mask_chip_key || report.signing_key == SigningKey::None) {
    throw Error(ErrorKind::kUntrusted, "snp.report.unsigned",
                "the report is not signed (MASK_CHIP_KEY set or SIGNING_KEY = none)");
  }
  if (collateral.vcek_der.empty()) {
    throw Error(ErrorKind::kInvalidInput, "snp.vcek.missing", "no VCEK/VLEK certificate was supplied");
  }
  const auto lookup = chain_for(collateral.vcek_der, collateral, options);
  const auto& entry = lookup.entry;
  const TrustRoot& root = roots_[entry->root_index];

  // Time-dependent checks run every time (the cache is time-independent).
  for (const auto& w : entry->windows) {
    if (options.at < w.not_before) {
      throw Error(ErrorKind::kUntrusted, "snp.chain.not_yet_valid", w.name + " is not valid before " +
                                                 describe_time(w.not_before));
    }
    if (options.at > w.not_after) {
      throw Error(ErrorKind::kUntrusted, "snp.chain.expired", w.name + " expired at " + describe_time(w.not_after));
    }
  }
  for (const auto& c : entry->crls) {
    if (options.at < c.this_update) {
      throw Error(ErrorKind::kUntrusted, "snp.crl.not_yet_valid", "CRL from " + c.issuer + " is not valid before " +
                                               describe_time(c.this_update));
    }
    if (c.next_update && options.at > *c.next_update + options.crl_grace) {
      throw Error(ErrorKind::kUntrusted, "snp.crl.expired", "CRL from " + c.issuer + " expired at " +
                                         describe_time(*c.next_update));
    }
    if (options.crl_max_age && options.at - c.this_update > *options.crl_max_age) {
      throw Error(ErrorKind::kUntrusted, "snp.crl.expired", "CRL from " + c.issuer + " (thisUpdate " +
                                         describe_time(c.this_update) + ") is older than allowed");
    }
  }
  if (options.require_crl && !entry->ark_crl_seen) {
    throw Error(ErrorKind::kUntrusted, "snp.crl.missing", "no CRL from " + root.ark.subject_common_name() +
                                       " was supplied and the policy requires one");
  }

  // The report, the certificate and any supplied chain must all name the same product.
  const Product cpuid_product = report.cpuid_product();
  if (cpuid_product != Product::Unknown && cpuid_product != root.product) {
    throw Error(ErrorKind::kUntrusted, "snp.chain.wrong_product", "the report's CPUID says " + to_string(cpuid_product) +
                                               " but the VCEK/VLEK chains to " +
                                               to_string(root.product) + "'s root");
  }
  if (report.signing_key != entry->kind) {
    throw Error(ErrorKind::kUntrusted, "snp.chain.key_kind_mismatch",
                "the report says it is signed by a " + to_string(report.signing_key) +
                    " but the certificate is a " + to_string(entry->kind));
  }
  if (!collateral.chain.empty()) {
    const Bytes leaf_fp = entry->leaf.fingerprint_sha256();
    for (const auto& cert : collateral.chain) {
      const Bytes fp = cert.fingerprint_sha256();
      if (fp == leaf_fp) continue;  // bundles like Azure's start with the VCEK itself
      bool ours = fp == root.ark.fingerprint_sha256() || fp == root.ask.fingerprint_sha256() ||
                  (root.asvk && fp == root.asvk->fingerprint_sha256());
      if (ours) continue;
      bool other_product = false;
      for (const auto& r : roots_) {
        if (fp == r.ark.fingerprint_sha256() || fp == r.ask.fingerprint_sha256() ||
            (r.asvk && fp == r.asvk->fingerprint_sha256())) {
          other_product = true;
        }
      }
      if (other_product) {
        throw Error(ErrorKind::kUntrusted, "snp.chain.wrong_product",
                    "supplied chain certificate " + cert.subject_common_name() +
                        " belongs to another product than " + to_string(root.product));
      }
      throw Error(ErrorKind::kUntrusted, "snp.chain.untrusted_root", "supplied chain certificate " + cert.subject() +
                                                  " is not a pinned AMD certificate");
    }
  }

  if (!verify_report_signature(report, entry->key)) {
    throw Error(ErrorKind::kUntrusted, "snp.report.signature_invalid",
                "the report signature does not verify with the " + to_string(entry->kind) + " key");
  }

  Verified v;
  v.report = report;
  v.product = root.product;
  v.signing_key = entry->kind;
  v.simulated = root.simulated;
  v.vcek = entry->leaf;
  v.vcek_info = entry->info;
  v.ask = entry->kind == SigningKey::Vlek ? *root.asvk : root.ask;
  v.ark = root.ark;
  v.reported_tcb = TcbVersion::decode(report.reported_tcb, root.product);
  v.current_tcb = TcbVersion::decode(report.current_tcb, root.product);
  v.committed_tcb = TcbVersion::decode(report.committed_tcb, root.product);
  v.launch_tcb = TcbVersion::decode(report.launch_tcb, root.product);
  v.crls = entry->crls;
  v.verified_at = options.at;

  const VcekInfo& info = entry->info;
  const TcbVersion& t = v.reported_tcb;
  const bool fmc_differs = root.product == Product::Turin && info.fmc_spl && t.fmc != info.fmc_spl;
  if (t.bootloader != info.bl_spl || t.tee != info.tee_spl || t.snp != info.snp_spl ||
      t.microcode != info.ucode_spl || fmc_differs) {
    auto fmt = [](int bl, int tee, int snp, int uc) {
      return "bl " + std::to_string(bl) + " / tee " + std::to_string(tee) + " / snp " +
             std::to_string(snp) + " / ucode " + std::to_string(uc);
    };
    throw Error(ErrorKind::kUntrusted, "snp.tcb_mismatch", "REPORTED_TCB (" +
                                        fmt(t.bootloader, t.tee, t.snp, t.microcode) +
                                        ") differs from the certificate's SPLs (" +
                                        fmt(info.bl_spl, info.tee_spl, info.snp_spl,
                                            info.ucode_spl) +
                                        ")");
  }

  v.chip_id_masked = report.chip_id_masked();
  if (entry->kind == SigningKey::Vcek) {
    if (!info.hw_id) throw Error(ErrorKind::kInvalidInput, "snp.vcek.malformed", "the VCEK has no hwID extension");
    // MASK_CHIP_ID zeroes CHIP_ID; the VCEK signature still binds the chip, so nothing to
    // compare. Turin hwIDs are 8 bytes and match CHIP_ID[0..8].
    if (!v.chip_id_masked) {
      const Bytes& hw = *info.hw_id;
      if (!std::equal(hw.begin(), hw.end(), report.chip_id.begin())) {
        throw Error(ErrorKind::kUntrusted, "snp.chip_id_mismatch",
                    "CHIP_ID " + to_hex(ByteView(report.chip_id.data(), 8)) +
                        "... differs from the VCEK hwID " +
                        to_hex(ByteView(hw.data(), std::min<std::size_t>(8, hw.size()))) + "...");
      }
    }
  }
  // Cached only now that the report verified with this chain: a failed request leaves nothing.
  if (!lookup.cached) {
    std::size_t bytes = lookup.key.size() + 4096;
    for (const auto& c : entry->crls) bytes += c.issuer.size() + 64;
    cache_.put(lookup.key, entry, bytes);
  }
  return v;
}

}  // namespace enarx::attest::snp
