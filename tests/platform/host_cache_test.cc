// Host preparation against a local mock KDS / PCS (plain HTTP on 127.0.0.1) serving the real test
// vectors: files land byte-exact, and bad downloads never replace a good cache file.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "attest/enarx/crl_list.h"
#include "core/error.h"
#include "core/file.h"
#include "platform/host_cache.h"

namespace fs = std::filesystem;
using namespace enarx;
namespace cache = enarx::platform::cache;

namespace {

// A deliberately tiny HTTP/1.1 server: one request per connection, Connection: close.
class MockServer {
 public:
  struct Route {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  MockServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("mock server: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~MockServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set(const std::string& target, Route r) {
    std::lock_guard<std::mutex> l(m_);
    routes_[target] = std::move(r);
  }
  int hits(const std::string& target) {
    std::lock_guard<std::mutex> l(m_);
    return hits_[target];
  }

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      std::string target;
      auto sp1 = req.find(' ');
      auto sp2 = req.find(' ', sp1 + 1);
      if (sp1 != std::string::npos && sp2 != std::string::npos) target = req.substr(sp1 + 1, sp2 - sp1 - 1);
      Route r{404, "not found", {}};
      {
        std::lock_guard<std::mutex> l(m_);
        ++hits_[target];
        if (auto it = routes_.find(target); it != routes_.end()) r = it->second;
      }
      std::string resp = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Length: " +
                         std::to_string(r.body.size()) + "\r\nConnection: close\r\n";
      for (const auto& [k, v] : r.headers) resp += k + ": " + v + "\r\n";
      resp += "\r\n" + r.body;
      std::size_t off = 0;
      while (off < resp.size()) {
        ssize_t n = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex m_;
  std::map<std::string, Route> routes_;
  std::map<std::string, int> hits_;
};

fs::path tv() {
  const char* s = std::getenv("ENARX_SHARED_DIR");
  return s ? fs::path(s) / "testvectors" : fs::path();
}

std::string text(const fs::path& p) { return read_text_file(p); }

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class HostCache : public ::testing::Test {
 protected:
  void SetUp() override {
    if (tv().empty() || !fs::exists(tv())) GTEST_SKIP() << "ENARX_SHARED_DIR not set";
    o.kds_url = server.url();
    o.pcs_url = server.url();
    o.intel_root_crl_url = server.url() + "/IntelSGXRootCA.der";
    o.amd_dir = dir.path() / "amd-sev";
    o.intel_dir = dir.path() / "intel-sgx";
    o.fetch = cache::http_fetcher();
  }
  MockServer server;
  TempDir dir{"platform-cache"};
  cache::Options o;
};

constexpr const char* kS04Chip =
    "d49554ec717f4e5b0fe6b143bcf0405b";  // prefix; the full 64 bytes come from the report

}  // namespace

TEST(VcekUrl, FormatsLikeKds) {
  cache::VcekRequest r;
  r.product = "Milan";
  r.chip_id = Bytes(64, 0xab);
  r.tcb = {3, 0, 8, 115, std::nullopt};
  EXPECT_EQ(cache::vcek_url("https://kdsintf.amd.com/", r),
            "https://kdsintf.amd.com/vcek/v1/Milan/" + to_hex(Bytes(64, 0xab)) +
                "?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115");
  EXPECT_EQ(cache::vcek_file_name(r), "vcek-" + to_hex(Bytes(64, 0xab)) + "-3-0-8-115");
  r.product = "Turin";
  r.tcb.fmc = 1;
  EXPECT_EQ(cache::vcek_url("https://kds", r),
            "https://kds/vcek/v1/Turin/abababababababab?fmcSPL=01&blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115");
}

TEST(UrlDecode, PemHeader) {
  EXPECT_EQ(cache::url_decode("-----BEGIN%20CERTIFICATE-----%0AAB%2B%3D"), "-----BEGIN CERTIFICATE-----\nAB+=");
  EXPECT_EQ(cache::url_decode("%zz%4"), "%zz%4");
}

TEST_F(HostCache, VcekFromReportLandsByteExact) {
  Bytes report = read_file(tv() / "snp/s04_milan_virtee/report.hex");
  auto req = cache::vcek_request_from_report(report, "Milan");
  EXPECT_EQ(req.product, "Milan");
  EXPECT_EQ(to_hex(req.chip_id).substr(0, 32), kS04Chip);
  EXPECT_EQ(req.tcb.bl, 3);
  EXPECT_EQ(req.tcb.ucode, 115);
  std::string target = cache::vcek_url("", req);
  Bytes vcek = read_file(tv() / "snp/s04_milan_virtee/vcek.der");
  server.set(target, {200, std::string(vcek.begin(), vcek.end()), {}});

  auto r = cache::fetch_vcek(req, o);
  ASSERT_TRUE(r.written) << r.error;
  EXPECT_EQ(r.path, o.amd_dir / ("vcek-" + to_hex(req.chip_id) + "-3-0-8-115"));
  EXPECT_EQ(read_file(r.path), vcek);
  EXPECT_EQ(server.hits(target), 1);

  // Another machine's VCEK (wrong hwID / TCB) and garbage are rejected; the good file stays.
  Bytes other = read_file(tv() / "snp/s01_milan_gosevguest/vcek.der");
  server.set(target, {200, std::string(other.begin(), other.end()), {}});
  auto bad = cache::fetch_vcek(req, o);
  EXPECT_FALSE(bad.written);
  EXPECT_NE(bad.error.find("platform.cache.invalid"), std::string::npos) << bad.error;
  EXPECT_EQ(read_file(r.path), vcek);
  server.set(target, {200, "garbage, not DER", {}});
  EXPECT_FALSE(cache::fetch_vcek(req, o).written);
  server.set(target, {500, "oops", {}});
  auto e500 = cache::fetch_vcek(req, o);
  EXPECT_FALSE(e500.written);
  EXPECT_NE(e500.error.find("platform.cache.http"), std::string::npos) << e500.error;
  EXPECT_EQ(read_file(r.path), vcek);
  // Only the final file is in the directory: no temp files left behind.
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(o.amd_dir)) ++n;
  EXPECT_EQ(n, 1);
}

TEST_F(HostCache, TamperedHwidVcekRejected) {
  Bytes report = read_file(tv() / "snp/s04_milan_virtee/report.hex");
  auto req = cache::vcek_request_from_report(report, "Milan");
  Bytes neg = read_file(tv() / "snp/n01_tampered_vcek/neg_vcek_tampered_hwid.der");
  server.set(cache::vcek_url("", req), {200, std::string(neg.begin(), neg.end()), {}});
  EXPECT_FALSE(cache::fetch_vcek(req, o).written);
  EXPECT_FALSE(fs::exists(o.amd_dir / cache::vcek_file_name(req)));
}

TEST_F(HostCache, AmdCrlsIntoCrlListAndPerProductFiles) {
  Bytes milan = read_file(tv() / "snp/crls/amd_milan_ark_crl_2022-05-09.der");
  Bytes genoa = read_file(tv() / "snp/crls/amd_genoa_ark_crl_2022-10-31.der");
  server.set("/vcek/v1/Milan/crl", {200, std::string(milan.begin(), milan.end()), {}});
  server.set("/vcek/v1/Genoa/crl", {200, std::string(genoa.begin(), genoa.end()), {}});
  // Turin: not served (404) -> reported, nothing written for it.
  auto results = cache::fetch_amd_crls(o);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].written);  // Genoa first, like Enarx
  EXPECT_TRUE(results[1].written);
  EXPECT_FALSE(results[2].written);
  EXPECT_EQ(read_file(o.amd_dir / "crl-Milan.der"), milan);
  EXPECT_EQ(read_file(o.amd_dir / "crl-Genoa.der"), genoa);
  EXPECT_FALSE(fs::exists(o.amd_dir / "crl-Turin.der"));
  auto list = attest::parse_crl_list(read_file(o.amd_dir / "crls.der"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].url, "https://kdsintf.amd.com/vcek/v1/Genoa/crl");
  EXPECT_EQ(list[1].url, "https://kdsintf.amd.com/vcek/v1/Milan/crl");
  EXPECT_EQ(list[1].crl.to_der(), milan);

  // Swapped CRLs (Milan's served as Genoa's) fail the ARK signature check; garbage fails to
  // parse. The previous good files and crls.der entries are kept.
  server.set("/vcek/v1/Genoa/crl", {200, std::string(milan.begin(), milan.end()), {}});
  server.set("/vcek/v1/Milan/crl", {200, "\x30\x03garbled", {}});
  auto again = cache::fetch_amd_crls(o, {"Milan", "Genoa"});
  EXPECT_FALSE(again[0].written);
  EXPECT_FALSE(again[1].written);
  EXPECT_EQ(read_file(o.amd_dir / "crl-Milan.der"), milan);
  EXPECT_EQ(read_file(o.amd_dir / "crl-Genoa.der"), genoa);
  auto kept = attest::parse_crl_list(read_file(o.amd_dir / "crls.der"));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].crl.to_der(), genoa);
}

