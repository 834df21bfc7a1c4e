// verify_peer's revocation check of the leaf: a revoked keep certificate that verified before
// (chain, claims, expectations) is refused now; a good one reports its status; one naming no
// service is reported "not checked"; one naming a service that does not answer is refused.
#include <gtest/gtest.h>

#include "attest/enarx/oids.h"
#include "core/der.h"
#include "net/http_server.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"
#include "support/error_code.h"
#include "verify/verify.h"

namespace enarx {
namespace {

using namespace std::chrono_literals;
using support::error_code;

const TimePoint kNow = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

Extension ocsp_aia(const std::string& url) {
  der::Writer location;
  location.add(0x86, as_bytes(url));
  der::Writer description;
  description.add_oid("1.3.6.1.5.5.7.48.1").add_raw(location.bytes());
  der::Writer access;
  access.add(der::kSequence, description.bytes());
  return Extension{"1.3.6.1.5.5.7.1.1", false, access.wrap(der::kSequence)};
}

struct Steward {
  PrivateKey ca_key = PrivateKey::generate(KeyType::EcP256);
  Certificate ca = CertificateBuilder()
                       .subject({{"CN", "test steward CA"}})
                       .public_key(ca_key.public_key())
                       .validity(kNow - 24h, kNow + 24h * 365)
                       .ca(true, 0)
                       .key_usage({"keyCertSign", "cRLSign"})
                       .sign(ca_key);
  std::vector<Bytes> revoked;  // serials

  Certificate keep(std::optional<std::string> ocsp_url = std::nullopt, std::optional<std::string> crl_url = std::nullopt) const {
    const nlohmann::json claims = {{"version", 1}, {"platform", "snp"}, {"insecure", false}, {"measurement", "ab12"},
                                   {"evidence", {{"platform", "snp"}, {"simulated", false}}}};
    SubjectAltNames sans;
    sans.uris = {"slug://store.example.com/alice/app:1.0.0"};
    CertificateBuilder b;
    b.subject({})
        .public_key(PrivateKey::generate(KeyType::EcP256).public_key())
        .validity(kNow - 1h, kNow + 24h)
        .ca(false)
        .key_usage({"digitalSignature"})
        .extended_key_usage({"serverAuth", "clientAuth"})
        .subject_alt_names(sans)
        .add_extension({std::string(oids::kAttestedClaims), false, der::Writer().add_utf8_string(claims.dump()).take()});
    if (ocsp_url) b.add_extension(ocsp_aia(*ocsp_url));
    if (crl_url) b.crl_distribution_point(*crl_url);
    return b.sign(ca_key, &ca);
  }
  Crl crl() const {
    std::vector<revocation::CrlEntry> entries;
    for (const auto& s : revoked) entries.push_back({s, kNow - 1h, revocation::Reason::kKeyCompromise});
    return Crl::from_der(revocation::build_crl(ca_key, ca, entries, 3, kNow - 1min, kNow + 1h));
  }
};

// GET /crl and POST /ocsp for `steward`, on plain HTTP.
class Responder {
 public:
  explicit Responder(const Steward& s) {
    net::ServerConfig sc;
    sc.allow_plaintext = true;
    sc.access_log = false;
    server_ = std::make_unique<net::HttpServer>(sc);
    server_->get("/crl", [&s](net::Request&) {
      return net::Response::bytes(200, std::string(as_string(s.crl().to_der())), "application/pkix-crl");
    });
    server_->post("/ocsp", [&s](net::Request& r) {
      const auto lookup = [&s](ByteView serial) {
        for (const auto& b : s.revoked)
          if (std::equal(b.begin(), b.end(), serial.begin(), serial.end()))
            return revocation::SerialStatus{revocation::CertState::kRevoked, kNow - 1h, revocation::Reason::kKeyCompromise};
        return revocation::SerialStatus{revocation::CertState::kGood};
      };
      const Bytes resp = revocation::ocsp_respond(as_bytes(r.body), s.ca_key, s.ca, lookup, kNow);
      return net::Response::bytes(200, std::string(as_string(resp)), "application/ocsp-response");
    });
    server_->start();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_->port()) + path; }

