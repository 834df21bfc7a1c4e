// Steward's CA key in a PKCS#11 token (label "hsm"): a throw-away SoftHSM2 token, an EC P-384
// key generated ON the token (p11tool), loaded by pkcs11: URI through OpenSSL's pkcs11
// provider. Covers: issuing through the normal steward path and verifying the chain, that the
// private key cannot be exported from the handle, wrong PIN / missing object / ambiguous URI /
// misconfiguration as clean errors with stable codes, and CRL + OCSP signing with the token key.
// Skips (with the reason) only when softhsm2 or pkcs11-provider is not installed; CI installs
// both through deps/install.sh.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <thread>

#include "core/key_store.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;
namespace fs = std::filesystem;

constexpr const char* kPin = "314159";
constexpr const char* kSoPin = "27182818";
constexpr const char* kOtherPin = "161803";
constexpr const char* kWrongPin = "wrong-pin-4711";  // distinctive: must never appear in errors

constexpr const char* kCaKeyUri = "pkcs11:token=steward-ca;object=ca-key;type=private";
constexpr const char* kOtherKeyUri = "pkcs11:token=steward-other;object=other-key;type=private";

// One SoftHSM2 configuration for the whole process: the module reads SOFTHSM2_CONF once, when
// the provider initialises it. Two tokens: "steward-ca" (the CA key, plus a spare P-256 key for
// the ambiguity test) and "steward-other", which no test logs into successfully before the
// wrong-PIN checks (a PKCS#11 login lasts for the process, so a later wrong PIN would not be
// noticed on a token that is already logged in).
struct SoftHsm {
  std::string skip_reason;
  std::unique_ptr<TempDir> dir;
  fs::path module;
  fs::path pin_file, other_pin_file, wrong_pin_file, chain_file;
  Certificate ca_cert;

  KeyUriOptions options(const fs::path& pin) const {
    KeyUriOptions o;
    o.pkcs11_module = module;
    o.pin_file = pin;
    return o;
  }
  KeyUriOptions ca_options() const { return options(pin_file); }
};

void write_pin(const fs::path& p, const std::string& pin) { write_file_atomic(p, pin + "\n", 0600); }

std::string setup(SoftHsm& h) {
#if defined(ENARX_SANITIZED)
  // See Pkcs11SanitizedTest below: the release build runs these tests.
  return "AddressSanitizer build: pkcs11-provider dlopens the PKCS#11 module with RTLD_DEEPBIND, "
         "which the sanitizer runtime refuses (google/sanitizers#611); the release build runs "
         "the HSM tests";
#endif
  for (const char* m : {"/usr/lib/softhsm/libsofthsm2.so",
                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"}) {
    if (fs::exists(m)) {
      h.module = m;
      break;
    }
  }
  if (h.module.empty()) return "softhsm2 is not installed (libsofthsm2.so); deps/install.sh installs it";
  if (!fs::exists(pkcs11_provider_path({})))
    return "pkcs11-provider is not installed (" + pkcs11_provider_path({}).string() +
           "); deps/install.sh installs it from bookworm-backports";
  if (run("command -v softhsm2-util && command -v p11tool") != 0)
    return "softhsm2-util or p11tool (gnutls-bin) is not on PATH";
  if (const char* env = std::getenv("PKCS11_PROVIDER_MODULE"); env && *env)
    return "PKCS11_PROVIDER_MODULE is set in the environment; these tests name SoftHSM2 themselves";

  h.dir = std::make_unique<TempDir>("steward-hsm");
  const fs::path tokens = h.dir->path() / "tokens";
  fs::create_directories(tokens);
  const fs::path conf = h.dir->path() / "softhsm2.conf";
  write_file_atomic(conf, "directories.tokendir = " + tokens.string() +
                              "\nobjectstore.backend = file\nlog.level = ERROR\n", 0600);
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);

  std::string out;
  const std::string p11 = "p11tool --provider " + h.module.string() + " --login ";
  const std::vector<std::string> steps = {
      std::string("softhsm2-util --init-token --free --label steward-ca --pin ") + kPin +
          " --so-pin " + kSoPin,
      std::string("softhsm2-util --init-token --free --label steward-other --pin ") + kOtherPin +
          " --so-pin " + kSoPin,
      // Generated on the token: CKA_SENSITIVE, CKA_NEVER_EXTRACTABLE (p11tool's defaults).
      std::string("GNUTLS_PIN=") + kPin + " " + p11 +
          "--generate-privkey=ECDSA --curve=secp384r1 --label ca-key 'pkcs11:token=steward-ca'",
      std::string("GNUTLS_PIN=") + kPin + " " + p11 +
          "--generate-privkey=ECDSA --curve=secp256r1 --label spare-key 'pkcs11:token=steward-ca'",
      std::string("GNUTLS_PIN=") + kOtherPin + " " + p11 +
          "--generate-privkey=ECDSA --curve=secp384r1 --label other-key "
          "'pkcs11:token=steward-other'",
  };
  for (const auto& step : steps) {
    if (run(step, &out) != 0) throw std::runtime_error("SoftHSM2 setup failed: " + step + "\n" + out);
  }
  h.pin_file = h.dir->path() / "pin";
  h.other_pin_file = h.dir->path() / "other-pin";
  h.wrong_pin_file = h.dir->path() / "wrong-pin";
  write_pin(h.pin_file, kPin);
  write_pin(h.other_pin_file, kOtherPin);
  write_pin(h.wrong_pin_file, kWrongPin);

  // The CA certificate, self-signed by the token key through the provider.
  const auto key = PrivateKey::from_uri(kCaKeyUri, h.ca_options());
  const auto now = system_clock()->now();
  h.ca_cert = CertificateBuilder()
                  .subject({{"CN", "HSM Test Steward CA"}})
                  .public_key(key.public_key())
                  .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
                  .ca(true, 0)
                  .key_usage({"keyCertSign", "cRLSign"}, true)
                  .subject_key_identifier(true)
                  .sign(key);
  h.chain_file = h.dir->path() / "ca.crt";
  write_file_atomic(h.chain_file, h.ca_cert.to_pem(), 0644);
  return "";
}

