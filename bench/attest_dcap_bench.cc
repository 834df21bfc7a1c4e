// DCAP verification throughput: full verify of a real TDX quote (parse + cached PCK chain, QE
// report and collateral signatures + the quote's own ECDSA P-256 signature + TCB evaluation)
// against the bare cost of one ECDSA P-256/SHA-256 verification measured in the same run. Run:
//   build/bench/attest_dcap_bench            (prints the ratio at the end)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "attest/dcap/appraise.h"
#include "attest/dcap/verify.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"

namespace {

using namespace enarx;
namespace dcap = enarx::attest::dcap;

struct Data {
  Bytes raw;
  dcap::Quote quote;
  dcap::Collateral collateral;
  dcap::VerifyOptions options;
  PublicKey att_key;
};

const std::optional<Data>& data() {
  static const std::optional<Data> d = []() -> std::optional<Data> {
    const auto tv = std::filesystem::path(ENARX_SOURCE_DIR) / ".." / "shared" / "testvectors";
    const auto dir = tv / "tdx" / "t12_gcp_cos";
    try {
      Data d;
      d.raw = read_file(dir / "quote.bin");
      d.quote = dcap::parse_quote(d.raw);
      d.collateral.tcb_info =
          dcap::parse_tcb_info_document(read_text_file(dir / "tcbinfo_00806F050000_2025-10-19.json"));
      d.collateral.qe_identity =
          dcap::parse_enclave_identity_document(read_text_file(dir / "td_qe_identity_2025-10-13.json"));
      d.collateral.crls = {dcap::load_crl_file(dir / "pck_platform_crl_2025-10-13.der"),
                           dcap::load_crl_file(tv / "sgx" / "common" / "intel_root_ca_crl_2025-03-20.der")};
      d.options.at = parse_rfc3339("2025-10-20T12:00:00Z");
      const ByteView k(d.quote.attestation_key);
      d.att_key = PublicKey::from_ec_point(KeyType::EcP256, k.first(32), k.last(32));
      return d;
    } catch (const Error& e) {
      std::fprintf(stderr, "attest_dcap_bench: test vectors unavailable (%s)\n", e.what());
      return std::nullopt;
    }
  }();
  return d;
}

bool bare_ecdsa(const Data& d) {
  const ByteView sig(d.quote.signature);
  return d.att_key.verify_ecdsa_rs(DigestAlgorithm::Sha256, d.quote.signed_data, sig.first(32), sig.last(32));
}

void BM_BareEcdsaP256Verify(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  for (auto _ : state) benchmark::DoNotOptimize(bare_ecdsa(*data()));
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BareEcdsaP256Verify);

void BM_DcapParseAndVerifyCached(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  dcap::CachingVerifier verifier(dcap::TrustStore::intel());
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        verifier.verify(dcap::parse_quote(data()->raw), data()->collateral, data()->options));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DcapParseAndVerifyCached);

void BM_DcapVerifyAndAppraiseCached(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  dcap::CachingVerifier verifier(dcap::TrustStore::intel());
  const dcap::TdxPolicy policy;
  for (auto _ : state) {
    auto v = verifier.verify(data()->quote, data()->collateral, data()->options);
    benchmark::DoNotOptimize(dcap::appraise(v, policy));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DcapVerifyAndAppraiseCached);

void BM_DcapVerifyUncached(benchmark::State& state) {
  if (!data()) return state.SkipWithError("no test vectors");
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        dcap::verify_quote(data()->quote, data()->collateral, dcap::TrustStore::intel(), data()->options));
  }
  state.counters["verifies/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DcapVerifyUncached);

template <typename F>
double rate(F&& f, double seconds) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t n = 0;
  while (std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    for (int i = 0; i < 20; ++i) f();
    n += 20;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(clock::now() - start).count();
}

void print_ratio() {
  if (!data()) return;
  const Data& d = *data();
  dcap::CachingVerifier verifier(dcap::TrustStore::intel());
  double bare = 0, cached = 0;
  for (int round = 0; round < 3; ++round) {  // interleaved, so drift hits both alike
    bare += rate([&] { benchmark::DoNotOptimize(bare_ecdsa(d)); }, 0.5);
    cached += rate([&] {
      benchmark::DoNotOptimize(verifier.verify(dcap::parse_quote(d.raw), d.collateral, d.options));
    }, 0.5);
  }
  std::printf("\nDCAP parse+verify (cached collateral): %.0f/s per core; bare ECDSA P-256 verify: "
              "%.0f/s; ratio %.1f%%\n",
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
