// Intel SGX (Enarx SgxEvidence) and TDX (our TdxEvidence) through src/attest/dcap.
#include <toml++/toml.h>

#include "attest/dcap/appraise.h"
#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/policy.h"
#include "attest/dcap/quote.h"
#include "attest/dcap/verify.h"
#include "attest/enarx_evidence_sgx.h"
#include "attest/enarx_evidence_tdx.h"
#include "core/error.h"
#include "steward/evidence.h"
#include "steward/oids.h"
#include "steward/policy.h"

namespace enarx::steward {
namespace {

namespace dcap = attest::dcap;

dcap::TrustStore trust_store(const Policy& policy) {
  auto store = dcap::TrustStore::intel();
  if (policy.issuance.allow_insecure) {
    // Self-signed [simulated] roots that signed no AMD-style ASK are Intel-style test roots; the
    // AMD ones are harmless here (nothing chains to them through a PCK CA).
    for (const auto& c : policy.simulated_roots)
      if (c.is_self_issued() && c.is_ca()) store.add_simulated_root(c);
  }
  return store;
}

template <typename P>
P load_policy(const std::optional<std::string>& text, const char* table, const Policy& policy) {
  P p;
  if (text) {
    toml::table doc = toml::parse(*text);
    p = P::from_toml(*doc[table].as_table());
  }
  p.allow_simulated = policy.issuance.allow_insecure;
  if (policy.issuance.collateral_grace > p.collateral_grace)
    p.collateral_grace = policy.issuance.collateral_grace;
  return p;
}

Bytes fmspc_of(const dcap::Quote& quote) {
  try {
    auto chain = Certificate::chain_from_pem(as_string(quote.cert_data));
    if (chain.empty()) return {};
    return dcap::parse_pck_extension(chain.front()).fmspc;
  } catch (const Error&) {
    return {};  // verify_quote reports the real problem
  }
}

// Fills what the client did not send from steward's Intel cache.
void fill_from_cache(dcap::Collateral& c, const std::optional<std::filesystem::path>& dir,
                     const dcap::Quote& quote, std::vector<CollateralRef>& refs) {
  if (!dir) return;
  if (c.tcb_info && c.qe_identity && !c.crls.empty() && !c.tcb_signing_chain.empty()) return;
  const Bytes fmspc = fmspc_of(quote);
  if (fmspc.empty()) return;
  dcap::Collateral cached = dcap::load_collateral_dir(*dir, fmspc, quote.is_tdx());
  if (!c.tcb_info && cached.tcb_info) {
    c.tcb_info = cached.tcb_info;
    refs.push_back({"tcb_info", to_hex(fmspc), to_hex(c.tcb_info->body_sha256), "cache"});
  }
  if (!c.qe_identity && cached.qe_identity) {
    c.qe_identity = cached.qe_identity;
    refs.push_back(
        {"qe_identity", c.qe_identity->value.id, to_hex(c.qe_identity->body_sha256), "cache"});
  }
  if (c.tcb_signing_chain.empty()) c.tcb_signing_chain = cached.tcb_signing_chain;
  if (c.crls.empty()) {
    c.crls = cached.crls;
    for (const auto& crl : c.crls)
      refs.push_back({"crl", crl.issuer(), to_hex(sha256(crl.to_der())), "cache"});
  }
}

template <typename P>
class DcapVerifier final : public EvidenceVerifier {
 public:
  DcapVerifier(const Policy& policy, bool tdx)
      : tdx_(tdx),
        policy_(
            load_policy<P>(tdx ? policy.tdx_toml : policy.sgx_toml, tdx ? "tdx" : "sgx", policy)),
        verifier_(trust_store(policy)),
        intel_dir_(policy.issuance.intel_collateral_dir) {}

  std::string_view oid() const override { return tdx_ ? oids::kTdxEvidence : oids::kSgxEvidence; }
  attest::Platform platform() const override {
    return tdx_ ? attest::Platform::Tdx : attest::Platform::Sgx;
  }
  // SGX: the PCK's P-256 as Enarx pins it. TDX: P-384, matching the SHA-384 report-data binding.
  std::vector<KeyType> allowed_key_types() const override {
    return {tdx_ ? KeyType::EcP384 : KeyType::EcP256};
  }
  DigestAlgorithm binding_digest() const override {
    return tdx_ ? DigestAlgorithm::Sha384 : DigestAlgorithm::Sha256;
  }

