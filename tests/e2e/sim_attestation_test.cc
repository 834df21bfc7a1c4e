// The attestation contract across components, in one process: evidence from each simulated
// platform (src/platform) -> the keep CSR (src/client) -> steward's issuance (src/steward) ->
// the relying-party check (src/verify). Each side has its own unit tests; this one catches a
// disagreement between them (encodings, binding digests, claim formats).
#include <gtest/gtest.h>

#include <filesystem>

#include "simulation/dcap.h"
#include "client/identity.h"
#include "core/der.h"
#include "core/error.h"
#include "platform/select.h"
#include "simulation/platforms.h"
#include "steward/steward.h"
#include "verify/verify.h"

namespace enarx {
namespace {

namespace fs = std::filesystem;

class SimAttestation : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("enarx-sim-attest-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const auto now = std::chrono::system_clock::now();
    platform::sim::init_snp(*dir_, {}, now);
    platform::sim::init_dcap(*dir_, now);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // A steward whose policy trusts the simulated roots (or not), with a fresh CA.
  std::unique_ptr<steward::Steward> make_steward(bool trust_simulated, const std::string& extra_policy = "") {
    const std::string toml = "[issuance]\nallow_insecure = " + std::string(trust_simulated ? "true" : "false") +
                             "\n" + (trust_simulated ? "[simulated]\nroots = [\"" +
                                                           (*dir_ / "snp/cert_chain.pem").string() + "\", \"" +
                                                           (*dir_ / "dcap/root.pem").string() + "\"]\n"
                                                     : std::string()) +
                             extra_policy;
    PrivateKey ca_key = PrivateKey::generate(KeyType::EcP384);
    const auto now = std::chrono::system_clock::now();
    Certificate ca_cert = CertificateBuilder()
                              .subject({{"CN", "Test Steward CA"}})
                              .public_key(ca_key.public_key())
                              .validity(now - std::chrono::hours(1), now + std::chrono::hours(24))
                              .ca(true)
                              .key_usage({"keyCertSign", "cRLSign"})
                              .sign(ca_key);
    auto s = std::make_unique<steward::Steward>(steward::CertificateAuthority(ca_key, {ca_cert}),
                                                steward::Policy::parse(toml));
    steward::register_default_verifiers(*s);
    return s;
  }

  identity::WorkloadIdentity workload() const {
    identity::WorkloadIdentity w;
    w.slug = identity::parse_slug("registry.example/alice/web:1.0.0");
    w.digest = "sha-256:" + std::string(64, 'a');
    w.signer = std::string(64, 'b');
    return w;
  }

  // What `enarx deploy` does up to the CSR, with the provider named by the test parameter.
  Bytes keep_csr(PrivateKey& key) {
    platform::ProviderSpec spec;
    spec.platform = GetParam();
    spec.sim_dir = *dir_;
    auto provider = platform::make_provider(spec);
    key = PrivateKey::generate(platform::keep_key_type(provider->platform()));
    auto evidence = provider->acquire(platform::report_data_for_spki(provider->platform(), key.public_key().spki_der()));
    EXPECT_TRUE(evidence.simulated);
    return client::build_keep_csr(key, platform::evidence_extension(evidence, {}), workload());
  }

  // steward answers [CA..., leaf]; a TLS peer presents leaf first.
  static std::vector<Certificate> leaf_first(const Bytes& body) {
    std::vector<Certificate> chain;
    der::Reader outer(body);
    der::Reader seq = outer.read_sequence();
    while (!seq.empty()) chain.insert(chain.begin(), Certificate::from_der(seq.read_any().whole));
    return chain;
  }

  // The simulated runtime made known to steward by its measurement (only a listed runtime may
  // carry workload names); SGX: Enarx's SgxEvidence carries no QE identity (docs/steward.md).
  std::string known_runtime_policy() const {
    if (GetParam() == "sim-snp")
      return "[snp]\nhash = [\"" + to_hex(platform::sim::load_snp(*dir_).config.measurement) + "\"]\n";
    if (GetParam() == "sim-tdx") return "[tdx]\nmrtd = [\"" + to_hex(attest::dcap::TdFields{}.mrtd) + "\"]\n";
    return "[sgx]\nrequire_qe_identity = false\nhash = [\"" + to_hex(attest::dcap::SgxEnclaveFields{}.mrenclave) +
           "\"]\n";
  }

  static fs::path* dir_;
};
fs::path* SimAttestation::dir_ = nullptr;

TEST_P(SimAttestation, IssuedAndVerifiedWhenTheSimulatedRootIsTrusted) {
  auto s = make_steward(true, known_runtime_policy());
  PrivateKey key;
  const Bytes csr = keep_csr(key);
  const auto response = s->handle(steward::kPkcs10, csr);
  ASSERT_EQ(response.status, 200) << response.code << ": " << as_string(response.body);

  const auto chain = leaf_first(response.body);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain.front().public_key().spki_der(), key.public_key().spki_der());
  const std::vector<Certificate> cas{s->ca().certificate()};
  const auto now = std::chrono::system_clock::now();

