// X.509 certificates, CRLs, chain verification with explicit trust anchors and time, and
// certificate issuance.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/openssl.h"

namespace enarx {

struct Extension {
  std::string oid;  // dotted
  bool critical = false;
  Bytes value;  // the extnValue OCTET STRING's content (itself usually DER)
};

struct SubjectAltNames {
  std::vector<std::string> dns;
  std::vector<std::string> uris;
  std::vector<std::string> ips;    // textual
  std::vector<std::string> emails;
};

// PEM unless the data starts like DER: a DER CSR may embed PEM text (an SGX quote's
// certification data does), and PEM files may carry text before the header (openssl -text,
// PKCS#12 "Bag Attributes"), which OpenSSL's reader skips.
bool is_pem(ByteView data);

class Certificate {
 public:
  Certificate() = default;
  explicit Certificate(ossl::X509Ptr cert);
  static Certificate from_der(ByteView der);  // the whole input must be one certificate
  static Certificate from_pem(std::string_view pem);  // the first certificate in the text
  static Certificate from_bytes(ByteView data);  // PEM (see is_pem) or DER
  // Every certificate in a PEM bundle, in order.
  static std::vector<Certificate> chain_from_pem(std::string_view pem);
  // A DER SEQUENCE OF Certificate (Steward's PkiPath / Output.chain).
  static std::vector<Certificate> chain_from_der_sequence(ByteView der);
  static Bytes chain_to_der_sequence(std::span<const Certificate> chain);

  Bytes to_der() const;
  std::string to_pem() const;

  std::string subject() const;  // RFC 2253-ish one line, e.g. "CN=SEV-VCEK,O=AMD"
  std::string issuer() const;
  std::string subject_common_name() const;
  Bytes serial() const;  // big-endian magnitude
  std::string serial_hex() const;
  TimePoint not_before() const;
  TimePoint not_after() const;
  PublicKey public_key() const;
  Bytes spki_der() const;
  Bytes fingerprint_sha256() const;  // over the DER
  bool is_self_issued() const;  // subject == issuer
  bool is_ca() const;

  std::vector<Extension> extensions() const;
  std::optional<Extension> extension(std::string_view oid) const;
  SubjectAltNames subject_alt_names() const;
  std::optional<std::string> crl_distribution_point() const;  // first URI, if any
  // The first OCSP responder URI of the authorityInfoAccess extension, if any.
  std::optional<std::string> ocsp_responder() const;

  // Was this certificate's signature made by `issuer_key`? (any algorithm OpenSSL knows,
  // including RSA-PSS)
  bool signed_by(const PublicKey& issuer_key) const;

  X509* get() const { return cert_.get(); }
  explicit operator bool() const { return static_cast<bool>(cert_); }
  bool operator==(const Certificate& other) const;

 private:
  std::shared_ptr<X509> cert_;
};

class Crl {
 public:
  Crl() = default;
  explicit Crl(ossl::X509CrlPtr crl);
  static Crl from_der(ByteView der);
  static Crl from_pem(std::string_view pem);
  static Crl from_bytes(ByteView data);  // PEM or DER
  Bytes to_der() const;

  std::string issuer() const;
  TimePoint this_update() const;
  std::optional<TimePoint> next_update() const;
  std::optional<std::int64_t> number() const;  // cRLNumber extension
  bool is_revoked(const Certificate& cert) const;  // by serial (issuer is the caller's concern)
  std::size_t revoked_count() const;
  bool signed_by(const PublicKey& issuer_key) const;

  X509_CRL* get() const { return crl_.get(); }
  explicit operator bool() const { return static_cast<bool>(crl_); }

