// sim-tdx / sim-sgx: the attestation library's simulated DCAP PKI, saved under <sim>/dcap so
// that `enarx platform sim init` once, steward's `[simulated] roots`, and every later deploy
// agree on one test root.
#include <nlohmann/json.hpp>

#include "attest/enarx/crl_list.h"
#include "attest/enarx/tcb_package.h"
#include "core/error.h"
#include "core/file.h"
#include "platform/host_cache.h"
#include "simulation/platforms.h"

namespace fs = std::filesystem;

namespace enarx::platform::sim {
namespace {

namespace dcap = attest::dcap;

constexpr auto kDay = std::chrono::hours(24);
constexpr auto kTenYears = std::chrono::hours(24 * 3653);

// Where the simulated CRLs claim to come from (never fetched; CrlList entries carry a URL).

std::int64_t to_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
TimePoint from_seconds(std::int64_t s) { return TimePoint(std::chrono::seconds(s)); }

struct Named {
  const char* name;
  PrivateKey dcap::SimulatedPki::*key;
  Certificate dcap::SimulatedPki::*cert;  // null for the attestation key
};
constexpr Named kParts[] = {
    {"root", &dcap::SimulatedPki::root_key, &dcap::SimulatedPki::root},
    {"pck_ca", &dcap::SimulatedPki::pck_ca_key, &dcap::SimulatedPki::pck_ca},
    {"pck", &dcap::SimulatedPki::pck_key, &dcap::SimulatedPki::pck},
    {"tcb_signer", &dcap::SimulatedPki::tcb_signer_key, &dcap::SimulatedPki::tcb_signer},
    {"attestation", &dcap::SimulatedPki::attestation_key, nullptr},
};

// Everything the verifier needs that a real host would take from Intel's PCS cache.
void attach_collateral(const dcap::SimulatedPlatform& sim, bool tdx, Evidence& ev) {
  ev.crl_list_der = attest::encode_crl_list({{std::string(dcap::kSimulatedRootCrlUrl), sim.root_crl()},
                                             {std::string(dcap::kSimulatedPckCrlUrl), sim.pck_ca_crl()}});
  ev.tcb_package_der =
      attest::encode_tcb_package({sim.tcb_signer(), sim.root()}, as_bytes(sim.tcb_info_document(tdx)));
  if (tdx) ev.qe_identity_json = to_bytes(sim.qe_identity_document(true));
}

class SimDcapProvider final : public EvidenceProvider {
 public:
  SimDcapProvider(dcap::SimulatedPlatform sim, bool tdx) : sim_(std::move(sim)), tdx_(tdx) {}
  Platform platform() const override { return tdx_ ? Platform::Tdx : Platform::Sgx; }
  bool simulated() const override { return true; }
  Evidence acquire(ByteView report_data) override {
    require(report_data.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
    Evidence ev;
    ev.platform = platform();
    ev.simulated = true;
    ev.source = "sim";
    ev.report_data.assign(report_data.begin(), report_data.end());
    if (tdx_) {
      dcap::TdFields td;
      td.report_data = ev.report_data;
      ev.report_or_quote = sim_.tdx_quote(td);
    } else {
      dcap::SgxEnclaveFields enclave;
      enclave.report_data = ev.report_data;
      ev.report_or_quote = sim_.sgx_quote(enclave);
    }
    attach_collateral(sim_, tdx_, ev);
    return ev;
  }

 private:
  dcap::SimulatedPlatform sim_;
  bool tdx_;
};

}  // namespace

fs::path dcap_dir(const fs::path& sim_dir) { return sim_dir / "dcap"; }

void init_dcap(const fs::path& sim_dir, TimePoint now) {
  const fs::path dir = dcap_dir(sim_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kInternal, "sim.io", "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);

  dcap::SimulationOptions options;
  options.not_before = now - kDay;
  options.not_after = now + kTenYears;
  const dcap::SimulatedPki pki = dcap::SimulatedPlatform(options).pki();
  for (const auto& part : kParts) {
    write_file_atomic(dir / (std::string(part.name) + ".key"), (pki.*part.key).to_pem_pkcs8(), 0600);
    if (part.cert) write_file_atomic(dir / (std::string(part.name) + ".pem"), (pki.*part.cert).to_pem());
  }
  nlohmann::json config = {{"not_before", to_seconds(options.not_before)},
                           {"not_after", to_seconds(options.not_after)},
                           {"fmspc", to_hex(options.fmspc)}};
  write_file_atomic(dir / "config.json", config.dump(2) + "\n");
}

dcap::SimulatedPlatform load_dcap(const fs::path& sim_dir) {
  const fs::path dir = dcap_dir(sim_dir);
  std::error_code ec;
  if (!fs::exists(dir / "config.json", ec))
    throw Error(ErrorKind::kNotFound, "sim.not_initialized", dir.string() +
                                           " has no simulated DCAP platform; run `enarx platform "
                                           "sim init " + sim_dir.string() + "`");
  try {
    const auto config = nlohmann::json::parse(read_text_file(dir / "config.json"));
    dcap::SimulationOptions options;
    options.not_before = from_seconds(config.at("not_before").get<std::int64_t>());
    options.not_after = from_seconds(config.at("not_after").get<std::int64_t>());
    options.fmspc = from_hex(config.at("fmspc").get<std::string>());
    dcap::SimulatedPki pki;
    for (const auto& part : kParts) {
      pki.*part.key = PrivateKey::from_pem(read_text_file(dir / (std::string(part.name) + ".key")));
      if (part.cert)
        pki.*part.cert = Certificate::from_pem(read_text_file(dir / (std::string(part.name) + ".pem")));
    }
    return dcap::SimulatedPlatform(std::move(options), std::move(pki));
  } catch (const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    throw Error(ErrorKind::kInvalidInput, "sim.corrupt", "simulated DCAP platform in " + dir.string() + " is unusable: " +
                                   (err ? err->describe() : std::string(e.what())));
  }
}

std::unique_ptr<EvidenceProvider> make_sim_tdx_provider(const fs::path& sim_dir) {
  return std::make_unique<SimDcapProvider>(load_dcap(sim_dir), true);
}

std::unique_ptr<EvidenceProvider> make_sim_sgx_provider(const fs::path& sim_dir) {
  return std::make_unique<SimDcapProvider>(load_dcap(sim_dir), false);
}

}  // namespace enarx::platform::sim