SoftHsm& hsm() {
  static SoftHsm h = [] {
    SoftHsm s;
    s.skip_reason = setup(s);
    return s;
  }();
  return h;
}

template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no enarx::Error thrown";
  return Error(ErrorKind::kInternal, "none", "none");
}

class HsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!hsm().skip_reason.empty()) GTEST_SKIP() << hsm().skip_reason;
  }
};

TEST_F(HsmTest, LoadsTokenKeyByUri) {
  const auto key = PrivateKey::from_uri(kCaKeyUri, hsm().ca_options());
  EXPECT_TRUE(key.in_token());
  EXPECT_EQ(key.type(), KeyType::EcP384);
  EXPECT_EQ(key.public_key(), hsm().ca_cert.public_key());
  // Signing runs in the token; the signature verifies with the public key.
  const Bytes msg = {1, 2, 3};
  EXPECT_TRUE(key.public_key().verify(DigestAlgorithm::Sha384, msg, key.sign(DigestAlgorithm::Sha384, msg)));
}

TEST_F(HsmTest, IssuesThroughStewardAndChainVerifies) {
  auto ca = CertificateAuthority::from_uri(kCaKeyUri, hsm().chain_file, hsm().ca_options());
  EXPECT_TRUE(ca.key().in_token());
  auto clock = std::make_shared<FixedClock>(system_clock()->now());
  Steward steward(std::move(ca), insecure_policy(), clock);
  steward.register_verifier(make_kvm_verifier());

  const auto keep_key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward.handle(kPkcs10, kvm_csr(keep_key));
  ASSERT_EQ(r.status, 200) << body_text(r);
  const auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], hsm().ca_cert);
  const auto& leaf = chain[1];
  EXPECT_EQ(leaf.public_key(), keep_key.public_key());
  EXPECT_TRUE(leaf.signed_by(hsm().ca_cert.public_key()));

  std::vector<Certificate> anchors{hsm().ca_cert};
  ChainVerifyOptions opt;
  opt.at = clock->now();
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));

  // And with an independent verifier: the openssl command line.
  const fs::path leaf_pem = hsm().dir->path() / "leaf.pem";
  write_file_atomic(leaf_pem, leaf.to_pem());
  std::string out;
  EXPECT_EQ(run("openssl verify -CAfile " + hsm().chain_file.string() + " " + leaf_pem.string(), &out), 0)
      << out;
}