namespace {
void serve_intel(MockServer& server, const fs::path& tvdir, bool tamper_tcb = false,
                 bool drop_chain = false) {
  std::string chain = url_encode(text(tvdir / "sgx/common/intel_tcb_signing_2018-2025.pem") +
                                 text(tvdir / "sgx/common/intel_sgx_root_ca.pem"));
  std::string tcb = text(tvdir / "sgx/g02_mobilecoin/tcbinfo_00906ED50000_2023-07-12.json");
  if (tamper_tcb) tcb[tcb.find("\"tcbEvaluationDataNumber\":15") + 26] = '6';
  std::vector<std::pair<std::string, std::string>> h;
  if (!drop_chain) h.push_back({"TCB-Info-Issuer-Chain", chain});
  server.set("/sgx/certification/v4/tcb?fmspc=00906ED50000", {200, tcb, h});
  server.set("/sgx/certification/v4/qe/identity",
             {200, text(tvdir / "sgx/g02_mobilecoin/qe_identity_2023-07-12.json"),
              {{"SGX-Enclave-Identity-Issuer-Chain", chain}}});
  auto raw = [](const fs::path& p) {
    Bytes b = read_file(p);
    return std::string(b.begin(), b.end());
  };
  server.set("/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
             {200, raw(tvdir / "sgx/g02_mobilecoin/pck_processor_crl_2023-04-21.der"), {}});
  server.set("/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
             {200, raw(tvdir / "sgx/g05_steward_xeon/pck_platform_crl_2023-01-25.der"), {}});
  server.set("/IntelSGXRootCA.der", {200, raw(tvdir / "sgx/common/intel_root_ca_crl_2023-04-03.der"), {}});
}
}  // namespace

