// Steward issuance throughput for SNP evidence on one core, against the crypto-only bound of
// the same work: one P-384 report signature verification + one CSR self-signature verification
// (P-384) + one certificate signature (CA key P-384). Prints the ratio at the end (goal >= 0.8).
// Then the cost of the issued-certificate index: the same issuance recording every certificate
// in SQLite, and in PostgreSQL when STEWARD_BENCH_PG is a libpq URL (bench/steward/run.sh starts
// a throw-away server), as ratios to issuance without an index (goal >= 0.9): one issuer at a
// time (every certificate waits for its own commit) and 8 concurrent issuers (steward's default
// workers, whose commits are grouped), each issuer either waiting for its commit (handle) or going
// on to the next request while the index's committer answers (handle_async, as steward's HTTP
// server does), with the crypto-only bound on as many threads interleaved, so that both
// throughputs are also ratios to the bound of the same run, and the local PostgreSQL server's
// CPU per certificate; the index insert alone, one row per commit and 16; and OCSP answers per
// second from the SQLite index.
//   build-<you>/bench/steward_bench [--benchmark_min_time=2] [--paired_rounds=60] [--issuers=8]
//                                   [--issuer_block=16]
// On a loaded machine trust the "paired" line (interleaved CPU-time measurement) over the two
// separate benchmark runs, whose CPU times drift with the load between them.
#include <benchmark/benchmark.h>

#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/ocsp.h>

#include "simulation/snp_chain.h"
#include "core/csr.h"
#include "core/file.h"
#include "core/openssl.h"
#include "steward/status_service.h"
#include "steward/steward.h"

namespace {

using namespace enarx;
using namespace enarx::steward;

// Real time from a fixed start (the simulated evidence's), as a server's clock runs: serials
// carry the time, so a clock that stands still would put every new row at one spot of the index.
class AdvancingClock final : public Clock {
 public:
  explicit AdvancingClock(TimePoint start) : start_(start) {}
  TimePoint now() const override {
    return start_ + std::chrono::duration_cast<TimePoint::duration>(std::chrono::steady_clock::now() - origin_);
  }

 private:
  TimePoint start_;
  std::chrono::steady_clock::time_point origin_ = std::chrono::steady_clock::now();
};

struct Setup {
  TimePoint now = parse_rfc3339("2026-11-23T10:00:00Z");
  simulation::SnpSim sim{now};
  TempDir dir{"steward-bench"};
  std::unique_ptr<Steward> steward;
  std::unique_ptr<Steward> steward_sqlite;  // the same, recording into a SQLite index
  std::unique_ptr<Steward> steward_pg;      // ... into PostgreSQL (STEWARD_BENCH_PG)
  std::shared_ptr<CertIndex> sqlite_index;
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
    auto make = [&] {
      auto st = std::make_unique<Steward>(CertificateAuthority(ca_key, {ca_cert}), policy,
                                          std::make_shared<AdvancingClock>(now));
      register_default_verifiers(*st);
      return st;
    };
    steward = make();
    steward_sqlite = make();
    sqlite_index = open_sqlite_cert_index((dir.path() / "index.sqlite3").string());
    steward_sqlite->set_cert_index(sqlite_index);
    if (const char* pg = std::getenv("STEWARD_BENCH_PG"); pg && *pg) {
      steward_pg = make();
      steward_pg->set_cert_index(open_pg_cert_index(pg));
    }
    SubjectAltNames sans;
    sans.uris = {"slug://drawbridge.example/alice/app:1.0.0"};
    for (int i = 0; i < 64; ++i) {
      keys.push_back(PrivateKey::generate(KeyType::EcP384));
      csrs.push_back(sim.csr(keys.back(), sans));
    }
  }
};