TEST_F(HsmTest, PrivateKeyCannotBeExported) {
  const auto key = PrivateKey::from_uri(kCaKeyUri, hsm().ca_options());
  // Our own API refuses, cleanly.
  const auto e = error_of([&] { (void)key.to_pem_pkcs8(); });
  EXPECT_EQ(e.code(), "crypto.key_not_exportable");
  EXPECT_EQ(e.kind(), ErrorKind::kPermissionDenied);

  // And OpenSSL itself cannot get at the material through the handle, by any route.
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 0);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 0);
  EXPECT_EQ(BIO_pending(bio.get()), 0);
  BIGNUM* priv = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &priv), 0);
  EXPECT_EQ(priv, nullptr);
  BN_free(priv);
  unsigned char* der = nullptr;
  EXPECT_LE(i2d_PrivateKey(key.get(), &der), 0);
  OPENSSL_free(der);
  ERR_clear_error();

  // The token says the key is sensitive and was never extractable.
  std::string out;
  ASSERT_EQ(run(std::string("GNUTLS_PIN=") + kPin + " p11tool --provider " + hsm().module.string() +
                    " --login --list-all-privkeys 'pkcs11:token=steward-ca;object=ca-key'",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("CKA_SENSITIVE"), std::string::npos) << out;
  EXPECT_NE(out.find("CKA_NEVER_EXTRACTABLE"), std::string::npos) << out;
}

// All wrong-PIN checks in one test, on the token nobody logs into before (see SoftHsm).
TEST_F(HsmTest, WrongPinIsCleanUnauthenticatedError) {
  auto e = error_of([&] { PrivateKey::from_uri(kOtherKeyUri, hsm().options(hsm().wrong_pin_file)); });
  EXPECT_EQ(e.code(), "crypto.pkcs11.login_failed");
  EXPECT_EQ(e.kind(), ErrorKind::kUnauthenticated);
  EXPECT_EQ(std::string(e.what()).find(kWrongPin), std::string::npos) << e.what();

  // The same through the URI's pin-value: the message shows the URI redacted.
  KeyUriOptions no_pin_file;
  no_pin_file.pkcs11_module = hsm().module;
  e = error_of([&] {
    PrivateKey::from_uri(std::string(kOtherKeyUri) + "?pin-value=" + kWrongPin, no_pin_file);
  });
  EXPECT_EQ(e.code(), "crypto.pkcs11.login_failed");
  EXPECT_EQ(std::string(e.what()).find(kWrongPin), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("pin-value=***"), std::string::npos) << e.what();

  // Through CertificateAuthority::from_uri the code and kind are kept.
  e = error_of([&] {
    CertificateAuthority::from_uri(kOtherKeyUri, hsm().chain_file, hsm().options(hsm().wrong_pin_file));
  });
  EXPECT_EQ(e.code(), "crypto.pkcs11.login_failed");
  EXPECT_EQ(e.kind(), ErrorKind::kUnauthenticated);

  // The right PIN then works: the failures above were the PIN, not the key.
  const auto key = PrivateKey::from_uri(kOtherKeyUri, hsm().options(hsm().other_pin_file));
  EXPECT_EQ(key.type(), KeyType::EcP384);
}

TEST_F(HsmTest, MissingObjectOrTokenIsNotFound) {
  auto e = error_of([&] {
    PrivateKey::from_uri("pkcs11:token=steward-ca;object=no-such-key;type=private", hsm().ca_options());
  });
  EXPECT_EQ(e.code(), "crypto.pkcs11.not_found");
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  e = error_of([&] {
    PrivateKey::from_uri("pkcs11:token=no-such-token;object=ca-key;type=private", hsm().ca_options());
  });
  EXPECT_EQ(e.code(), "crypto.pkcs11.not_found");
  e = error_of([&] {
    CertificateAuthority::from_uri("pkcs11:token=steward-ca;object=no-such-key", hsm().chain_file,
                                   hsm().ca_options());
  });
  EXPECT_EQ(e.code(), "crypto.pkcs11.not_found");
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
}

TEST_F(HsmTest, UriMatchingTwoKeysIsAmbiguous) {
  const auto e = error_of([&] { PrivateKey::from_uri("pkcs11:token=steward-ca", hsm().ca_options()); });
  EXPECT_EQ(e.code(), "crypto.pkcs11.ambiguous");
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
}

TEST_F(HsmTest, PinSourceInUri) {
  KeyUriOptions o;
  o.pkcs11_module = hsm().module;
  const auto key = PrivateKey::from_uri(
      std::string(kCaKeyUri) + "?pin-source=file:" + hsm().pin_file.string(), o);
  EXPECT_EQ(key.public_key(), hsm().ca_cert.public_key());
  // The URI's module-path (RFC 7512) names the module as well as the option does.
  KeyUriOptions by_uri;
  by_uri.pin_file = hsm().pin_file;
  const auto key2 =
      PrivateKey::from_uri(std::string(kCaKeyUri) + "?module-path=" + hsm().module.string(), by_uri);
  EXPECT_EQ(key2.public_key(), hsm().ca_cert.public_key());
}

