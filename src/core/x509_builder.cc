#include "core/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/signing.h"
#include "core/x509_detail.h"

namespace enarx {

using namespace x509_detail;

// ---------------- CertificateBuilder ----------------

CertificateBuilder& CertificateBuilder::subject(std::vector<std::pair<std::string, std::string>> rdns) {
  rdns_ = std::move(rdns);
  subject_der_.reset();
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_der(ByteView x509_name_der) {
  subject_der_ = Bytes(x509_name_der.begin(), x509_name_der.end());
  rdns_.clear();
  return *this;
}

CertificateBuilder& CertificateBuilder::public_key(const PublicKey& key) {
  key_ = key;
  return *this;
}

CertificateBuilder& CertificateBuilder::serial(ByteView big_endian) {
  serial_ = Bytes(big_endian.begin(), big_endian.end());
  return *this;
}

CertificateBuilder& CertificateBuilder::validity(TimePoint not_before, TimePoint not_after) {
  not_before_ = not_before;
  not_after_ = not_after;
  return *this;
}

CertificateBuilder& CertificateBuilder::ca(bool is_ca, std::optional<int> path_len) {
  basic_constraints_ = std::make_pair(is_ca, path_len);
  return *this;
}

CertificateBuilder& CertificateBuilder::key_usage(std::vector<std::string> usages, bool critical) {
  for (const auto& u : usages) key_usage_bit(u);  // validate early
  key_usage_ = std::move(usages);
  key_usage_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::extended_key_usage(std::vector<std::string> usages,
                                                           bool critical) {
  for (const auto& u : usages) eku_oid(u);  // validate early
  eku_ = std::move(usages);
  eku_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_alt_names(const SubjectAltNames& sans,
                                                          bool critical) {
  sans_ = sans;
  sans_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::add_extension(Extension ext) {
  der::encode_oid(ext.oid);
  extensions_.push_back(std::move(ext));
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_key_identifier(bool enabled) {
  ski_ = enabled;
  return *this;
}

ossl::X509NamePtr CertificateBuilder::subject_name() const {
  if (subject_der_) {
    const unsigned char* p = subject_der_->data();
    ossl::X509NamePtr n(d2i_X509_NAME(nullptr, &p, static_cast<long>(subject_der_->size())));
    if (!n || p != subject_der_->data() + subject_der_->size()) {
      ossl::throw_error(ErrorKind::kInvalidInput, "x509.builder", "invalid DER subject name");
    }
    return n;
  }
  ossl::X509NamePtr n(X509_NAME_new());
  ossl::check(n != nullptr, ErrorKind::kInternal, "x509.internal", "X509_NAME_new failed");
  for (const auto& [field, value] : rdns_) {
    if (X509_NAME_add_entry_by_txt(n.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      ossl::throw_error(ErrorKind::kInvalidInput, "x509.builder", "invalid subject attribute " + field + "=" + value);
    }
  }
  return n;
}

CertificateBuilder& CertificateBuilder::crl_distribution_point(std::string_view uri) {
  return add_extension(crl_distribution_point_extension(uri));
}

CertificateBuilder& CertificateBuilder::ocsp_responder(std::string_view uri) {
  return add_extension(ocsp_responder_extension(uri));
}

Extension crl_distribution_point_extension(std::string_view uri) {
  // CRLDistributionPoints ::= SEQUENCE OF DistributionPoint { distributionPoint [0] (a CHOICE,
  // so explicitly tagged) fullName [0] IMPLICIT GeneralNames { uniformResourceIdentifier [6] } }
  der::Writer name;
  name.add(0x86, as_bytes(uri));
  der::Writer full_name;
  full_name.add(der::context(0, true), name.bytes());
  der::Writer point;
  point.add(der::context(0, true), full_name.bytes());
  der::Writer points;
  points.add(der::kSequence, point.bytes());
  return Extension{"2.5.29.31", false, points.wrap(der::kSequence)};
}

Extension ocsp_responder_extension(std::string_view uri) {
  // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod id-ad-ocsp,
  // accessLocation GeneralName uniformResourceIdentifier [6] }
  der::Writer description;
  description.add_oid("1.3.6.1.5.5.7.48.1");
  description.add(0x86, as_bytes(uri));
  der::Writer descriptions;
  descriptions.add(der::kSequence, description.bytes());
  return Extension{"1.3.6.1.5.5.7.1.1", false, descriptions.wrap(der::kSequence)};
}

Certificate CertificateBuilder::sign(const PrivateKey& issuer_key, const Certificate* issuer) const {
  require(static_cast<bool>(issuer_key), ErrorKind::kInvalidInput, "x509.builder", "no signing key");
  require(not_before_.has_value() && not_after_.has_value(), ErrorKind::kInvalidInput, "x509.builder",
          "validity must be set explicitly");
  require(!issuer || static_cast<bool>(*issuer), ErrorKind::kInvalidInput, "x509.builder", "empty issuer certificate");
  const PublicKey subject_key = key_ ? key_ : issuer ? PublicKey() : issuer_key.public_key();
  require(static_cast<bool>(subject_key), ErrorKind::kInvalidInput, "x509.builder", "no subject public key");

  ossl::X509Ptr x(X509_new());
  ossl::check(x != nullptr, ErrorKind::kInternal, "x509.internal", "X509_new failed");
  ossl::check(X509_set_version(x.get(), X509_VERSION_3) == 1, ErrorKind::kInvalidInput, "x509.builder", "set version");

  Bytes serial = serial_ ? *serial_ : random_bytes(16);
  if (!serial_) serial[0] &= 0x7f;
  ossl::BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  ossl::Asn1IntegerPtr ai(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  ossl::check(ai && X509_set_serialNumber(x.get(), ai.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set serial");

  ossl::check(ASN1_TIME_set(X509_getm_notBefore(x.get()), to_time_t(*not_before_)) != nullptr &&
                  ASN1_TIME_set(X509_getm_notAfter(x.get()), to_time_t(*not_after_)) != nullptr, ErrorKind::kInvalidInput,
              "x509.builder", "set validity");

  auto name = subject_name();
  ossl::check(X509_set_subject_name(x.get(), name.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set subject");
  ossl::check(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer->get())
                                                   : name.get()) == 1, ErrorKind::kInvalidInput,
              "x509.builder", "set issuer");
  ossl::check(X509_set_pubkey(x.get(), subject_key.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set public key");

  auto add = [&](const std::string& oid, bool critical, ByteView value) {
    auto ext = make_extension(oid, critical, value);
    ossl::check(X509_add_ext(x.get(), ext.get(), -1) == 1, ErrorKind::kInvalidInput, "x509.builder",
                "cannot add extension " + oid);
  };

  if (basic_constraints_) {
    der::Writer bc;
    if (basic_constraints_->first) bc.add_boolean(true);
    if (basic_constraints_->second) bc.add_integer(*basic_constraints_->second);
    add("2.5.29.19", basic_constraints_->first, bc.wrap(der::kSequence));
  }
  if (!key_usage_.empty()) {
    unsigned bits = 0;
    int highest = 0;
    for (const auto& u : key_usage_) {
      const int b = key_usage_bit(u);
      bits |= 1u << b;
      highest = std::max(highest, b);
    }
    // BIT STRING, named bits: bit 0 is the MSB of the first byte; trailing zero bits trimmed.
    const int nbytes = highest / 8 + 1;
    Bytes content(1 + static_cast<std::size_t>(nbytes), 0);
    for (int b = 0; b <= highest; ++b) {
      if (bits & (1u << b)) content[1 + static_cast<std::size_t>(b / 8)] |= static_cast<std::uint8_t>(0x80 >> (b % 8));
    }
    content[0] = static_cast<std::uint8_t>(nbytes * 8 - 1 - highest);
    der::Writer ku;
    ku.add(der::kBitString, content);
    add("2.5.29.15", key_usage_critical_, ku.bytes());
  }
  if (!eku_.empty()) {
    der::Writer eku;
    for (const auto& u : eku_) eku.add_oid(eku_oid(u));
    add(kOidEku, eku_critical_, eku.wrap(der::kSequence));
  }
  if (sans_) add(kOidSan, sans_critical_, encode_subject_alt_names(*sans_));

  std::optional<Bytes> ski;
  if (ski_) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
    ossl::check(X509_pubkey_digest(x.get(), EVP_sha1(), md, &len) == 1, ErrorKind::kInvalidInput, "x509.builder",
                "cannot compute subject key identifier");
    ski = Bytes(md, md + len);
    der::Writer w;
    w.add_octet_string(*ski);
    add("2.5.29.14", false, w.bytes());
  }
  std::optional<Bytes> authority_kid;
  if (issuer) {
    const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(issuer->get());
    if (id) authority_kid = Bytes(ASN1_STRING_get0_data(id), ASN1_STRING_get0_data(id) + ASN1_STRING_length(id));
  } else {
    authority_kid = ski;
  }
  if (authority_kid) {
    der::Writer w;
    w.add(der::context(0, false), *authority_kid);
    add("2.5.29.35", false, w.wrap(der::kSequence));
  }
  for (const Extension& e : extensions_) add(e.oid, e.critical, e.value);

  const EVP_MD* md = signature_digest(issuer_key.type());
  if (X509_sign(x.get(), issuer_key.get(), md) <= 0) {
    ossl::throw_error(ErrorKind::kInternal, "x509.builder", "signing the certificate failed");
  }
  // Round-trip through DER so the object carries exactly the encoding others will see.
  Bytes der = ossl::to_der(i2d_X509, x.get(), "x509.encode");
  return Certificate::from_der(der);
}

}  // namespace enarx
