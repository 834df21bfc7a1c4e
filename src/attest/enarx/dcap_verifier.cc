// Intel SGX (Enarx SgxEvidence) and TDX (our TdxEvidence) through src/attest/dcap.
#include <type_traits>

#include "attest/dcap/appraise.h"
#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/policy.h"
#include "attest/dcap/quote.h"
#include "attest/dcap/verify.h"
#include "attest/enarx/sgx_evidence.h"
#include "attest/enarx/tdx_evidence.h"
#include "core/error.h"
#include "attest/enarx/evidence_verifier.h"
#include "attest/enarx/oids.h"

namespace enarx::attest {
namespace {

dcap::TrustStore trust_store(const EvidencePolicy& policy) {
  auto store = dcap::TrustStore::intel();
  if (policy.allow_simulated) {
    // Self-signed simulated roots that signed no AMD-style ASK are Intel-style test roots; the
    // AMD ones are harmless here (nothing chains to them through a PCK CA).
    for (const auto& c : policy.simulated_roots)
      if (c.is_self_issued() && c.is_ca()) store.add_simulated_root(c);
  }
  return store;
}

template <typename P>
P with_common(P p, const EvidencePolicy& policy) {
  p.allow_simulated = policy.allow_simulated;
  if (policy.collateral_grace > p.collateral_grace) p.collateral_grace = policy.collateral_grace;
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

// "tcbEvaluationDataNumber 17, issued 2026-11-02T00:00:00Z"
template <typename T>
std::string describe(const dcap::Signed<T>& d) {
  return "tcbEvaluationDataNumber " + std::to_string(d.value.tcb_evaluation_data_number) + ", issued " +
         d.value.issue_date;
}

// Of the client's copy and steward's cached copy of one collateral document, the newer one
// (tcbEvaluationDataNumber, then issueDate): a client can never replay an older TCB info or
// QE identity over the one steward knows. Its signature and freshness are checked afterwards
// by the attestation library, so a forged "newer" copy only fails the request.
template <typename T>
std::optional<dcap::Signed<T>> newest(std::optional<dcap::Signed<T>> client,
                                      std::optional<dcap::Signed<T>> cached, const std::string& kind,
                                      const std::string& id, std::vector<CollateralRef>& refs) {
  auto ref = [&](const dcap::Signed<T>& d, const char* source, std::string reason) {
    refs.push_back({kind, id.empty() ? d.value.id : id, to_hex(d.body_sha256), source, std::move(reason)});
  };
  if (!client && !cached) return std::nullopt;
  if (!cached) {
    ref(*client, "evidence", "");
    return client;
  }
  if (!client) {
    ref(*cached, "cache", "");
    return cached;
  }
  const auto key = [](const dcap::Signed<T>& d) {
    return std::pair{d.value.tcb_evaluation_data_number, d.value.issue_date_tp};
  };
  if (client->body_sha256 == cached->body_sha256) {
    ref(*cached, "cache", "the client sent the same document");
    return cached;
  }
  const bool client_newer = key(*client) > key(*cached);
  const auto& chosen = client_newer ? *client : *cached;
  const auto& other = client_newer ? *cached : *client;
  ref(chosen, client_newer ? "evidence" : "cache",
      "newest of evidence and cache (" + describe(chosen) + " over " + describe(other) + ")");
  return chosen;
}

template <typename P>
class DcapVerifier final : public EvidenceVerifier {
 public:
  DcapVerifier(const P& platform_policy, const EvidencePolicy& policy, bool tdx)
      : tdx_(tdx),
        policy_(with_common(platform_policy, policy)),
        verifier_trust_(trust_store(policy)),
        verifier_(verifier_trust_),
        intel_dir_(policy.intel_collateral_dir),
        local_crls_(policy.local_crls) {}

  std::string_view oid() const override { return tdx_ ? oids::kTdxEvidence : oids::kSgxEvidence; }
  Platform platform() const override { return tdx_ ? Platform::Tdx : Platform::Sgx; }

  VerifiedEvidence verify(const VerifyContext& ctx) const override {
    dcap::Collateral client;
    std::vector<CrlListEntry> client_crls;
    Bytes quote_bytes;
    if (tdx_) {
      auto ev = decode_tdx_evidence(ctx.extension_value);
      quote_bytes = std::move(ev.quote);
      if (ev.tcb) {
        client.tcb_info = dcap::parse_tcb_info_document(as_string(ev.tcb->report));
        client.tcb_signing_chain = std::move(ev.tcb->certs);
      }
      if (ev.qe_identity)
        client.qe_identity = dcap::parse_enclave_identity_document(as_string(*ev.qe_identity));
      client_crls = std::move(ev.crls);
    } else {
      auto ev = decode_sgx_evidence(ctx.extension_value);
      client = collateral_from_sgx_evidence(ev);
      client.crls.clear();
      quote_bytes = std::move(ev.quote);
      client_crls = std::move(ev.crls);
    }
    const dcap::Quote quote = dcap::parse_quote(quote_bytes);
    if (quote.is_tdx() != tdx_) {
      throw Error(
          ErrorKind::kInvalidInput, tdx_ ? "steward.tdx.not_a_td_quote" : "steward.sgx.not_an_sgx_quote",
          tdx_ ? "the TDX evidence holds an SGX quote" : "the SGX evidence holds a TD quote");
    }
    // Client and cache copies are merged, the newer of each document used (CRLs: the library
    // applies the newest per issuer), and the claims say which copy and why.
    std::vector<CollateralRef> refs;
    refs.push_back({"quote", "", to_hex(sha256(quote_bytes)), "evidence", ""});
    dcap::Collateral cached;
    const Bytes fmspc = fmspc_of(quote);
    if (intel_dir_ && !fmspc.empty()) cached = dcap::load_collateral_dir(*intel_dir_, fmspc, quote.is_tdx());
    for (const auto& c : local_crls_) cached.crls.push_back(c);
    dcap::Collateral collateral;
    collateral.tcb_info = newest(client.tcb_info, cached.tcb_info, "tcb_info", to_hex(fmspc), refs);
    collateral.qe_identity = newest(client.qe_identity, cached.qe_identity, "qe_identity", "", refs);
    collateral.tcb_signing_chain = client.tcb_signing_chain;
    for (auto& c : cached.tcb_signing_chain) collateral.tcb_signing_chain.push_back(std::move(c));
    for (const auto& e : client_crls) collateral.crls.push_back(e.crl);
    const std::size_t from_client = collateral.crls.size();
    for (auto& c : cached.crls) collateral.crls.push_back(std::move(c));

    const auto verified = verifier_.verify(quote, collateral, policy_.verify_options(ctx.now));
    // The wrapper is checked as strictly as what it wraps: every CRL the client sent comes from
    // a CA this verification knows, under its distribution-point label.
    dcap::check_supplied_crls(client_crls, verified, verifier_trust_);
    for (const auto& use : verified.crls) {
      bool in_client = false, client_has_issuer = false, cache_has_issuer = false;
      for (std::size_t i = 0; i < collateral.crls.size(); ++i) {
        if (collateral.crls[i].issuer() != use.issuer) continue;
        (i < from_client ? client_has_issuer : cache_has_issuer) = true;
        in_client = in_client || (i < from_client && sha256(collateral.crls[i].to_der()) == use.sha256);
      }
      refs.push_back({"crl", use.issuer, to_hex(use.sha256), in_client ? "evidence" : "cache",
                      client_has_issuer && cache_has_issuer ? "newest of evidence and cache" : ""});
    }
    Appraisal appraisal = dcap::appraise(verified, policy_, ctx.spki_der);

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
    if (out.failures.empty()) out.runtime_allowed_by = runtime_allow_list();
    return out;
  }

 private:
  // Appraisal passed, so a non-empty allow-list matched this enclave / TD.
  std::string runtime_allow_list() const {
    if constexpr (std::is_same_v<P, dcap::TdxPolicy>) {
      return policy_.mrtd.empty() ? "" : "tdx.mrtd";
    } else {
      if (!policy_.hash.empty()) return "sgx.hash";
      return policy_.signer.empty() ? "" : "sgx.signer";
    }
  }

  bool tdx_;
  P policy_;
  dcap::TrustStore verifier_trust_;
  mutable dcap::CachingVerifier verifier_;
  std::optional<std::filesystem::path> intel_dir_;
  std::vector<Crl> local_crls_;
};

}  // namespace

std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const EvidencePolicy& policy) {
  return std::make_unique<DcapVerifier<dcap::SgxPolicy>>(policy.sgx, policy, false);
}

std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const EvidencePolicy& policy) {
  return std::make_unique<DcapVerifier<dcap::TdxPolicy>>(policy.tdx, policy, true);
}

}  // namespace enarx::attest
