// Two steward replicas behind one load balancer share one PostgreSQL index: a certificate issued
// by one is revoked through the other and both report it — in their CRLs (byte-identical, one
// cRLNumber sequence) and in their OCSP answers. A real throw-away PostgreSQL cluster; no mocks.
#include <thread>

#include "revocation/ocsp.h"
#include "steward/status_service.h"
#include "support/pg_cluster.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;

struct Replica {
  std::unique_ptr<Steward> steward;
  std::unique_ptr<StatusService> status;
};

Replica make_replica(const CertificateAuthority& ca, const std::string& url, const std::string& pg,
                     std::shared_ptr<FixedClock> clock) {
  Replica r;
  r.steward = std::make_unique<Steward>(ca, insecure_policy(), clock);
  register_default_verifiers(*r.steward);
  r.steward->set_public_url(url);
  r.steward->set_cert_index(open_pg_cert_index(pg));  // its own connections
  r.status = std::make_unique<StatusService>(r.steward->cert_index(), r.steward->ca(), clock);
  return r;
}

// OCSP status of `cert` as `replica` answers it (checked as a relying party checks it:
// signature by the CA, CertID, nonce, freshness).
revocation::OcspVerdict ocsp(Replica& replica, const Certificate& cert, TimePoint at) {
  const auto& ca = replica.steward->ca().certificate();
  const auto request = revocation::build_ocsp_request(cert, ca);
  return revocation::check_ocsp_response(replica.status->ocsp(request.der), request, cert, ca, at);
}

TEST(StewardReplicas, IssuedByOneRevokedThroughTheOtherBothReportIt) {
  ENARX_REQUIRE_PG();
  pgtest::PgCluster pg;
  const std::string db = pg.url(pg.new_database_name());
  auto clock = std::make_shared<FixedClock>(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  const auto ca = make_ca(clock->now());
  auto a = make_replica(ca, "https://steward-a.example", db, clock);
  auto b = make_replica(ca, "https://steward-b.example", db, clock);

  auto r = a.steward->handle(kPkcs10, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  ASSERT_EQ(r.status, 200) << body_text(r);
  const auto cert = pkipath(r).back();
  const std::string serial = serial_key(cert.serial());
  // B knows the certificate A issued, and who issued it.
  const auto row = b.steward->cert_index()->find(serial);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->issued_by, "https://steward-a.example");
  // ... and B's view of the shared audit trail holds A's issuance record.
  const auto trail = b.steward->cert_index()->audit_entries(0, 100);
  ASSERT_EQ(trail.size(), 1u);
  EXPECT_EQ(trail[0].record["decision"], "issued");
  EXPECT_EQ(trail[0].record["serial"], cert.serial_hex());
  EXPECT_EQ(trail[0].record["issued_by"], "https://steward-a.example");
  EXPECT_EQ(ocsp(a, cert, clock->now()).state, revocation::CertState::kGood);
  EXPECT_EQ(ocsp(b, cert, clock->now()).state, revocation::CertState::kGood);
  const auto before = a.status->crl_record();

  RevocationRecord rec;
  rec.serial = serial;
  rec.revoked_at = clock->now();
  rec.reason = revocation::Reason::kKeyCompromise;
  rec.revoked_by = "https://steward-b.example";
  ASSERT_TRUE(b.status->revoke(rec));

  // OCSP reads the shared index: both replicas say revoked at once.
  const auto via_a = ocsp(a, cert, clock->now());
  EXPECT_EQ(via_a.state, revocation::CertState::kRevoked);
  EXPECT_EQ(via_a.reason, revocation::Reason::kKeyCompromise);
  EXPECT_EQ(ocsp(b, cert, clock->now()).state, revocation::CertState::kRevoked);
  // A's CRL follows once its poll interval has passed (1 s): the same CRL B published.
  clock->set(clock->now() + std::chrono::seconds(2));
  const auto crl_a = a.status->crl_record();
  const auto crl_b = b.status->crl_record();
  EXPECT_GT(crl_a.number, before.number);
  EXPECT_EQ(crl_a.der, crl_b.der) << "one CRL for all replicas";
  EXPECT_TRUE(Crl::from_der(crl_a.der).is_revoked(cert));
  EXPECT_EQ(a.steward->cert_index()->revocation_epoch(), b.steward->cert_index()->revocation_epoch());

  // Both replicas racing to rebuild publish one CRL number, not two.
  clock->set(clock->now() + std::chrono::hours(2));  // past crl_refresh for both
  std::thread ta([&] { a.status->refresh_crl(); });
  std::thread tb([&] { b.status->refresh_crl(); });
  ta.join();
  tb.join();
  const auto after_a = a.status->crl_record();
  EXPECT_EQ(after_a.number, crl_a.number + 1);
  EXPECT_EQ(after_a.der, b.status->crl_record().der);
}

}  // namespace
}  // namespace enarx::steward