  VerifiedEvidence verify(const VerifyContext& ctx) const override {
    dcap::Collateral collateral;
    std::vector<CollateralRef> refs;
    Bytes quote_bytes;
    if (tdx_) {
      auto ev = attest::decode_tdx_evidence(ctx.extension_value);
      quote_bytes = std::move(ev.quote);
      if (ev.tcb) {
        collateral.tcb_info = dcap::parse_tcb_info_document(as_string(ev.tcb->report));
        refs.push_back({"tcb_info", "", to_hex(collateral.tcb_info->body_sha256), "evidence"});
        collateral.tcb_signing_chain = std::move(ev.tcb->certs);
      }
      if (ev.qe_identity) {
        collateral.qe_identity = dcap::parse_enclave_identity_document(as_string(*ev.qe_identity));
        refs.push_back({"qe_identity", collateral.qe_identity->value.id,
                        to_hex(collateral.qe_identity->body_sha256), "evidence"});
      }
      for (auto& e : ev.crls) {
        refs.push_back({"crl", e.url, to_hex(sha256(e.crl.to_der())), "evidence"});
        collateral.crls.push_back(std::move(e.crl));
      }
    } else {
      auto ev = attest::decode_sgx_evidence(ctx.extension_value);
      collateral = attest::collateral_from_sgx_evidence(ev);
      quote_bytes = std::move(ev.quote);
      if (collateral.tcb_info)
        refs.push_back({"tcb_info", "", to_hex(collateral.tcb_info->body_sha256), "evidence"});
      for (const auto& e : ev.crls)
        refs.push_back({"crl", e.url, to_hex(sha256(e.crl.to_der())), "evidence"});
    }
    const dcap::Quote quote = dcap::parse_quote(quote_bytes);
    if (quote.is_tdx() != tdx_) {
      throw Error(
          tdx_ ? "steward.tdx.not_a_td_quote" : "steward.sgx.not_an_sgx_quote",
          tdx_ ? "the TDX evidence holds an SGX quote" : "the SGX evidence holds a TD quote");
    }
    refs.insert(refs.begin(), {"quote", "", to_hex(sha256(quote_bytes)), "evidence"});
    fill_from_cache(collateral, intel_dir_, quote, refs);

    const auto verified = verifier_.verify(quote, collateral, policy_.verify_options(ctx.now));
    attest::Appraisal appraisal = dcap::appraise(verified, policy_, ctx.spki_der);

    VerifiedEvidence out;
    out.platform = platform();
    out.claims = std::move(appraisal.claims);
    out.failures = std::move(appraisal.failures);
    if (verified.tcb) out.tcb_status = verified.tcb->status;
    Bytes id;
    if (quote.sgx) {
      out.measurement = to_hex(quote.sgx->mrenclave);
      out.signer = to_hex(quote.sgx->mrsigner);
      id = quote.sgx->mrenclave;
      id.insert(id.end(), quote.sgx->mrsigner.begin(), quote.sgx->mrsigner.end());
    } else if (quote.td) {
      out.measurement = to_hex(quote.td->mrtd);
      out.signer = to_hex(quote.td->mrowner);
      id = quote.td->mrtd;
      for (const auto& r : quote.td->rtmr) id.insert(id.end(), r.begin(), r.end());
    }
    // SGX/TDX quotes carry no per-launch identifier: the keep is its measured identity on one
    // platform (PCK PPID).
    const Bytes ppid = verified.pck.ppid;
    id.insert(id.end(), ppid.begin(), ppid.end());
    out.keep_identity = to_hex(sha256(id));
    if (verified.simulated)
      out.insecure_reason = std::string(tdx_ ? "tdx" : "sgx") + ": simulated root of trust";
    out.collateral = std::move(refs);
    return out;
  }

 private:
  bool tdx_;
  P policy_;
  mutable dcap::CachingVerifier verifier_;
  std::optional<std::filesystem::path> intel_dir_;
};

}  // namespace

std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const Policy& policy) {
  return std::make_unique<DcapVerifier<dcap::SgxPolicy>>(policy, false);
}

std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const Policy& policy) {
  return std::make_unique<DcapVerifier<dcap::TdxPolicy>>(policy, true);
}

}  // namespace enarx::steward
