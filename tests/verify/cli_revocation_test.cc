// `enarx verify` and revocation: --crl (DER or PEM, repeatable), --no-revocation-check, the
// default online check, and the exit codes (4 revoked, 6 no answer) — the real binary.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "attest/enarx/oids.h"
#include "core/der.h"
#include "revocation/crl.h"
#include "support/process.h"

namespace enarx {
namespace {

using namespace std::chrono_literals;

const std::string kEnarx = std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx";

class Files {
 public:
  Files() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "verify-cli-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~Files() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, std::string_view data) const {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }

 private:
  std::filesystem::path dir_;
};

struct Pki {
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  PrivateKey ca_key = PrivateKey::generate(KeyType::EcP256);
  Certificate ca = CertificateBuilder()
                       .subject({{"CN", "cli steward CA"}})
                       .validity(now - 24h, now + 24h)
                       .ca(true, 0)
                       .key_usage({"keyCertSign", "cRLSign"})
                       .sign(ca_key);
  Certificate keep(std::optional<std::string> ocsp = std::nullopt) const {
    const nlohmann::json claims = {{"version", 1}, {"platform", "snp"}, {"insecure", false}, {"measurement", "ab"},
                                   {"evidence", {{"platform", "snp"}, {"simulated", false}}}};
    SubjectAltNames sans;
    sans.uris = {"slug://store.example.com/alice/app:1.0.0"};
    CertificateBuilder b;
    b.subject({})
        .public_key(PrivateKey::generate(KeyType::EcP256).public_key())
        .validity(now - 1h, now + 1h)
        .ca(false)
        .key_usage({"digitalSignature"})
        .extended_key_usage({"serverAuth", "clientAuth"})
        .subject_alt_names(sans)
        .add_extension({std::string(oids::kAttestedClaims), false, der::Writer().add_utf8_string(claims.dump()).take()});
    if (ocsp) {
      der::Writer location;
      location.add(0x86, as_bytes(*ocsp));
      der::Writer description;
      description.add_oid("1.3.6.1.5.5.7.48.1").add_raw(location.bytes());
      der::Writer access;
      access.add(der::kSequence, description.bytes());
      b.add_extension({"1.3.6.1.5.5.7.1.1", false, access.wrap(der::kSequence)});
    }
    return b.sign(ca_key, &ca);
  }
  Bytes crl(const std::vector<Bytes>& revoked) const {
    std::vector<revocation::CrlEntry> entries;
    for (const auto& s : revoked) entries.push_back({s, now - 1h, revocation::Reason::kKeyCompromise});
    return revocation::build_crl(ca_key, ca, entries, 8, now - 1min, now + 1h);
  }
};

std::string pem_crl(const Bytes& der) {
  std::string b64 = to_base64(der), out = "-----BEGIN X509 CRL-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END X509 CRL-----\n";
}

support::ShellRun verify(const std::string& args) {
  return support::run_shell(kEnarx + " verify " + args + " 2>&1");
}

TEST(VerifyCli, CrlFileRevokedExitsFourAndNoRevocationCheckSkipsIt) {
  if (!std::filesystem::exists(kEnarx)) GTEST_SKIP() << "enarx binary not built";
  Pki p;
  Files f;
  const Certificate keep = p.keep();
  const std::string chain = f.write("keep.pem", keep.to_pem());
  const std::string ca = f.write("ca.pem", p.ca.to_pem());
  const Bytes revoking = p.crl({keep.serial()});
  const std::string crl_der = f.write("revoking.crl", as_string(revoking));
  const std::string base = chain + " --ca " + ca + " ";

  auto r = verify(base + "--crl " + crl_der);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_NE(r.out.find("revocation.revoked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keyCompromise"), std::string::npos) << r.out;

  r = verify(base + "--crl " + crl_der + " --no-revocation-check");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("revocation:      not checked: revocation checking was disabled"), std::string::npos) << r.out;

  // PEM, next to another issuer's CRL (repeatable; the issuer's is used).
  const std::string pem = f.write("revoking.pem", "some text before the PEM block\n" + pem_crl(revoking));
  PrivateKey other_key = PrivateKey::generate(KeyType::EcP256);
  const Certificate other = CertificateBuilder().subject({{"CN", "other"}}).validity(p.now - 1h, p.now + 1h).ca(true).key_usage({"keyCertSign", "cRLSign"}).sign(other_key);
  const std::string other_crl = f.write("other.crl", as_string(revocation::build_crl(other_key, other, {}, 1, p.now, p.now + 1h)));
  r = verify(base + "--crl " + other_crl + " --crl " + pem + " --json");
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_NE(r.out.find("\"code\": \"revocation.revoked\""), std::string::npos) << r.out;

  // A CRL that does not list it: verified, with the status shown.
  const std::string clean = f.write("clean.crl", as_string(p.crl({})));
  r = verify(base + "--crl " + clean);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("revocation:      good (CRL given, CRL number 8"), std::string::npos) << r.out;
  // No CRL and no service named: verified, "not checked" said.
  r = verify(base + "--json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["revocation"]["status"], "not_checked");
  EXPECT_EQ(j["revocation"]["detail"], "the certificate names no revocation service");
}

TEST(VerifyCli, UnansweredRevocationServiceExitsSix) {
  if (!std::filesystem::exists(kEnarx)) GTEST_SKIP() << "enarx binary not built";
  Pki p;
  Files f;
  const std::string chain = f.write("keep.pem", p.keep(std::string("http://127.0.0.1:9/ocsp")).to_pem());
  const std::string ca = f.write("ca.pem", p.ca.to_pem());
  auto r = verify(chain + " --ca " + ca + " --timeout 2");
  EXPECT_EQ(r.exit_code, 6) << r.out;
  EXPECT_NE(r.out.find("revocation.unavailable"), std::string::npos) << r.out;
  r = verify(chain + " --ca " + ca + " --no-revocation-check");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace enarx