TEST_F(HostCache, IntelCollateralLayout) {
  serve_intel(server, tv());
  cache::IntelRequest r;
  r.fmspc = from_hex("00906ED50000");
  auto results = cache::fetch_intel_collateral(r, o);
  for (const auto& x : results) EXPECT_TRUE(x.written) << x.url << ": " << x.error;
  const fs::path d = o.intel_dir;
  EXPECT_EQ(text(d / "tcbinfo-00906ed50000.json"),
            text(tv() / "sgx/g02_mobilecoin/tcbinfo_00906ED50000_2023-07-12.json"));
  EXPECT_EQ(text(d / "qe_identity.json"), text(tv() / "sgx/g02_mobilecoin/qe_identity_2023-07-12.json"));
  EXPECT_EQ(read_file(d / "pck_processor_crl.der"),
            read_file(tv() / "sgx/g02_mobilecoin/pck_processor_crl_2023-04-21.der"));
  EXPECT_EQ(read_file(d / "root_ca_crl.der"), read_file(tv() / "sgx/common/intel_root_ca_crl_2023-04-03.der"));
  EXPECT_EQ(Certificate::chain_from_pem(text(d / "tcb_signing_chain.pem")).size(), 2u);
  EXPECT_EQ(text(d / "fmspc.txt"), "00906ED50000\n");
  auto crls = attest::parse_crl_list(read_file(d / "crls.der"));
  ASSERT_EQ(crls.size(), 3u);
  EXPECT_EQ(crls[0].url, cache::kDefaultIntelRootCrlUrl);
  EXPECT_EQ(crls[1].url,
            "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
  // tcb.der: TcbPackage { [TCB signing cert, root], raw TCB info }.
  Bytes pkg = read_file(d / "tcb.der");
  std::string tcb = text(tv() / "sgx/g02_mobilecoin/tcbinfo_00906ED50000_2023-07-12.json");
  EXPECT_NE(std::search(pkg.begin(), pkg.end(), tcb.begin(), tcb.end()), pkg.end());
}

TEST_F(HostCache, TamperedTcbInfoDoesNotReplaceGoodFile) {
  serve_intel(server, tv());
  cache::IntelRequest r;
  r.fmspc = from_hex("00906ED50000");
  cache::fetch_intel_collateral(r, o);
  const fs::path f = o.intel_dir / "tcbinfo-00906ed50000.json";
  std::string good = text(f);

  serve_intel(server, tv(), /*tamper_tcb=*/true);
  auto results = cache::fetch_intel_collateral(r, o);
  EXPECT_FALSE(results[0].written);
  EXPECT_NE(results[0].error.find("signature"), std::string::npos) << results[0].error;
  EXPECT_EQ(text(f), good);

  serve_intel(server, tv(), false, /*drop_chain=*/true);
  results = cache::fetch_intel_collateral(r, o);
  EXPECT_FALSE(results[0].written);
  EXPECT_EQ(text(f), good);
}

TEST_F(HostCache, UnreachableServerKeepsEverything) {
  serve_intel(server, tv());
  cache::IntelRequest r;
  r.fmspc = from_hex("00906ED50000");
  cache::fetch_intel_collateral(r, o);
  cache::Options dead = o;
  dead.pcs_url = "http://127.0.0.1:1";
  dead.intel_root_crl_url = "http://127.0.0.1:1/IntelSGXRootCA.der";
  auto results = cache::fetch_intel_collateral(r, dead);
  for (const auto& x : results) EXPECT_FALSE(x.written);
  EXPECT_TRUE(fs::exists(o.intel_dir / "tcbinfo-00906ed50000.json"));
  EXPECT_EQ(attest::parse_crl_list(read_file(o.intel_dir / "crls.der")).size(), 3u);
}
