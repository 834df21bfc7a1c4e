#include "steward/profile.h"

#include <openssl/sha.h>

#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/openssl.h"

namespace enarx::steward {
namespace {

Bytes key_identifier(ByteView spki_der) {
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
  der::Reader top(spki_der);
  der::Reader spki = top.read_sequence();
  spki.read(der::kSequence);
  const ByteView bits = spki.read(der::kBitString).value;
  require(!bits.empty(), ErrorKind::kInternal, "steward.internal", "empty subjectPublicKey");
  Bytes out(SHA_DIGEST_LENGTH);
  SHA1(bits.data() + 1, bits.size() - 1, out.data());
  return out;
}

void add_time(der::Writer& w, TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  const int year = tm.tm_year + 1900;
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  if (year >= 1950 && year < 2050) {
    std::strftime(buf, sizeof buf, "%y%m%d%H%M%SZ", &tm);
    w.add(der::kUtcTime, as_bytes(buf));
  } else {
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
    w.add(der::kGeneralizedTime, as_bytes(buf));
  }
}

void add_extension(der::Writer& list, std::string_view oid, bool critical, ByteView value) {
  der::Writer e;
  e.add_oid(oid);
  if (critical) e.add_boolean(true);
  e.add_octet_string(value);
  list.add_sequence(e);
}

}  // namespace

LeafSigner::LeafSigner(const PrivateKey& ca_key, const Certificate& ca_cert) : key_(ca_key) {
  digest_ = key_.default_digest();
  sig_oid_ = digest_ == DigestAlgorithm::Sha384 ? "1.2.840.10045.4.3.3" : "1.2.840.10045.4.3.2";
  require(key_.type() == KeyType::EcP256 || key_.type() == KeyType::EcP384, ErrorKind::kInvalidInput, "steward.ca.key_type",
          "the CA key must be EC P-256 or P-384");
  const X509_NAME* name = X509_get_subject_name(ca_cert.get());
  issuer_der_ = ossl::to_der(i2d_X509_NAME, name, "steward.internal");
  if (auto ski = ca_cert.extension("2.5.29.14")) {
    der::Reader r(ski->value);
    const ByteView id = r.read_octet_string();
    authority_key_id_.assign(id.begin(), id.end());
  } else {
    authority_key_id_ = key_identifier(ca_cert.spki_der());
  }
}

Bytes LeafSigner::sign(const LeafProfile& p) const {
  der::Writer alg;
  alg.add_oid(sig_oid_);

  der::Writer exts;
  {
    const std::uint8_t ku[] = {0x03, 0x02, 0x07, 0x80};  // digitalSignature
    add_extension(exts, "2.5.29.15", true, ku);
    der::Writer eku;
    eku.add_oid("1.3.6.1.5.5.7.3.1").add_oid("1.3.6.1.5.5.7.3.2");
    add_extension(exts, "2.5.29.37", false, eku.wrap(der::kSequence));
    const std::uint8_t bc[] = {0x30, 0x00};  // CA:FALSE
    add_extension(exts, "2.5.29.19", false, bc);
    der::Writer ski;
    ski.add_octet_string(key_identifier(p.spki_der));
    add_extension(exts, "2.5.29.14", false, ski.bytes());
    der::Writer aki;
    aki.add(der::context(0, false), authority_key_id_);
    add_extension(exts, "2.5.29.35", false, aki.wrap(der::kSequence));
    if (!p.sans.uris.empty() || !p.sans.dns.empty())
      add_extension(exts, "2.5.29.17", p.sans_critical, encode_subject_alt_names(p.sans));
    for (const auto& e : p.extra) add_extension(exts, e.oid, e.critical, e.value);
  }

  der::Writer tbs;
  {
    der::Writer version;
    version.add_integer(2);
    tbs.add(der::context(0, true), version.bytes());
    tbs.add_unsigned_integer(p.serial);
    tbs.add_sequence(alg);
    tbs.add_raw(issuer_der_);
    der::Writer validity;
    add_time(validity, p.not_before);
    add_time(validity, p.not_after);
    tbs.add_sequence(validity);
    tbs.add_raw(p.subject_der);
    tbs.add_raw(p.spki_der);
    tbs.add(der::context(3, true), exts.wrap(der::kSequence));
  }
  const Bytes tbs_der = tbs.wrap(der::kSequence);
  const Bytes sig = key_.sign(digest_, tbs_der);
  Bytes bits;
  bits.reserve(sig.size() + 1);
  bits.push_back(0);  // no unused bits
  bits.insert(bits.end(), sig.begin(), sig.end());

  der::Writer cert;
  cert.add_raw(tbs_der);
  cert.add_sequence(alg);
  cert.add(der::kBitString, bits);
  return cert.wrap(der::kSequence);
}

}  // namespace enarx::steward
