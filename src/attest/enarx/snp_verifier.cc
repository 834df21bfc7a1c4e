// SEV-SNP evidence (Enarx SnpEvidence) through src/attest/snp.
#include <algorithm>
#include <filesystem>

#include "attest/enarx/snp_evidence.h"
#include "attest/snp/appraise.h"
#include "attest/snp/policy.h"
#include "attest/snp/verify.h"
#include "core/error.h"
#include "core/file.h"
#include "attest/enarx/evidence_verifier.h"
#include "attest/enarx/oids.h"

namespace enarx::attest {
namespace {

snp::Product product_of(const Certificate& c) {
  std::string cn = c.subject_common_name();
  for (std::string_view prefix : {"SEV-VLEK-", "ARK-", "SEV-"}) {
    if (cn.rfind(prefix, 0) == 0) {
      cn = cn.substr(prefix.size());
      break;
    }
  }
  return snp::product_from_name(cn);
}

// [simulated] roots: every self-signed certificate with the certificates it signed (ASK, ASVK)
// becomes one simulated trust root.
std::vector<snp::TrustRoot> simulated_amd_roots(const std::vector<Certificate>& certs) {
  std::vector<snp::TrustRoot> roots;
  for (const auto& ark : certs) {
    if (!ark.is_self_issued() || !ark.signed_by(ark.public_key())) continue;
    snp::TrustRoot root;
    root.ark = ark;
    root.simulated = true;
    root.product = product_of(ark);
    bool have_ask = false;
    for (const auto& c : certs) {
      if (c == ark || c.issuer() != ark.subject() || !c.signed_by(ark.public_key())) continue;
      if (c.subject_common_name().find("VLEK") != std::string::npos) {
        root.asvk = c;
      } else if (!have_ask) {
        root.ask = c;
        have_ask = true;
      }
    }
    if (!have_ask) continue;  // an Intel-style root, or an incomplete AMD pair
    if (root.product == snp::Product::Unknown) root.product = product_of(root.ask);
    if (root.product == snp::Product::Unknown) root.product = snp::Product::Milan;
    roots.push_back(std::move(root));
  }
  return roots;
}

std::string hex(ByteView b) { return to_hex(b); }

class SnpVerifier final : public EvidenceVerifier {
 public:
  explicit SnpVerifier(const EvidencePolicy& policy)
      : verifier_(policy.allow_simulated ? simulated_amd_roots(policy.simulated_roots)
                                         : std::vector<snp::TrustRoot>{}),
        policy_(policy.snp),
        amd_dir_(policy.amd_collateral_dir),
        local_crls_(policy.local_crls),
        require_crl_set_(policy.snp_require_crl_given) {
    // Simulated roots are trusted only when the policy says so (they are not even loaded
    // otherwise); the attestation library's own switch follows.
    policy_.allow_simulated = policy.allow_simulated;
    if (policy.collateral_grace > policy_.crl_grace) policy_.crl_grace = policy.collateral_grace;
  }

  std::string_view oid() const override { return oids::kSnpEvidence; }
  Platform platform() const override { return Platform::Snp; }

  VerifiedEvidence verify(const VerifyContext& ctx) const override {
    const auto evidence = decode_snp_evidence(ctx.extension_value);
    snp::Collateral collateral;
    collateral.vcek_der = evidence.vcek_der;
    std::vector<CollateralRef> refs;
    refs.push_back({"vcek", "", hex(sha256(evidence.vcek_der)), "evidence", ""});
    // The client's CRLs are checked as strictly as what they wrap: a trusted AMD issuer and the
    // distribution-point label its certificates name. Steward's own cache is always applied as
    // well, and per issuer the newest CRL wins (src/attest/snp/verify.h).
    for (const auto& entry : evidence.crls) collateral.crls.push_back(entry.crl);
    collateral.local_crls = cached_crls();

    auto opts = policy_.verify_options(ctx.now);
    if ((amd_dir_ || !local_crls_.empty()) && !require_crl_set_) opts.require_crl = true;
    const snp::Verified verified = verifier_.verify(evidence.report, collateral, opts);
    for (const auto& entry : evidence.crls) verifier_.check_crl_label(entry.url, entry.crl);
    for (const auto& c : verified.crls) {
      const bool offered_both = !evidence.crls.empty() && amd_dir_;
      refs.push_back({"crl", c.issuer, hex(c.sha256), c.local ? "cache" : "evidence",
                      offered_both ? "newest of evidence and cache" : "only copy"});
    }

    Appraisal appraisal =
        snp::appraise(verified, policy_, Bytes(ctx.spki_der.begin(), ctx.spki_der.end()));

    VerifiedEvidence out;
    out.platform = Platform::Snp;
    out.claims = std::move(appraisal.claims);
    out.failures = std::move(appraisal.failures);
    const auto& r = verified.report;
    out.measurement = hex(r.measurement);
    if (r.author_key_en) out.signer = hex(r.author_key_digest);
    if (out.claims.is_object() && out.claims.contains("tcb_status") &&
        out.claims["tcb_status"].is_string())
      out.tcb_status = out.claims["tcb_status"].get<std::string>();
    // One keep launch = one guest: same measurement, chip and REPORT_ID (unique per launch).
    Bytes id;
    id.insert(id.end(), r.measurement.begin(), r.measurement.end());
    id.insert(id.end(), r.chip_id.begin(), r.chip_id.end());
    id.insert(id.end(), r.report_id.begin(), r.report_id.end());
    out.keep_identity = hex(sha256(id));
    if (verified.simulated) out.insecure_reason = "snp: simulated root of trust";
    out.collateral = std::move(refs);
    if (out.failures.empty()) {
      // Appraisal passed, so a non-empty allow-list matched this launch.
      if (!policy_.hash.empty()) out.runtime_allowed_by = "snp.hash";
      else if (!policy_.signer.empty()) out.runtime_allowed_by = "snp.signer";
      else if (!policy_.id_key_digest.empty()) out.runtime_allowed_by = "snp.id_key_digest";
    }
    return out;
  }

 private:
  // Steward's AMD cache (crl-<product>.der, DER or PEM), read per request so a refresh by the
  // host-preparation timer applies at once.
  std::vector<Crl> cached_crls() const {
    std::vector<Crl> out = local_crls_;
    if (!amd_dir_) return out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(*amd_dir_, ec)) {
      const auto name = f.path().filename().string();
      if (name.rfind("crl-", 0) != 0) continue;
      try {
        out.push_back(Crl::from_bytes(read_file(f.path(), 16u << 20)));
      } catch (const Error&) {
        // A broken cache file is as good as none; the CRL requirement decides.
      }
    }
    return out;
  }

  snp::Verifier verifier_;
  snp::Policy policy_;
  std::optional<std::filesystem::path> amd_dir_;
  std::vector<Crl> local_crls_;
  bool require_crl_set_ = false;  // [snp] require_crl given explicitly
};

}  // namespace

std::unique_ptr<EvidenceVerifier> make_snp_verifier(const EvidencePolicy& policy) {
  return std::make_unique<SnpVerifier>(policy);
}

}  // namespace enarx::attest
