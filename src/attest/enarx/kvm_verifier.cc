// KVM / "no TEE" evidence: Enarx's marker extension with an empty value. It proves nothing,
// so the result is always insecure; the pipeline issues only when the policy opts in.
#include "core/error.h"
#include "attest/enarx/evidence_verifier.h"
#include "attest/enarx/oids.h"

namespace enarx::attest {
namespace {

class KvmVerifier final : public EvidenceVerifier {
 public:
  std::string_view oid() const override { return oids::kKvmEvidence; }
  Platform platform() const override { return Platform::Kvm; }
  VerifiedEvidence verify(const VerifyContext& context) const override {
    require(context.extension_value.empty(), ErrorKind::kInvalidInput, "steward.kvm.value_not_empty",
            "the KVM evidence extension must have an empty value");
    VerifiedEvidence out;
    out.platform = Platform::Kvm;
    out.claims = {{"platform", "kvm"}};
    out.insecure_reason = "kvm: no hardware attestation";
    out.keep_identity = "kvm";
    return out;
  }
};

}  // namespace

std::unique_ptr<EvidenceVerifier> make_kvm_verifier() { return std::make_unique<KvmVerifier>(); }

}  // namespace enarx::attest
