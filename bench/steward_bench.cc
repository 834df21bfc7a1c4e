// Steward issuance throughput for SNP evidence on one core, against the crypto-only bound of
// the same work: one P-384 report signature verification + one CSR self-signature verification
// (P-384) + one certificate signature (CA key P-384). Prints the ratio at the end (goal >= 0.8).
//   build-<you>/bench/steward_bench [--benchmark_min_time=2] [--paired_rounds=60]
// On a loaded machine trust the "paired" line (interleaved CPU-time measurement) over the two
// separate benchmark runs, whose CPU times drift with the load between them.
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "simulation/snp_chain.h"
#include "core/csr.h"
#include "core/file.h"
#include "steward/steward.h"

namespace {

using namespace enarx;
using namespace enarx::steward;

struct Setup {
  TimePoint now = parse_rfc3339("2026-11-23T10:00:00Z");
  simulation::SnpSim sim{now};
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
    // The simulated runtime is a known one (its measurement listed), so its workload names
    // are certified, as for a real deployment.
    auto policy = Policy::parse("[issuance]\nallow_insecure = true\n[simulated]\nroots = [\"" +
                                (dir.path() / "roots.pem").string() + "\"]\n[snp]\nhash = [\"" +
                                to_hex(sim.measurement) + "\"]\n");
    steward = std::make_unique<Steward>(CertificateAuthority(ca_key, {ca_cert}), std::move(policy),
                                        std::make_shared<FixedClock>(now));
    register_default_verifiers(*steward);
    SubjectAltNames sans;
    sans.uris = {"slug://drawbridge.example/alice/app:1.0.0"};
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

// The crypto-only work of one issuance, on pre-parsed objects.
struct Bound {
  Bytes report, r, sig_s, tbs;
  PublicKey vcek_pub;
  CertificationRequest csr;

  explicit Bound(Setup& s)
      : report(s.sim.report(s.keys[0].public_key().spki_der())),
        r(48),
        sig_s(48),
        tbs(s.csrs[0].begin(), s.csrs[0].begin() + 600),  // size of a typical TBS cert
        vcek_pub(s.sim.vcek.public_key()),
        csr(CertificationRequest::from_der(s.csrs[0])) {
    const Bytes rs_le(report.begin() + 0x2A0, report.begin() + 0x2A0 + 144);
    for (int k = 0; k < 48; ++k) {
      r[k] = rs_le[47 - k];
      sig_s[k] = rs_le[72 + 47 - k];
    }
  }
  bool once(const PrivateKey& ca_key) const {
    bool ok = vcek_pub.verify_ecdsa_rs(DigestAlgorithm::Sha384, ByteView(report.data(), 0x2A0),
                                       r, sig_s);
    ok &= csr.verify_self_signature();
    Bytes sig = ca_key.sign(DigestAlgorithm::Sha384, tbs);
    benchmark::DoNotOptimize(sig.data());
    return ok;
  }
};

bool issue_once(Setup& s, std::size_t i) {
  auto r = s.steward->handle(kPkcs10, s.csrs[i % s.csrs.size()]);
  benchmark::DoNotOptimize(r.body.data());
  return r.status == 200;
}

void BM_CryptoBound(benchmark::State& state) {
  auto& s = setup();
  const Bound bound(s);
  for (auto _ : state) {
    if (!bound.once(s.ca_key)) {
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

// Interleaved measurement for a shared, loaded machine: short blocks of issuance and of the
// crypto-only bound alternate (order flipped every round), each timed in this thread's CPU
// time, so load changes during the run hit both sides alike. Prints the ratio of the summed
// CPU times and the median of the per-round ratios.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void paired_ratio(int rounds) {
  if (rounds <= 0) return;
  auto& s = setup();
  const Bound bound(s);
  constexpr int kBlock = 16;
  double issue_total = 0, bound_total = 0;
  std::vector<double> ratios;
  std::size_t next = 0;
  for (int round = 0; round < rounds; ++round) {
    double issue_t = 0, bound_t = 0;
    for (int half = 0; half < 2; ++half) {
      const bool issue_now = (half == 0) == (round % 2 == 0);
      const double t0 = thread_cpu_seconds();
      for (int k = 0; k < kBlock; ++k) {
        const bool ok = issue_now ? issue_once(s, next++) : bound.once(s.ca_key);
        if (!ok) {
          std::cerr << "paired measurement: a check failed\n";
          return;
        }
      }
      (issue_now ? issue_t : bound_t) += thread_cpu_seconds() - t0;
    }
    issue_total += issue_t;
    bound_total += bound_t;
    ratios.push_back(bound_t / issue_t);
  }
  std::sort(ratios.begin(), ratios.end());
  const double n = static_cast<double>(rounds) * kBlock;
  std::cout << "paired (interleaved, " << rounds << " rounds x " << kBlock
            << "): issuance " << 1e6 * issue_total / n << " us CPU/cert, bound "
            << 1e6 * bound_total / n << " us CPU; ratio (bound/issuance) "
            << bound_total / issue_total << " (median of rounds " << ratios[ratios.size() / 2]
            << ", p10 " << ratios[ratios.size() / 10] << ", p90 "
            << ratios[ratios.size() * 9 / 10] << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  // --paired_rounds=N (default 60; 0 = off): the interleaved measurement after the benchmarks.
  int paired_rounds = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.rfind("--paired_rounds=", 0) == 0) {
      paired_rounds = std::atoi(argv[i] + 16);
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
  }
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
  paired_ratio(paired_rounds);
  benchmark::Shutdown();
  return 0;
}
