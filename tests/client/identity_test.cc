// The keep checks what steward hands back (establish_identity -> check_issued_chain): a steward
// that is reachable but wrong — another CA, names the keep did not ask for, a keep certificate
// posing as steward's HTTPS certificate — must not give the keep an identity.
#include "client/identity.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "core/csr.h"
#include "core/der.h"
#include "core/error.h"
#include "net/http_server.h"
#include "attest/enarx/oids.h"
#include "support/error_code.h"

namespace enarx::client {
namespace {

using support::error_code;

using namespace std::chrono_literals;

struct TestCa {
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
  Certificate cert;
  explicit TestCa(const std::string& cn) {
    const auto now = std::chrono::system_clock::now();
    cert = CertificateBuilder()
               .subject({{"CN", cn}})
               .public_key(key.public_key())
               .validity(now - 1h, now + 24h)
               .ca(true, 0)
               .key_usage({"keyCertSign", "cRLSign"}, true)
               .sign(key);
  }
};

identity::WorkloadIdentity workload() {
  identity::WorkloadIdentity w;
  w.slug = identity::parse_slug("registry.example/alice/web:1.0.0");
  w.digest = "sha-256:" + std::string(64, 'a');
  w.signer = std::string(64, 'b');
  return w;
}

// What the fake steward puts in the certificate, given the CSR's names.
using NameEditor = std::function<void(SubjectAltNames&)>;

Certificate issue_leaf(const TestCa& ca, const PublicKey& key, SubjectAltNames sans, bool keep_marker = true) {
  const auto now = std::chrono::system_clock::now();
  CertificateBuilder b;
  b.subject({{"CN", "keep"}})
      .public_key(key)
      .validity(now - 1min, now + 1h)
      .ca(false)
      .key_usage({"digitalSignature"}, true)
      .extended_key_usage({"serverAuth", "clientAuth"})
      .subject_alt_names(sans);
  if (keep_marker) {
    der::Writer claims;
    claims.add_utf8_string("{}");
    b.add_extension(Extension{std::string(oids::kAttestedClaims), false, claims.take()});
  }
  return b.sign(ca.key, &ca.cert);
}

Bytes pkipath(const std::vector<Certificate>& root_first) {
  der::Writer w;
  for (const auto& c : root_first) w.add_raw(c.to_der());
  return w.wrap(der::kSequence);
}

class FakeSteward {
 public:
  FakeSteward(const TestCa& ca, NameEditor edit, std::optional<net::TlsServerConfig> tls = std::nullopt) {
    net::ServerConfig cfg;
    cfg.access_log = false;
    cfg.tls = std::move(tls);
    cfg.allow_plaintext = !cfg.tls;
    server_ = std::make_unique<net::HttpServer>(cfg);
    server_->post("/", [&ca, edit](net::Request& r) {
      auto csr = CertificationRequest::from_der(as_bytes(r.body));
      SubjectAltNames sans = csr.subject_alt_names();
      sans.uris.push_back("urn:enarx:keep:kvm:" + std::string(64, 'c'));
      edit(sans);
      const Bytes body = pkipath(std::vector<Certificate>{ca.cert, issue_leaf(ca, csr.public_key(), sans)});
      return net::Response::bytes(200, std::string(body.begin(), body.end()), "application/octet-stream");
    });
    server_->start();
    url_ = std::string(cfg.tls ? "https" : "http") + "://localhost:" + std::to_string(server_->port()) + "/";
  }
  const std::string& url() const { return url_; }