std::string to_hex_u64(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

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

void issue_loop(benchmark::State& state, Steward* st) {
  auto& s = setup();
  if (!st) {
    state.SkipWithError("no such index configured (STEWARD_BENCH_PG unset)");
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = st->handle(kPkcs10, s.csrs[i++ % s.csrs.size()]);
    if (r.status != 200) {
      state.SkipWithError(std::string(as_string(r.body)).c_str());
      break;
    }
    benchmark::DoNotOptimize(r.body.data());
  }
}
void BM_IssueSnpSqliteIndex(benchmark::State& state) { issue_loop(state, setup().steward_sqlite.get()); }
BENCHMARK(BM_IssueSnpSqliteIndex)->Unit(benchmark::kMicrosecond)->UseRealTime();
void BM_IssueSnpPostgresIndex(benchmark::State& state) { issue_loop(state, setup().steward_pg.get()); }
BENCHMARK(BM_IssueSnpPostgresIndex)->Unit(benchmark::kMicrosecond)->UseRealTime();

// One OCSP answer (request parse, index lookup, signed response) for a certificate in the index.
void BM_OcspResponse(benchmark::State& state) {
  auto& s = setup();
  auto r = s.steward_sqlite->handle(kPkcs10, s.csrs[0]);
  const auto issued = Certificate::chain_from_der_sequence(r.body).back();
  StatusService status(s.sqlite_index, s.steward_sqlite->ca(), std::make_shared<FixedClock>(s.now));
  ossl::Ptr<OCSP_REQUEST, OCSP_REQUEST_free> req(OCSP_REQUEST_new());
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), issued.get(), s.ca_cert.get());
  OCSP_request_add0_id(req.get(), id);
  OCSP_request_add1_nonce(req.get(), nullptr, 16);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &der);
  const Bytes request(der, der + len);
  OPENSSL_free(der);
  for (auto _ : state) {
    const Bytes answer = status.ocsp(request);
    benchmark::DoNotOptimize(answer.data());
  }
  state.counters["answers/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OcspResponse)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The index alone: one issued certificate's row (as issuance records it) inserted in SQLite,
// committed on its own, and in groups of 16 (what group commit makes of 16 concurrent issuers).
void index_insert(benchmark::State& state, std::size_t group) {
  auto& s = setup();
  auto r = s.steward_sqlite->handle(kPkcs10, s.csrs[0]);
  const auto issued = Certificate::chain_from_der_sequence(r.body).back();
  const IssuedCertificate row = *s.sqlite_index->find(serial_key(issued.serial()));
  TempDir dir("steward-bench-index");
  auto index = open_sqlite_cert_index((dir.path() / "index.sqlite3").string());
  std::vector<IssuedCertificate> rows(group, row);
  std::uint64_t next = 1;
  for (auto _ : state) {
    for (auto& x : rows) x.serial = to_hex_u64(next++);
    index->record_issued(rows);
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * group), benchmark::Counter::kIsRate);
}
void BM_IndexInsertSqlite(benchmark::State& state) { index_insert(state, 1); }
BENCHMARK(BM_IndexInsertSqlite)->Unit(benchmark::kMicrosecond)->UseRealTime();
void BM_IndexInsertSqliteGroupOf16(benchmark::State& state) { index_insert(state, 16); }
BENCHMARK(BM_IndexInsertSqliteGroupOf16)->Unit(benchmark::kMicrosecond)->UseRealTime();

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

// The index's cost, interleaved the same way: issuance with an index vs without (CPU time of
// this thread plus, for PostgreSQL, the wall time it waits for the server: the server's own CPU
// is another process, so wall time is the honest measure there).
void paired_index_ratio(const char* label, Steward* with_index, int rounds) {
  if (rounds <= 0 || !with_index) return;
  auto& s = setup();
  constexpr int kBlock = 16;
  double plain_cpu = 0, index_cpu = 0, plain_wall = 0, index_wall = 0;
  std::size_t next = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int half = 0; half < 2; ++half) {
      const bool indexed = (half == 0) == (round % 2 == 0);
      Steward& st = indexed ? *with_index : *s.steward;
      const double c0 = thread_cpu_seconds();
      const auto w0 = std::chrono::steady_clock::now();
      for (int k = 0; k < kBlock; ++k) {
        auto r = st.handle(kPkcs10, s.csrs[next++ % s.csrs.size()]);
        if (r.status != 200) {
          std::cerr << "paired index measurement: issuance failed: " << as_string(r.body) << "\n";
          return;
        }
      }
      const double c = thread_cpu_seconds() - c0;
      const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      (indexed ? index_cpu : plain_cpu) += c;
      (indexed ? index_wall : plain_wall) += w;
    }
  }
  const double n = static_cast<double>(rounds) * kBlock;
  std::cout << "paired index cost (" << label << ", " << rounds << " rounds x " << kBlock
            << "): without " << 1e6 * plain_wall / n << " us wall / " << 1e6 * plain_cpu / n
            << " us CPU per cert, with " << 1e6 * index_wall / n << " us wall / "
            << 1e6 * index_cpu / n << " us CPU; throughput ratio (with/without) "
            << plain_wall / index_wall << " wall, " << plain_cpu / index_cpu << " CPU\n";
}