TEST_F(HsmTest, ConfigurationErrorsAreClean) {
  auto expect = [](std::string_view code, ErrorKind kind, auto&& f) {
    const auto e = error_of(f);
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.kind(), kind) << e.code();
  };
  KeyUriOptions no_pin;
  no_pin.pkcs11_module = hsm().module;
  expect("crypto.pkcs11.no_pin", ErrorKind::kInvalidInput,
         [&] { PrivateKey::from_uri(kCaKeyUri, no_pin); });
  expect("crypto.pkcs11.pin_conflict", ErrorKind::kInvalidInput, [&] {
    PrivateKey::from_uri(std::string(kCaKeyUri) + "?pin-value=1", hsm().ca_options());
  });
  expect("crypto.pkcs11.uri", ErrorKind::kInvalidInput,
         [&] { PrivateKey::from_uri("/etc/steward/ca.key", hsm().ca_options()); });
  expect("crypto.pkcs11.uri", ErrorKind::kInvalidInput,
         [&] { PrivateKey::from_uri("pkcs11:token=a\nb", hsm().ca_options()); });
  expect("crypto.pkcs11.module_conflict", ErrorKind::kInvalidInput, [&] {
    PrivateKey::from_uri(std::string(kCaKeyUri) + "?module-path=/usr/lib/other.so", hsm().ca_options());
  });
  expect("crypto.pkcs11.pin_file", ErrorKind::kInvalidInput, [&] {
    PrivateKey::from_uri(kCaKeyUri, hsm().options(hsm().dir->path() / "no-such-pin"));
  });
  const fs::path open_pin = hsm().dir->path() / "open-pin";
  write_file_atomic(open_pin, std::string(kPin) + "\n", 0644);
  expect("crypto.pkcs11.pin_file", ErrorKind::kInvalidInput,
         [&] { PrivateKey::from_uri(kCaKeyUri, hsm().options(open_pin)); });
  // A PKCS#11 module or a provider that cannot be loaded fails when the provider starts.
  auto bad_module = hsm().ca_options();
  bad_module.pkcs11_module = "/nonexistent/libpkcs11.so";
  expect("crypto.pkcs11.unavailable", ErrorKind::kUnavailable,
         [&] { PrivateKey::from_uri(kCaKeyUri, bad_module); });
  auto bad_provider = hsm().ca_options();
  bad_provider.provider_module = "/nonexistent/pkcs11.so";
  expect("crypto.pkcs11.unavailable", ErrorKind::kUnavailable,
         [&] { PrivateKey::from_uri(kCaKeyUri, bad_provider); });
  expect("crypto.pkcs11.uri", ErrorKind::kInvalidInput, [&] {
    auto o = hsm().ca_options();
    o.pkcs11_module = "/usr/lib/$x\"/evil.so";
    PrivateKey::from_uri(kCaKeyUri, o);
  });
}

TEST_F(HsmTest, CaRefusesAChainOfAnotherKey) {
  const auto other = make_ca(system_clock()->now());
  const fs::path chain = hsm().dir->path() / "other-ca.crt";
  write_file_atomic(chain, other.certificate().to_pem());
  const auto e = error_of([&] { CertificateAuthority::from_uri(kCaKeyUri, chain, hsm().ca_options()); });
  EXPECT_EQ(e.code(), "steward.ca.key_mismatch");
}

