// SEV-SNP verification throughput: full verify (parse + cached chain + ECDSA P-384 report
// signature + bindings) against the bare cost of one ECDSA P-384/SHA-384 verification measured
// in the same run. The goal is cached verify >= 80% of bare ECDSA throughput. Run:
//   build/bench/attest_snp_bench            (prints the ratio at the end)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "attest/snp/appraise.h"
#include "attest/snp/verify.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"

namespace {

using namespace enarx;
namespace snp = enarx::attest::snp;

struct Data {
  Bytes report;
  snp::Collateral collateral;
  snp::VerifyOptions options;
  PublicKey key;
  Bytes r_be, s_be;
};

const std::optional<Data>& data() {
  static const std::optional<Data> d = []() -> std::optional<Data> {
    const auto dir = std::filesystem::path(ENARX_SOURCE_DIR) / ".." / "shared" / "testvectors" /
                     "snp" / "s04_milan_virtee";
    try {
      Data d;
      d.report = snp::decode_report_file(read_file(dir / "report.hex"));
      d.collateral.vcek_der = read_file(dir / "vcek.der");
      d.options.at = parse_rfc3339("2026-01-01T00:00:00Z");
      d.key = Certificate::from_der(d.collateral.vcek_der).public_key();
      const snp::Report r = snp::parse_report(d.report);
      d.r_be.assign(r.signature_r.rbegin() + 24, r.signature_r.rend());
      d.s_be.assign(r.signature_s.rbegin() + 24, r.signature_s.rend());
      return d;
    } catch (const Error& e) {
      std::fprintf(stderr, "attest_snp_bench: test vectors unavailable (%s)\n", e.what());
      return std::nullopt;
    }
  }();
  return d;
}

bool bare_ecdsa(const Data& d) {
  return d.key.verify_ecdsa_rs(DigestAlgorithm::Sha384, ByteView(d.report).first(snp::kSignedSize),
                               d.r_be, d.s_be);
}

void BM_BareEcdsaP384Verify(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  for (auto _ : state) benchmark::DoNotOptimize(bare_ecdsa(*data()));
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BareEcdsaP384Verify);

void BM_SnpVerifyCachedChain(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  const snp::Verifier verifier;
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(data()->report, data()->collateral, data()->options));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SnpVerifyCachedChain);

void BM_SnpVerifyAndAppraiseCached(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  const snp::Verifier verifier;
  const snp::Policy policy;
  for (auto _ : state) {
    auto v = verifier.verify(data()->report, data()->collateral, data()->options);
    benchmark::DoNotOptimize(snp::appraise(v, policy));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SnpVerifyAndAppraiseCached);

void BM_SnpVerifyColdChain(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  const snp::Verifier verifier;
  for (auto _ : state) {
    verifier.clear_cache();
    benchmark::DoNotOptimize(verifier.verify(data()->report, data()->collateral, data()->options));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SnpVerifyColdChain);

// Same-run ratio on one core: cached verify rate / bare ECDSA rate.
template <typename F>
double rate(F&& f, double seconds) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t n = 0;
  while (std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    for (int i = 0; i < 50; ++i) f();
    n += 50;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(clock::now() - start).count();
}

void print_ratio() {
  if (!data()) return;
  const snp::Verifier verifier;
  const Data& d = *data();
  // Interleave to share any frequency drift between both measurements.
  double bare = 0, cached = 0;
  for (int round = 0; round < 3; ++round) {
    bare += rate([&] { benchmark::DoNotOptimize(bare_ecdsa(d)); }, 0.5);
    cached += rate([&] { benchmark::DoNotOptimize(verifier.verify(d.report, d.collateral, d.options)); }, 0.5);
  }
  std::printf("\nSNP verify (cached chain): %.0f/s per core; bare ECDSA P-384 verify: %.0f/s; "
              "ratio %.1f%% (goal >= 80%%)\n",
              cached / 3, bare / 3, 100.0 * cached / bare);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratio();
  return 0;
}