// The index's cost to a server's throughput: `threads` concurrent issuers (as steward's HTTP
// workers are), interleaved blocks with and without the index, wall time for the same number of
// certificates and the process's CPU time. Concurrent issuances share the index's commits (group
// commit), which a one-at-a-time loop cannot show. Each round also runs a block of the
// crypto-only bound on as many threads, so both throughputs are given as ratios to the bound
// measured in the same run, the form the index's goal is stated in (the single-threaded
// "paired" line is the same ratio without an index).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of this machine's PostgreSQL server processes (user + system, from /proc), so that
// the database's own cost per certificate is known when it shares the cores with steward.
double postgres_server_cpu_seconds() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open ||
        line.compare(open + 1, close - open - 1, "postgres") != 0)
      continue;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int k = 3; k <= 15 && fields >> field; ++k) {
      if (k == 14) utime = std::strtod(field.c_str(), nullptr);
      if (k == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    total += (utime + stime) / ticks;
  }
  return total;
}

// Idle time (idle + iowait, from /proc/stat) of the cores this process may run on: a block
// whose cores idle is waiting for something other than its own CPU (the database, a commit).
double own_cores_idle_seconds() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
  std::ifstream in("/proc/stat");
  double total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0;
    fields >> cpu >> user >> nice >> system >> idle >> iowait;
    if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed)) total += (idle + iowait) / ticks;
  }
  return total;
}

// Context switches of every thread of this process so far (a thread that wakes from a flush
// and preempts a worker costs two).
double process_context_switches() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<double>(usage.ru_nvcsw + usage.ru_nivcsw);
}

int g_issuer_block = 16;  // --issuer_block: requests per issuer per block