// CRLs (and OCSP responses) are signed by OpenSSL's own functions with the CA's EVP_PKEY; this
// proves both work with the token key, for the revocation code that builds on them.
TEST_F(HsmTest, SignsCrlAndOcspResponseThroughToken) {
  const auto ca = CertificateAuthority::from_uri(kCaKeyUri, hsm().chain_file, hsm().ca_options());
  const auto now = system_clock()->now();
  const auto leaf_key = PrivateKey::generate(KeyType::EcP256);
  const auto leaf = CertificateBuilder()
                        .subject({{"CN", "keep"}})
                        .public_key(leaf_key.public_key())
                        .validity(now - std::chrono::minutes(5), now + std::chrono::hours(1))
                        .ca(false)
                        .sign(ca.key(), &ca.certificate());

  auto make_crl = [&](bool revoke_leaf) {
    ossl::X509CrlPtr crl(X509_CRL_new());
    EXPECT_EQ(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), 1);
    EXPECT_EQ(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.certificate().get())), 1);
    ossl::Asn1TimePtr last(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now - std::chrono::minutes(1))));
    ossl::Asn1TimePtr next(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now + std::chrono::hours(1))));
    EXPECT_EQ(X509_CRL_set1_lastUpdate(crl.get(), last.get()), 1);
    EXPECT_EQ(X509_CRL_set1_nextUpdate(crl.get(), next.get()), 1);
    if (revoke_leaf) {
      X509_REVOKED* rev = X509_REVOKED_new();
      X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(leaf.get()));
      X509_REVOKED_set_revocationDate(rev, last.get());
      X509_CRL_add0_revoked(crl.get(), rev);
    }
    X509_CRL_sort(crl.get());
    EXPECT_GT(X509_CRL_sign(crl.get(), ca.key().get(), EVP_sha384()), 0) << ossl::drain_errors();
    return Crl(std::move(crl));
  };

  const Crl clean = make_crl(false);
  EXPECT_TRUE(clean.signed_by(ca.certificate().public_key()));
  ChainVerifyOptions opt;
  opt.at = now;
  opt.require_crls = true;
  opt.crls = {clean};
  std::vector<Certificate> anchors{ca.certificate()};
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));

  const Crl revoking = make_crl(true);
  EXPECT_TRUE(revoking.is_revoked(leaf));
  opt.crls = {revoking};
  const auto e = error_of([&] { verify_chain(leaf, {}, anchors, opt); });
  EXPECT_EQ(e.code(), "x509.chain.revoked");

  // An OCSP response signed by the CA itself (RFC 6960 4.2.2.2: the issuer may sign).
  using BasicRespPtr = ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
  BasicRespPtr bs(OCSP_BASICRESP_new());
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), leaf.get(), ca.certificate().get());
  ASSERT_NE(id, nullptr);
  ossl::Asn1TimePtr this_update(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now)));
  ASSERT_NE(OCSP_basic_add1_status(bs.get(), id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr,
                                   this_update.get(), nullptr),
            nullptr);
  OCSP_CERTID_free(id);
  ASSERT_EQ(OCSP_basic_sign(bs.get(), ca.certificate().get(), ca.key().get(), EVP_sha384(), nullptr, 0), 1)
      << ossl::drain_errors();
  ossl::X509StorePtr store(X509_STORE_new());
  ASSERT_EQ(X509_STORE_add_cert(store.get(), ca.certificate().get()), 1);
  ossl::X509StackPtr certs(sk_X509_new_null());
  EXPECT_EQ(OCSP_basic_verify(bs.get(), certs.get(), store.get(), 0), 1) << ossl::drain_errors();
}

TEST_F(HsmTest, ConcurrentSigning) {
  const auto key = PrivateKey::from_uri(kCaKeyUri, hsm().ca_options());
  const auto pub = key.public_key();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Bytes msg = {static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i)};
        if (pub.verify(DigestAlgorithm::Sha384, msg, key.sign(DigestAlgorithm::Sha384, msg))) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 100);
}

#if defined(ENARX_SANITIZED)
// Under AddressSanitizer a token key is refused with a clean error instead of the sanitizer
// aborting the process when the provider dlopens the module (RTLD_DEEPBIND).
TEST(Pkcs11SanitizedTest, TokenKeyRefusedCleanly) {
  auto e = error_of([&] { PrivateKey::from_uri("pkcs11:token=t;object=k?pin-value=1", KeyUriOptions{}); });
  EXPECT_EQ(e.code(), "crypto.pkcs11.unavailable");
  EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
  // Configuration errors are still reported as such first.
  e = error_of([&] { PrivateKey::from_uri("pkcs11:token=t;object=k", KeyUriOptions{}); });
  EXPECT_EQ(e.code(), "crypto.pkcs11.no_pin");
}
#endif

// No token needed.
TEST(Pkcs11UriTest, RedactsPinValue) {
  EXPECT_EQ(redact_pkcs11_uri("pkcs11:token=a;object=k?pin-value=1234&module-path=/x.so"),
            "pkcs11:token=a;object=k?pin-value=***&module-path=/x.so");
  EXPECT_EQ(redact_pkcs11_uri("pkcs11:token=a;pin-value=9?pin-value=8"),
            "pkcs11:token=a;pin-value=***?pin-value=***");
  EXPECT_EQ(redact_pkcs11_uri("pkcs11:object=k?pin-source=file:/p"), "pkcs11:object=k?pin-source=file:/p");
  EXPECT_TRUE(is_pkcs11_uri("PKCS11:token=a"));
  EXPECT_FALSE(is_pkcs11_uri("/etc/steward/ca.key"));
  EXPECT_FALSE(is_pkcs11_uri("pkcs11"));
}

}  // namespace
}  // namespace enarx::steward