  // A relying party refuses simulated keeps unless it opts in.
  try {
    verify::verify_peer(chain, cas, now, {});
    FAIL() << "simulated keep accepted without opt-in";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "verify.simulated_not_allowed");
  }

  verify::Expectations expect;
  expect.allow_simulated = true;
  expect.slug = "registry.example/alice/web:1.0.0";
  expect.digest = *workload().digest;
  expect.signer = *workload().signer;
  const auto peer = verify::verify_peer(chain, cas, now, expect);
  const std::string platform_name = GetParam().substr(4);  // "sim-tdx" -> "tdx"
  EXPECT_EQ(peer.platform, platform_name);
  EXPECT_TRUE(peer.simulated);
  EXPECT_TRUE(peer.insecure);
  EXPECT_FALSE(peer.measurement.empty());
  EXPECT_NE(chain.front().subject().find("INSECURE"), std::string::npos);

  expect.digest = "sha-256:" + std::string(64, 'c');
  try {
    verify::verify_peer(chain, cas, now, expect);
    FAIL() << "wrong digest accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "verify.digest_mismatch");
  }
}

TEST_P(SimAttestation, RefusedByDefaultPolicy) {
  auto s = make_steward(false, known_runtime_policy());
  PrivateKey key;
  const auto response = s->handle(steward::kPkcs10, keep_csr(key));
  EXPECT_EQ(response.status, 400) << response.code;
  // The simulated root is simply not a root steward knows.
  EXPECT_EQ(response.code, GetParam() == "sim-snp" ? "snp.chain.untrusted_root" : "dcap.pck.chain_untrusted");
}

TEST_P(SimAttestation, EvidenceBoundToAnotherKeyIsRefused) {
  auto s = make_steward(true, known_runtime_policy());
  platform::ProviderSpec spec;
  spec.platform = GetParam();
  spec.sim_dir = *dir_;
  auto provider = platform::make_provider(spec);
  const KeyType type = platform::keep_key_type(provider->platform());
  PrivateKey bound = PrivateKey::generate(type), other = PrivateKey::generate(type);
  auto evidence = provider->acquire(platform::report_data_for_spki(provider->platform(), bound.public_key().spki_der()));
  const Bytes csr = client::build_keep_csr(other, platform::evidence_extension(evidence, {}), workload());
  const auto response = s->handle(steward::kPkcs10, csr);
  EXPECT_EQ(response.status, 400) << response.code;
  EXPECT_EQ(response.code, GetParam().substr(4) + ".policy.report_data_mismatch");
}

INSTANTIATE_TEST_SUITE_P(Platforms, SimAttestation, ::testing::Values("sim-snp", "sim-tdx", "sim-sgx"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(n.find('-'), 1);
                           return n;
                         });

}  // namespace
}  // namespace enarx