 private:
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
};

IdentityOptions options_for(const std::string& url, std::vector<Certificate> pinned = {}) {
  IdentityOptions o;
  o.workload = workload();
  o.steward_url = url;
  o.http.max_retries = 0;
  o.steward_cas = std::move(pinned);
  return o;
}

TEST(KeepIdentityCheck, HonestStewardGivesTheAskedNames) {
  TestCa ca("Keep CA");
  FakeSteward steward(ca, [](SubjectAltNames&) {});
  auto provider = platform::make_no_tee_provider(platform::Platform::Kvm);
  const Identity id = establish_identity(*provider, options_for(steward.url(), {ca.cert}));
  ASSERT_EQ(id.chain.size(), 2u);
  EXPECT_EQ(identity::WorkloadIdentity::from_uris(id.chain.front().subject_alt_names().uris).slug, workload().slug);
  // Not pinned: the returned root is the anchor, and the check still runs.
  EXPECT_NO_THROW(establish_identity(*provider, options_for(steward.url())));
}

TEST(KeepIdentityCheck, NamesTheKeepDidNotAskForAreRefused) {
  TestCa ca("Keep CA");
  auto provider = platform::make_no_tee_provider(platform::Platform::Kvm);
  const std::vector<std::pair<std::string, NameEditor>> cases = {
      {"extra DNS name", [](SubjectAltNames& s) { s.dns.push_back("steward.example.com"); }},
      {"extra URI", [](SubjectAltNames& s) { s.uris.push_back("https://evil.example/"); }},
      {"other slug",
       [](SubjectAltNames& s) {
         for (auto& u : s.uris)
           if (u.starts_with("slug://")) u = "slug://registry.example/mallory/web:1.0.0";
       }},
      {"slug dropped",
       [](SubjectAltNames& s) { std::erase_if(s.uris, [](const std::string& u) { return u.starts_with("slug://"); }); }},
      {"IP address", [](SubjectAltNames& s) { s.ips.push_back("127.0.0.1"); }},
  };
  for (const auto& [what, edit] : cases) {
    FakeSteward steward(ca, edit);
    EXPECT_EQ(error_code([&] { establish_identity(*provider, options_for(steward.url(), {ca.cert})); }),
              "identity.unexpected_names")
        << what;
  }
}

TEST(KeepIdentityCheck, ACertificateFromAnotherCaIsRefusedWhenTheKeepCaIsPinned) {
  TestCa real("Keep CA"), rogue("Rogue CA");
  FakeSteward steward(rogue, [](SubjectAltNames&) {});
  auto provider = platform::make_no_tee_provider(platform::Platform::Kvm);
  EXPECT_EQ(error_code([&] { establish_identity(*provider, options_for(steward.url(), {real.cert})); }),
            "identity.untrusted_issuer");
}

TEST(KeepIdentityCheck, WrongKeyOrCaLeafIsRefused) {
  TestCa ca("Keep CA");
  const auto key = PrivateKey::generate(KeyType::EcP256);
  const auto other = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = workload().to_uris();
  const std::vector<Certificate> for_other = {issue_leaf(ca, other.public_key(), sans), ca.cert};
  EXPECT_EQ(error_code([&] { check_issued_chain(for_other, key, workload(), {}, std::chrono::system_clock::now()); }),
            "identity.steward_bad_response");
  const std::vector<Certificate> leaf_only = {issue_leaf(ca, key.public_key(), sans)};
  EXPECT_EQ(error_code([&] { check_issued_chain(leaf_only, key, workload(), {}, std::chrono::system_clock::now()); }),
            "identity.steward_bad_response");
  const std::vector<Certificate> good = {issue_leaf(ca, key.public_key(), sans), ca.cert};
  EXPECT_NO_THROW(check_issued_chain(good, key, workload(), {}, std::chrono::system_clock::now()));
  // Expired by the time it is checked.
  EXPECT_EQ(error_code([&] { check_issued_chain(good, key, workload(), {}, std::chrono::system_clock::now() + 48h); }),
            "identity.untrusted_issuer");
}

// The attack: the operator trusts the keep CA for steward's HTTPS (or the two CAs are one), and
// a keep certified with DNS:localhost answers at steward's address. Its chain verifies; the keep
// still refuses it because it is a keep certificate.
TEST(KeepIdentityCheck, AKeepCertificatePosingAsStewardIsRefused) {
  TestCa ca("Keep CA");
  const auto keep_key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.dns = {"localhost"};
  sans.uris = {"urn:enarx:keep:snp:" + std::string(64, 'd')};
  net::TlsServerConfig tls;
  tls.cert_chain_pem = issue_leaf(ca, keep_key.public_key(), sans).to_pem() + ca.cert.to_pem();
  tls.key_pem = keep_key.to_pem_pkcs8();
  FakeSteward impostor(ca, [](SubjectAltNames&) {}, tls);
  auto provider = platform::make_no_tee_provider(platform::Platform::Kvm);
  IdentityOptions o = options_for(impostor.url(), {ca.cert});
  o.http.tls.ca_pem = ca.cert.to_pem();
  EXPECT_EQ(error_code([&] { establish_identity(*provider, o); }), "identity.steward_certificate_refused");

  // The same server with an ordinary server certificate from that CA is accepted: the refusal is
  // about the keep markers, not about the CA.
  net::TlsServerConfig plain_tls = tls;
  const auto server_key = PrivateKey::generate(KeyType::EcP256);
  plain_tls.cert_chain_pem = issue_leaf(ca, server_key.public_key(), sans, /*keep_marker=*/false).to_pem();
  plain_tls.key_pem = server_key.to_pem_pkcs8();
  FakeSteward server(ca, [](SubjectAltNames&) {}, plain_tls);
  o.steward_url = server.url();
  EXPECT_NO_THROW(establish_identity(*provider, o));
}

}  // namespace
}  // namespace enarx::client