 private:
  std::unique_ptr<net::HttpServer> server_;
};

verify::Expectations alice() {
  verify::Expectations want;
  want.slug = "store.example.com/alice/app:1.0.0";
  return want;
}

TEST(VerifyRevocation, RevokedKeepWasAcceptedWithoutTheCheckAndIsRefusedWithIt) {
  Steward s;
  Responder responder(s);
  const Certificate keep = s.keep(responder.url("/ocsp"), responder.url("/crl"));
  s.revoked.push_back(keep.serial());
  const std::vector<Certificate> chain{keep}, cas{s.ca};
  // Everything else about it verifies: without a revocation check it is accepted.
  const auto unchecked = verify::verify_peer(chain, cas, kNow, alice(), {.enabled = false});
  EXPECT_EQ(unchecked.revocation.status, revocation::Status::kNotChecked);
  EXPECT_NE(unchecked.to_text().find("revocation:      not checked: revocation checking was disabled"), std::string::npos);
  // By default (OCSP), and from a given CRL.
  EXPECT_EQ(error_code([&] { verify::verify_peer(chain, cas, kNow, alice()); }), "revocation.revoked");
  verify::RevocationOptions local;
  local.status.crls = {s.crl()};
  EXPECT_EQ(error_code([&] { verify::verify_peer(chain, cas, kNow, alice(), local); }), "revocation.revoked");
  // A keep naming no service is revoked in the CRL given.
  const Certificate quiet = s.keep();
  s.revoked.push_back(quiet.serial());
  local.status.crls = {s.crl()};
  const std::vector<Certificate> quiet_chain{quiet};
  EXPECT_EQ(error_code([&] { verify::verify_peer(quiet_chain, cas, kNow, alice(), local); }), "revocation.revoked");
}

TEST(VerifyRevocation, GoodKeepReportsItsStatus) {
  Steward s;
  Responder responder(s);
  const std::vector<Certificate> cas{s.ca};
  const std::vector<Certificate> chain{s.keep(responder.url("/ocsp"))};
  const auto peer = verify::verify_peer(chain, cas, kNow, alice());
  EXPECT_EQ(peer.revocation.status, revocation::Status::kGood);
  EXPECT_EQ(peer.revocation.source, revocation::Source::kOcsp);
  const auto j = peer.to_json();
  EXPECT_EQ(j["revocation"]["status"], "good");
  EXPECT_EQ(j["revocation"]["source"], "ocsp");
  EXPECT_EQ(j["revocation"]["url"], responder.url("/ocsp"));
  EXPECT_NE(peer.to_text().find("revocation:      good (OCSP " + responder.url("/ocsp")), std::string::npos)
      << peer.to_text();
  // From the distribution point, through a shared checker (its cache).
  verify::RevocationOptions shared;
  shared.checker = std::make_shared<revocation::StatusChecker>();
  const std::vector<Certificate> crl_chain{s.keep(std::nullopt, responder.url("/crl"))};
  EXPECT_EQ(verify::verify_peer(crl_chain, cas, kNow, alice(), shared).revocation.source,
            revocation::Source::kCrlDistributionPoint);
  EXPECT_TRUE(verify::verify_peer(crl_chain, cas, kNow, alice(), shared).revocation.from_cache);
}

TEST(VerifyRevocation, NoServiceIsNotCheckedAndASilentServiceFailsClosed) {
  Steward s;
  const std::vector<Certificate> cas{s.ca};
  const std::vector<Certificate> quiet{s.keep()};
  const auto peer = verify::verify_peer(quiet, cas, kNow, alice());
  EXPECT_EQ(peer.revocation.status, revocation::Status::kNotChecked);
  EXPECT_EQ(peer.to_json()["revocation"]["detail"], std::string(revocation::kNoRevocationService));
  EXPECT_NE(peer.to_text().find("not checked: the certificate names no revocation service"), std::string::npos);
  // A port nothing listens on.
  const std::vector<Certificate> unreachable{s.keep(std::string("http://127.0.0.1:9/ocsp"))};
  verify::RevocationOptions quick;
  quick.status.fetch.timeout = 2s;
  EXPECT_EQ(error_code([&] { verify::verify_peer(unreachable, cas, kNow, alice(), quick); }), "revocation.unavailable");
  // A CRL given for the CA but signed by another key.
  Steward impostor;
  verify::RevocationOptions forged;
  forged.status.crls = {Crl::from_der(revocation::build_crl(impostor.ca_key, impostor.ca, {}, 1, kNow, kNow + 1h))};
  EXPECT_EQ(error_code([&] { verify::verify_peer(quiet, cas, kNow, alice(), forged); }), "revocation.crl.bad_signature");
}

}  // namespace
}  // namespace enarx
