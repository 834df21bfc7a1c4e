// Steward issuance throughput for SNP evidence on one core, against the crypto-only bound of
// the same work: one P-384 report signature verification + one CSR self-signature verification
// (P-384) + one certificate signature (CA key P-384). Prints the ratio at the end (goal >= 0.8).
//   build-<you>/bench/steward_bench [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <iostream>
#include <map>

#include "../tests/steward/snp_sim.h"
#include "core/csr.h"
#include "core/file.h"
#include "steward/steward.h"

namespace {

using namespace enarx;
using namespace enarx::steward;

struct Setup {
  TimePoint now = parse_rfc3339("2026-11-23T10:00:00Z");
  testing::SnpSim sim{now};
  TempDir dir{"steward-bench"};
  std::unique_ptr<Steward> steward;
  std::vector<Bytes> csrs;
  std::vector<PrivateKey> keys;
  PrivateKey ca_key;
  Certificate ca_cert;

  Setup() {
    write_file_atomic(dir.path() / "roots.pem", sim.roots_pem());
    ca_key = PrivateKey::generate(KeyType::EcP384);
    ca_cert = CertificateBuilder()
                  .subject({{"CN", "bench CA"}})
                  .public_key(ca_key.public_key())
                  .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
                  .ca(true, 0)
                  .key_usage({"keyCertSign"})
                  .sign(ca_key);
    auto policy = Policy::parse("[issuance]\nallow_insecure = true\n[simulated]\nroots = [\"" +
                                (dir.path() / "roots.pem").string() + "\"]\n");
    steward = std::make_unique<Steward>(CertificateAuthority(ca_key, {ca_cert}), std::move(policy),
                                        std::make_shared<FixedClock>(now));
    register_default_verifiers(*steward);
    SubjectAltNames sans;
    sans.uris = {"https://drawbridge.example/alice/app/1.0.0"};
    for (int i = 0; i < 64; ++i) {
      keys.push_back(PrivateKey::generate(KeyType::EcP384));
      csrs.push_back(sim.csr(keys.back(), sans));
    }
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

void BM_IssueSnp(benchmark::State& state) {
  auto& s = setup();
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = s.steward->handle(kPkcs10, s.csrs[i++ % s.csrs.size()]);
    if (r.status != 200) {
      state.SkipWithError(std::string(as_string(r.body)).c_str());
      break;
    }
    benchmark::DoNotOptimize(r.body.data());
  }
}
BENCHMARK(BM_IssueSnp)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_CryptoBound(benchmark::State& state) {
  auto& s = setup();
  const Bytes report = s.sim.report(s.keys[0].public_key().spki_der());
  const Bytes rs_le(report.begin() + 0x2A0, report.begin() + 0x2A0 + 144);
  Bytes r(48), sig_s(48);
  for (int k = 0; k < 48; ++k) {
    r[k] = rs_le[47 - k];
    sig_s[k] = rs_le[72 + 47 - k];
  }
  const auto vcek_pub = s.sim.vcek.public_key();
  const auto csr = CertificationRequest::from_der(s.csrs[0]);
  const Bytes tbs(s.csrs[0].begin(), s.csrs[0].begin() + 600);  // size of a typical TBS cert
  for (auto _ : state) {
    bool ok = vcek_pub.verify_ecdsa_rs(DigestAlgorithm::Sha384, ByteView(report.data(), 0x2A0), r,
                                       sig_s);
    ok &= csr.verify_self_signature();
    Bytes sig = s.ca_key.sign(DigestAlgorithm::Sha384, tbs);
    benchmark::DoNotOptimize(sig.data());
    if (!ok) {
      state.SkipWithError("crypto check failed");
      break;
    }
  }
}
BENCHMARK(BM_CryptoBound)->Unit(benchmark::kMicrosecond)->UseRealTime();

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (!run.error_occurred && run.run_type == Run::RT_Iteration) {
        times_[run.benchmark_name()] = run.GetAdjustedRealTime();
        cpu_[run.benchmark_name()] = run.GetAdjustedCPUTime();
      }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> times_;
  std::map<std::string, double> cpu_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto issue = reporter.times_.find("BM_IssueSnp/real_time");
  auto bound = reporter.times_.find("BM_CryptoBound/real_time");
  if (issue != reporter.times_.end() && bound != reporter.times_.end() && issue->second > 0) {
    // CPU time is the fairer measure on a shared machine (both run single-threaded).
    const double issue_cpu = reporter.cpu_["BM_IssueSnp/real_time"];
    const double bound_cpu = reporter.cpu_["BM_CryptoBound/real_time"];
    std::cout << "steward SNP issuance: " << issue->second << " us/cert wall, " << issue_cpu
              << " us CPU (" << 1e6 / issue_cpu << " certs/s/core); crypto-only bound: "
              << bound->second << " us wall, " << bound_cpu << " us CPU; ratio (bound/issuance): "
              << bound->second / issue->second << " wall, " << bound_cpu / issue_cpu << " CPU\n";
  }
  benchmark::Shutdown();
  return 0;
}
