#include "steward/replay.h"

#include <algorithm>
#include <set>

#include "core/der.h"
#include "core/error.h"
#include "identity/keep_certificate.h"
#include "attest/enarx/oids.h"
#include "steward/steward.h"

namespace enarx::steward {
namespace {

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorKind::kInvalidInput, "steward.replay.malformed", what);
}

// Just enough CBOR to read back what encode_tagged_evidence wrote.
class CborReader {
 public:
  explicit CborReader(ByteView in) : in_(in) {}
  std::uint64_t head(std::uint8_t expected_major) {
    if (pos_ >= in_.size()) malformed("tagged evidence truncated");
    const std::uint8_t b = in_[pos_++];
    if ((b >> 5) != expected_major) malformed("unexpected CBOR item in tagged evidence");
    const std::uint8_t info = b & 0x1f;
    if (info < 24) return info;
    int n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : -1;
    if (n < 0 || in_.size() - pos_ < static_cast<std::size_t>(n)) malformed("bad CBOR length");
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | in_[pos_++];
    return v;
  }
  ByteView bytes() {
    const std::uint64_t n = head(2);
    if (in_.size() - pos_ < n) malformed("CBOR byte string overruns the extension");
    ByteView out = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

std::string oid_for_tag(std::uint64_t tag) {
  if (tag == oids::kCborTagKvmEvidence) return std::string(oids::kKvmEvidence);
  if (tag == oids::kCborTagSgxEvidence) return std::string(oids::kSgxEvidence);
  if (tag == oids::kCborTagSnpEvidence) return std::string(oids::kSnpEvidence);
  if (tag == oids::kCborTagTdxEvidence) return std::string(oids::kTdxEvidence);
  throw Error(ErrorKind::kInvalidInput, "steward.replay.unsupported", "unknown evidence tag " + std::to_string(tag));
}

std::set<std::string> collateral_digests(const nlohmann::json& list) {
  std::set<std::string> out;
  if (list.is_array())
    for (const auto& item : list)
      if (item.is_object() && item.contains("sha256") && item["sha256"].is_string())
        out.insert(item["sha256"].get<std::string>());
  return out;
}

}  // namespace

nlohmann::json certificate_claims(const Certificate& certificate) {
  std::optional<identity::KeepFacts> facts;
  try {
    facts = identity::read_keep_facts(certificate);  // current or legacy OIDs
  } catch (const Error& e) {
    malformed(e.what());
  }
  if (!facts) throw Error(ErrorKind::kInvalidInput, "steward.replay.not_steward", "no attested-claims extension");
  return facts->claims;
}

namespace {

struct TaggedEvidence {
  std::string oid;
  Bytes evidence;
  std::unique_ptr<EvidenceVerifier> verifier;
  Bytes spki;
};

// The evidence back out of the tagged-evidence extension, checked to be bound to the
// certificate's own key, with the verifier `policy` configures for it.
TaggedEvidence read_tagged_evidence(const Certificate& certificate,
                                    const attest::EvidencePolicy& policy) {
  const auto ext = certificate.extension(oids::kTcgDiceTaggedEvidence);
  if (!ext) throw Error(ErrorKind::kInvalidInput, "steward.replay.not_steward", "no TCG DICE tagged-evidence extension");

  CborReader cbor(ext->value);
  TaggedEvidence out;
  out.oid = oid_for_tag(cbor.head(6));
  if (cbor.head(4) != 2) malformed("tagged evidence must be a 2-element array");
  const ByteView evidence = cbor.bytes();
  cbor.bytes();  // claims-buffer: checked below by re-encoding
  if (!cbor.done()) malformed("trailing bytes after the tagged evidence");
  out.evidence.assign(evidence.begin(), evidence.end());

  // The same verifiers steward and `enarx evidence verify` use (attest/enarx).
  out.verifier = attest::make_verifier(out.oid, policy);
  out.spki = certificate.spki_der();
  // The pubkey-hash claim must bind exactly this certificate's key.
  if (encode_tagged_evidence(out.oid, out.evidence, out.verifier->binding_digest(), out.spki) != ext->value)
    malformed("the tagged evidence is not bound to the certificate's public key");
  return out;
}

}  // namespace

VerifiedEvidence reverify(const Certificate& certificate, const attest::EvidencePolicy& policy,
                          TimePoint at) {
  const auto tagged = read_tagged_evidence(certificate, policy);
  return tagged.verifier->verify(VerifyContext{tagged.evidence, tagged.spki, at});
}

ReplayResult replay(const Certificate& certificate, const Policy& policy) {
  ReplayResult out;
  out.recorded_claims = certificate_claims(certificate);
  const auto tagged = read_tagged_evidence(certificate, policy.evidence);
  const std::string& oid = tagged.oid;
  const ByteView evidence = tagged.evidence;
  const auto& verifier = tagged.verifier;
  const ByteView spki = tagged.spki;

  const auto& rec = out.recorded_claims;
  TimePoint at;
  try {
    at = parse_rfc3339(rec.value("verified_at", std::string()));
  } catch (const Error&) {
    malformed("claims lack a valid verified_at");
  }
  if (rec.value("policy_sha256", std::string()) != policy.digest)
    out.mismatches.push_back("policy digest differs: recorded " +
                             rec.value("policy_sha256", std::string("?")) + ", given " +
                             policy.digest);
  if (rec.value("evidence_oid", std::string()) != oid)
    out.mismatches.push_back("evidence OID differs from the recorded one");

  out.evidence = verifier->verify(VerifyContext{evidence, spki, at});
  const auto& ev = out.evidence;
  auto compare = [&](const char* key, const std::string& now) {
    if (rec.value(key, std::string()) != now)
      out.mismatches.push_back(std::string(key) + " differs: recorded \"" +
                               rec.value(key, std::string()) + "\", replayed \"" + now + "\"");
  };
  compare("measurement", ev.measurement);
  compare("signer", ev.signer);
  compare("keep_identity", ev.keep_identity);
  nlohmann::json replayed_collateral = nlohmann::json::array();
  for (const auto& c : ev.collateral) replayed_collateral.push_back({{"sha256", c.sha256}});
  if (collateral_digests(rec.value("collateral", nlohmann::json::array())) !=
      collateral_digests(replayed_collateral))
    out.mismatches.push_back("the collateral used differs from the recorded digests");
  if (ev.insecure_reason.has_value() != rec.value("insecure", false))
    out.mismatches.push_back("insecure flag differs");
  for (const auto& f : ev.failures)
    out.mismatches.push_back("policy: " + f.code + ": " + f.message);
  out.accepted = out.mismatches.empty();
  return out;
}

}  // namespace enarx::steward
