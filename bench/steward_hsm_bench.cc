// Steward issuance with the CA key in a PKCS#11 token (SoftHSM2 through OpenSSL's pkcs11
// provider) against the same with a file key (EC P-384 both): Steward::handle on KVM CSRs, and
// the bare CA signature. Prints the ratio token/file at the end, measured interleaved in wall
// time (a real HSM's cost is latency, not this process's CPU).
//   build-<you>/bench/steward_hsm_bench [--benchmark_min_time=1] [--paired_rounds=40]
// Needs softhsm2, gnutls-bin (p11tool) and pkcs11-provider (deps/install.sh); a throw-away
// token is created in a temporary directory.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include "attest/enarx/oids.h"
#include "core/csr.h"
#include "core/file.h"
#include "core/key_store.h"
#include "steward/evidence.h"
#include "steward/steward.h"

namespace {

using namespace enarx;
using namespace enarx::steward;
namespace fs = std::filesystem;

constexpr const char* kUri = "pkcs11:token=bench;object=ca-key;type=private";

struct Setup {
  TimePoint now = system_clock()->now();
  TempDir dir{"steward-hsm-bench"};
  KeyUriOptions options;
  PrivateKey file_key, token_key;
  std::unique_ptr<Steward> file_steward, token_steward;
  std::vector<Bytes> csrs;

  static void sh(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
      std::cerr << "setup failed: " << cmd << "\n";
      std::exit(2);
    }
  }

  std::unique_ptr<Steward> make(const PrivateKey& key) const {
    auto cert = CertificateBuilder()
                    .subject({{"CN", "bench CA"}})
                    .public_key(key.public_key())
                    .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
                    .ca(true, 0)
                    .key_usage({"keyCertSign", "cRLSign"})
                    .sign(key);
    auto s = std::make_unique<Steward>(CertificateAuthority(key, {cert}),
                                       Policy::parse("[issuance]\nallow_insecure = true\n"),
                                       std::make_shared<FixedClock>(now));
    s->register_verifier(make_kvm_verifier());
    return s;
  }

  Setup() {
    for (const char* m : {"/usr/lib/softhsm/libsofthsm2.so",
                          "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"})
      if (fs::exists(m)) options.pkcs11_module = m;
    if (options.pkcs11_module.empty()) {
      std::cerr << "softhsm2 is not installed\n";
      std::exit(2);
    }
    fs::create_directories(dir.path() / "tokens");
    write_file_atomic(dir.path() / "softhsm2.conf",
                      "directories.tokendir = " + (dir.path() / "tokens").string() +
                          "\nobjectstore.backend = file\nlog.level = ERROR\n", 0600);
    ::setenv("SOFTHSM2_CONF", (dir.path() / "softhsm2.conf").c_str(), 1);
    sh("softhsm2-util --init-token --free --label bench --pin 123456 --so-pin 12345678");
    sh("GNUTLS_PIN=123456 p11tool --provider " + options.pkcs11_module.string() +
       " --login --generate-privkey=ECDSA --curve=secp384r1 --label ca-key 'pkcs11:token=bench'");
    write_file_atomic(dir.path() / "pin", std::string_view("123456\n"), 0600);
    options.pin_file = dir.path() / "pin";

    file_key = PrivateKey::generate(KeyType::EcP384);
    token_key = PrivateKey::from_uri(kUri, options);
    file_steward = make(file_key);
    token_steward = make(token_key);
    for (int i = 0; i < 32; ++i) {
      CsrBuilder b;
      b.add_extension(Extension{std::string(oids::kKvmEvidence), false, {}});
      csrs.push_back(b.build_der(PrivateKey::generate(KeyType::EcP256)));
    }
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

bool issue_once(Steward& steward, std::size_t i) {
  auto& s = setup();
  auto r = steward.handle(kPkcs10, s.csrs[i % s.csrs.size()]);
  benchmark::DoNotOptimize(r.body.data());
  return r.status == 200;
}

void BM_IssueKvm(benchmark::State& state) {
  auto& s = setup();
  Steward& steward = state.range(0) ? *s.token_steward : *s.file_steward;
  state.SetLabel(state.range(0) ? "softhsm2 key" : "file key");
  std::size_t i = 0;
  for (auto _ : state) {
    if (!issue_once(steward, i++)) {
      state.SkipWithError("issuance failed");
      break;
    }
  }
}
BENCHMARK(BM_IssueKvm)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_CaSignature(benchmark::State& state) {
  auto& s = setup();
  const PrivateKey& key = state.range(0) ? s.token_key : s.file_key;
  state.SetLabel(state.range(0) ? "softhsm2 key" : "file key");
  const Bytes tbs(600, 0x5a);  // about a TBSCertificate
  for (auto _ : state) {
    Bytes sig = key.sign(DigestAlgorithm::Sha384, tbs);
    benchmark::DoNotOptimize(sig.data());
  }
}
BENCHMARK(BM_CaSignature)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Interleaved blocks (order flipped every round) in wall time, so load changes on a shared
// machine hit both keys alike.
void paired_ratio(int rounds) {
  if (rounds <= 0) return;
  auto& s = setup();
  constexpr int kBlock = 16;
  double file_total = 0, token_total = 0;
  std::vector<double> ratios;
  std::size_t next = 0;
  for (int round = 0; round < rounds; ++round) {
    double file_t = 0, token_t = 0;
    for (int half = 0; half < 2; ++half) {
      const bool token_now = (half == 0) == (round % 2 == 0);
      Steward& steward = token_now ? *s.token_steward : *s.file_steward;
      const auto t0 = std::chrono::steady_clock::now();
      for (int k = 0; k < kBlock; ++k) {
        if (!issue_once(steward, next++)) {
          std::cerr << "paired measurement: an issuance failed\n";
          return;
        }
      }
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      (token_now ? token_t : file_t) += dt.count();
    }
    file_total += file_t;
    token_total += token_t;
    ratios.push_back(token_t / file_t);
  }
  std::sort(ratios.begin(), ratios.end());
  const double n = static_cast<double>(rounds) * kBlock;
  std::cout << "paired (interleaved, " << rounds << " rounds x " << kBlock
            << " KVM issuances): file key " << 1e6 * file_total / n << " us/cert, softhsm2 key "
            << 1e6 * token_total / n << " us/cert; ratio (softhsm2/file) "
            << token_total / file_total << " (median of rounds " << ratios[ratios.size() / 2]
            << ", p10 " << ratios[ratios.size() / 10] << ", p90 "
            << ratios[ratios.size() * 9 / 10] << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  int paired_rounds = 40;
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
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  paired_ratio(paired_rounds);
  return 0;
}