 private:
  std::shared_ptr<X509_CRL> crl_;
};

struct ChainVerifyOptions {
  // Time at which every certificate (and CRL) must be valid. Required: no implicit "now".
  TimePoint at;
  std::vector<Crl> crls;
  // When true, every certificate below an anchor must be covered by a CRL from its issuer
  // (OpenSSL CRL_CHECK_ALL). When false, supplied CRLs are still applied.
  bool require_crls = false;
  // Extended key usage the leaf must allow, e.g. "1.3.6.1.5.5.7.3.1" (serverAuth); empty = any.
  std::string required_eku;
  int max_depth = 8;
  // Accept a path that ends at an anchor which is not self-signed (an intermediate CA pinned as
  // trust anchor; OpenSSL X509_V_FLAG_PARTIAL_CHAIN). Off by default: anchors must be roots.
  bool partial_chain = false;
};

// Verifies `leaf` up to one of `anchors` (only these are trusted; no system store), using
// `intermediates` as untrusted helpers. Throws Error with a stable code on failure:
//   x509.chain.untrusted, x509.chain.expired, x509.chain.not_yet_valid,
//   x509.chain.bad_signature, x509.chain.revoked, x509.chain.crl_missing,
//   x509.chain.crl_expired, x509.chain.crl_bad_signature, x509.chain.purpose,
//   x509.chain.invalid (anything else; the message has OpenSSL's reason).
// Returns the verified path, leaf first, ending with the anchor.
std::vector<Certificate> verify_chain(const Certificate& leaf,
                                      std::span<const Certificate> intermediates,
                                      std::span<const Certificate> anchors,
                                      const ChainVerifyOptions& options);

// Issuing certificates (Steward's CA, self-signed keep identities, test roots).
struct CertificateRequestInfo;

// A DER X509_NAME (a Name) as Certificate::subject() prints one. Throws x509.bad_name.
std::string x509_name_to_string(ByteView name_der);

class CertificateBuilder {
 public:
  CertificateBuilder& subject(std::vector<std::pair<std::string, std::string>> rdns);
  CertificateBuilder& subject_der(ByteView x509_name_der);  // copy a subject verbatim
  CertificateBuilder& public_key(const PublicKey& key);
  CertificateBuilder& serial(ByteView big_endian);  // default: 16 random bytes, MSB cleared
  CertificateBuilder& validity(TimePoint not_before, TimePoint not_after);
  CertificateBuilder& ca(bool is_ca, std::optional<int> path_len = std::nullopt);
  // Key usage names: digitalSignature, keyEncipherment, keyAgreement, keyCertSign, cRLSign.
  CertificateBuilder& key_usage(std::vector<std::string> usages, bool critical = true);
  // EKU names: serverAuth, clientAuth, or dotted OIDs.
  CertificateBuilder& extended_key_usage(std::vector<std::string> usages, bool critical = false);
  CertificateBuilder& subject_alt_names(const SubjectAltNames& sans, bool critical = false);
  CertificateBuilder& add_extension(Extension ext);
  CertificateBuilder& subject_key_identifier(bool enabled = true);
  // A CRL distribution point (one fullName URI), as AMD's and Intel's CA certificates carry.
  CertificateBuilder& crl_distribution_point(std::string_view uri);
  // authorityInfoAccess with one id-ad-ocsp accessLocation URI.
  CertificateBuilder& ocsp_responder(std::string_view uri);

  // Signs with `issuer_key`; `issuer` null means self-signed (issuer = subject, AKI = SKI).
  Certificate sign(const PrivateKey& issuer_key, const Certificate* issuer = nullptr) const;

 private:
  ossl::X509NamePtr subject_name() const;
  std::vector<std::pair<std::string, std::string>> rdns_;
  std::optional<Bytes> subject_der_;
  PublicKey key_;
  std::optional<Bytes> serial_;
  std::optional<TimePoint> not_before_, not_after_;
  std::optional<std::pair<bool, std::optional<int>>> basic_constraints_;
  std::vector<std::string> key_usage_;
  bool key_usage_critical_ = true;
  std::vector<std::string> eku_;
  bool eku_critical_ = false;
  std::optional<SubjectAltNames> sans_;
  bool sans_critical_ = false;
  std::vector<Extension> extensions_;
  bool ski_ = true;
};

// DER encoding of a SubjectAltName GeneralNames value (for CSR extension requests).
Bytes encode_subject_alt_names(const SubjectAltNames& sans);
// RFC 5280 4.2.1.13 cRLDistributionPoints with one fullName URI, and 4.2.2.1
// authorityInfoAccess with one OCSP URI (both non-critical), for builders that encode DER directly.
Extension crl_distribution_point_extension(std::string_view uri);
Extension ocsp_responder_extension(std::string_view uri);
SubjectAltNames decode_subject_alt_names(ByteView der);

}  // namespace enarx