void concurrent_index_ratio(const char* label, Steward* with_index, int rounds, int threads, bool async,
                            bool postgres) {
  if (rounds <= 0 || !with_index || threads <= 0 || g_issuer_block <= 0) return;
  auto& s = setup();
  const Bound bound(s);
  const int block = g_issuer_block;  // requests per issuer per block
  enum Variant { kBound, kPlain, kIndexed };
  double cpu[3] = {}, wall[3] = {}, idle[3] = {}, drain[3] = {}, switches[3] = {}, server_cpu = 0;
  std::atomic<bool> failed{false};
  for (int round = 0; round < rounds && !failed; ++round) {
    for (int slot = 0; slot < 3; ++slot) {
      // Every variant takes every position in turn, so drift in the machine's load hits all.
      const auto variant = static_cast<Variant>((round + slot) % 3);
      Steward& st = variant == kIndexed ? *with_index : *s.steward;
      // Read before this process's CPU clock starts: scanning /proc is not the block's work.
      const double p0 = postgres && variant == kIndexed ? postgres_server_cpu_seconds() : 0;
      const double i0 = own_cores_idle_seconds();
      const double s0 = process_context_switches();
      const double c0 = process_cpu_seconds();
      const auto w0 = std::chrono::steady_clock::now();
      // One queue of requests that every worker takes from, as a server's workers do: a fixed
      // share per thread would end each block with cores idle behind the slowest thread.
      std::atomic<int> next{0};
      std::atomic<int> answered{0};
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
          for (int k; (k = next.fetch_add(1)) < block * threads;) {
            if (variant == kBound) {
              if (!bound.once(s.ca_key)) failed = true;
              continue;
            }
            const ByteView csr = s.csrs[static_cast<std::size_t>(k) % s.csrs.size()];
            if (!async) {
              if (st.handle(kPkcs10, csr).status != 200) failed = true;
              continue;
            }
            // As a server's worker with an asynchronous handler: on to the next request while
            // the commit runs; the answer comes from the index's committer.
            st.handle_async(kPkcs10, csr, [&](Response r) {
              if (r.status != 200) failed = true;
              answered.fetch_add(1);
              answered.notify_all();
            });
          }
        });
      for (auto& w : workers) w.join();
      const auto submitted = std::chrono::steady_clock::now();
      if (async && variant != kBound)
        for (int a; (a = answered.load()) < block * threads;) answered.wait(a);
      drain[variant] += std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
      cpu[variant] += process_cpu_seconds() - c0;
      wall[variant] += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      idle[variant] += own_cores_idle_seconds() - i0;
      switches[variant] += process_context_switches() - s0;
      if (postgres && variant == kIndexed) server_cpu += postgres_server_cpu_seconds() - p0;
    }
  }
  if (failed) {
    std::cerr << "concurrent index measurement: an issuance failed\n";
    return;
  }
  const double n = static_cast<double>(rounds) * block * threads;
  std::cout << "concurrent index cost (" << label << (async ? ", asynchronous commit" : "") << ", " << threads << " issuers, " << rounds
            << " rounds x " << block * threads << "): without " << n / wall[kPlain]
            << " certs/s (" << 1e6 * cpu[kPlain] / n << " us CPU per cert), with " << n / wall[kIndexed]
            << " certs/s (" << 1e6 * cpu[kIndexed] / n << " us CPU); throughput ratio (with/without) "
            << wall[kPlain] / wall[kIndexed] << " wall, " << cpu[kPlain] / cpu[kIndexed] << " CPU\n";
  std::cout << "  to the crypto-only bound on " << threads << " threads (" << n / wall[kBound]
            << " per s, " << 1e6 * cpu[kBound] / n << " us CPU each): without the index "
            << wall[kBound] / wall[kPlain] << " wall / " << cpu[kBound] / cpu[kPlain] << " CPU, with it "
            << wall[kBound] / wall[kIndexed] << " wall / " << cpu[kBound] / cpu[kIndexed] << " CPU\n";
  std::cout << "  idle time of this process's cores per block second: bound " << idle[kBound] / wall[kBound]
            << ", without the index " << idle[kPlain] / wall[kPlain] << ", with it " << idle[kIndexed] / wall[kIndexed]
            << " (clock ticks; " << std::thread::hardware_concurrency() << " cores on the machine)\n";
  std::cout << "  context switches of this process per certificate (voluntary + preempted): bound "
            << switches[kBound] / n << ", without the index " << switches[kPlain] / n << ", with it "
            << switches[kIndexed] / n << "\n";
  std::cout << "  a block's end, from the last request taken to the last answer: bound "
            << 1e3 * drain[kBound] / rounds << " ms, without the index " << 1e3 * drain[kPlain] / rounds
            << " ms, with it " << 1e3 * drain[kIndexed] / rounds << " ms (a server under steady load never drains)\n";
  if (postgres)
    std::cout << "  PostgreSQL server processes on this machine: " << 1e6 * server_cpu / n
              << " us CPU per certificate (clock ticks of " << 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK))
              << " ms; on its own host this is not steward's)\n";
}

}  // namespace

int main(int argc, char** argv) {
  // --paired_rounds=N (default 60; 0 = off): the interleaved measurements after the benchmarks.
  // --issuers=N (default 8, steward's default server.workers): concurrent issuers of the
  // throughput measurement.
  // --issuer_block=N (default 16): requests per issuer in each block of that measurement. A
  // block ends by waiting for its last commit, which a server under steady load never does;
  // longer blocks make that drain a smaller share.
  int paired_rounds = 60;
  int issuers = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    int* target = a.rfind("--paired_rounds=", 0) == 0 ? &paired_rounds
                  : a.rfind("--issuers=", 0) == 0     ? &issuers
                  : a.rfind("--issuer_block=", 0) == 0 ? &g_issuer_block
                                                      : nullptr;
    if (target) {
      *target = std::atoi(argv[i] + a.find('=') + 1);
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
  paired_index_ratio("SQLite", setup().steward_sqlite.get(), paired_rounds);
  paired_index_ratio("PostgreSQL", setup().steward_pg.get(), paired_rounds);
  for (bool async : {false, true}) {
    concurrent_index_ratio("SQLite", setup().steward_sqlite.get(), paired_rounds / 2, issuers, async, false);
    concurrent_index_ratio("PostgreSQL", setup().steward_pg.get(), paired_rounds / 2, issuers, async, true);
  }
  if (auto o = reporter.times_.find("BM_OcspResponse/real_time"); o != reporter.times_.end() && o->second > 0)
    std::cout << "OCSP: " << 1e6 / o->second << " answers/s on one core (" << o->second << " us each)\n";
  benchmark::Shutdown();
  return 0;
}
