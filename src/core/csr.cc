#include "core/csr.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/der.h"
#include "core/error.h"
#include "core/signing.h"

namespace enarx {

namespace {

constexpr const char* kOidExtensionRequest = "1.2.840.113549.1.9.14";
constexpr const char* kOidSan = "2.5.29.17";
constexpr int kMaxDepth = 32;

// Walks every constructed element so that the whole request is DER with definite, minimal
// lengths (OpenSSL's parser tolerates some BER). Throws der.malformed.
void check_der_structure(ByteView data, int depth) {
  if (depth > kMaxDepth) throw Error(ErrorKind::kInvalidInput, "der.malformed", "nesting too deep");
  der::Reader r(data);
  while (!r.empty()) {
    const der::Element e = r.read_any();
    if (e.tag & 0x20) check_der_structure(e.value, depth + 1);
  }
}

struct ParsedAttributes {
  std::vector<std::string> oids;
  std::vector<Extension> extensions;
};

// CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }
// CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes [0] }
// Parsed by hand because X509_REQ_get_extensions() goes through a SET-like decoder and we must
// keep duplicates and order exactly as sent.
ParsedAttributes parse_attributes(ByteView der_bytes) {
  ParsedAttributes out;
  der::Reader top(der_bytes);
  der::Reader req = top.read_sequence();
  top.expect_end();
  der::Reader info = req.read_sequence();
  info.read(der::kInteger);
  info.read(der::kSequence);  // subject
  info.read(der::kSequence);  // subjectPKInfo
  auto attrs_el = info.read_optional(der::context(0, true));
  info.expect_end();
  if (!attrs_el) return out;
  der::Reader attrs(attrs_el->value);
  while (!attrs.empty()) {
    der::Reader attr = attrs.read_sequence();
    std::string oid = attr.read_oid();
    der::Reader values = attr.read_set();
    attr.expect_end();
    if (oid == kOidExtensionRequest) {
      der::Reader exts = values.read_sequence();
      values.expect_end();
      while (!exts.empty()) {
        der::Reader ext = exts.read_sequence();
        Extension e;
        e.oid = ext.read_oid();
        if (ext.peek_tag() == der::kBoolean) {
          e.critical = ext.read_boolean();
        }
        ByteView v = ext.read_octet_string();
        e.value.assign(v.begin(), v.end());
        ext.expect_end();
        out.extensions.push_back(std::move(e));
      }
    }
    out.oids.push_back(std::move(oid));
  }
  return out;
}

ParsedAttributes parse_attributes_checked(ByteView der_bytes) {
  try {
    return parse_attributes(der_bytes);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "csr.malformed", std::string("bad CSR attributes: ") + e.what());
  }
}

}  // namespace

CsrBuilder& CsrBuilder::subject(std::vector<std::pair<std::string, std::string>> rdns) {
  rdns_ = std::move(rdns);
  return *this;
}

CsrBuilder& CsrBuilder::subject_alt_names(SubjectAltNames sans) {
  sans_ = std::move(sans);
  return *this;
}

CsrBuilder& CsrBuilder::add_extension(Extension ext) {
  der::encode_oid(ext.oid);
  extensions_.push_back(std::move(ext));
  return *this;
}

Bytes CsrBuilder::build_der(const PrivateKey& key) const {
  require(static_cast<bool>(key), ErrorKind::kInternal, "csr.build", "no signing key");
  ossl::X509ReqPtr req(X509_REQ_new());
  ossl::check(req != nullptr, ErrorKind::kInternal, "csr.build", "X509_REQ_new failed");
  ossl::check(X509_REQ_set_version(req.get(), 0) == 1, ErrorKind::kInternal, "csr.build", "set version");

  ossl::X509NamePtr name(X509_NAME_new());
  ossl::check(name != nullptr, ErrorKind::kInternal, "csr.build", "X509_NAME_new failed");
  for (const auto& [field, value] : rdns_) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      ossl::throw_error(ErrorKind::kInternal, "csr.build", "invalid subject attribute " + field + "=" + value);
    }
  }
  ossl::check(X509_REQ_set_subject_name(req.get(), name.get()) == 1, ErrorKind::kInternal, "csr.build", "set subject");
  ossl::check(X509_REQ_set_pubkey(req.get(), key.get()) == 1, ErrorKind::kInternal, "csr.build", "set public key");

  // The extensionRequest attribute is encoded by hand so the order, duplicates and critical
  // flags are exactly what the caller asked for.
  std::vector<Extension> exts;
  if (sans_) exts.push_back(Extension{kOidSan, false, encode_subject_alt_names(*sans_)});
  exts.insert(exts.end(), extensions_.begin(), extensions_.end());
  if (!exts.empty()) {
    der::Writer list;
    for (const Extension& e : exts) {
      der::Writer one;
      one.add_oid(e.oid);
      if (e.critical) one.add_boolean(true);
      one.add_octet_string(e.value);
      list.add_raw(one.wrap(der::kSequence));
    }
    const Bytes value = list.wrap(der::kSequence);
    if (X509_REQ_add1_attr_by_txt(req.get(), kOidExtensionRequest, V_ASN1_SEQUENCE, value.data(),
                                  static_cast<int>(value.size())) != 1) {
      ossl::throw_error(ErrorKind::kInternal, "csr.build", "cannot add extensionRequest attribute");
    }
  }

  const EVP_MD* md = signature_digest(key.type());
  if (X509_REQ_sign(req.get(), key.get(), md) <= 0) {
    ossl::throw_error(ErrorKind::kInternal, "csr.build", "signing the request failed");
  }
  Bytes der = ossl::to_der(i2d_X509_REQ, req.get(), "csr.build");
  return der;
}

CertificationRequest CertificationRequest::from_der(ByteView der_bytes) {
  try {
    check_der_structure(der_bytes, 0);
    der::parse_single(der_bytes);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "csr.malformed", std::string("not a single DER element: ") + e.what());
  }
  const unsigned char* p = der_bytes.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der_bytes.size())));
  if (!req) ossl::throw_error(ErrorKind::kInvalidInput, "csr.malformed", "invalid PKCS#10 request");
  if (p != der_bytes.data() + der_bytes.size()) {
    throw Error(ErrorKind::kInvalidInput, "csr.malformed", "trailing bytes after the request");
  }
  CertificationRequest out;
  out.req_ = std::shared_ptr<X509_REQ>(req.release(), X509_REQ_free);
  // Parse the attributes eagerly so a malformed extension request fails here, not later.
  parse_attributes_checked(out.to_der());
  return out;
}

CertificationRequest CertificationRequest::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  ossl::X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) ossl::throw_error(ErrorKind::kInvalidInput, "csr.malformed", "no valid PEM certificate request");
  Bytes der = ossl::to_der(i2d_X509_REQ, req.get(), "csr.malformed");
  return from_der(der);
}

Bytes CertificationRequest::to_der() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  Bytes der = ossl::to_der(i2d_X509_REQ, req_.get(), "csr.encode");
  return der;
}

std::string CertificationRequest::to_pem() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio && PEM_write_bio_X509_REQ(bio.get(), req_.get()) == 1, ErrorKind::kInternal, "csr.encode",
              "PEM encoding failed");
  return ossl::bio_to_string(bio.get());
}

long CertificationRequest::version() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  return X509_REQ_get_version(req_.get());
}

PublicKey CertificationRequest::public_key() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  ossl::PkeyPtr k(X509_REQ_get_pubkey(req_.get()));
  if (!k) ossl::throw_error(ErrorKind::kInvalidInput, "csr.public_key", "unsupported or invalid request public key");
  return PublicKey(std::move(k));
}

Bytes CertificationRequest::spki_der() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  X509_PUBKEY* pk = X509_REQ_get_X509_PUBKEY(req_.get());
  Bytes der = ossl::to_der(i2d_X509_PUBKEY, pk, "csr.encode");
  return der;
}

Bytes CertificationRequest::subject_der() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  Bytes der = ossl::to_der(i2d_X509_NAME, X509_REQ_get_subject_name(req_.get()), "csr.encode");
  return der;
}

std::string CertificationRequest::subject() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, ErrorKind::kInternal, "csr.encode", "BIO_new failed");
  X509_NAME_print_ex(bio.get(), X509_REQ_get_subject_name(req_.get()), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return ossl::bio_to_string(bio.get());
}

bool CertificationRequest::verify_self_signature() const {
  require(req_ != nullptr, ErrorKind::kInvalidInput, "csr.empty", "no request");
  ossl::PkeyPtr k(X509_REQ_get_pubkey(req_.get()));
  if (!k) {
    ERR_clear_error();
    return false;
  }
  const bool ok = X509_REQ_verify(req_.get(), k.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::vector<std::string> CertificationRequest::attribute_oids() const {
  return parse_attributes_checked(to_der()).oids;
}

std::vector<Extension> CertificationRequest::extensions() const {
  return parse_attributes_checked(to_der()).extensions;
}

SubjectAltNames CertificationRequest::subject_alt_names() const {
  for (const Extension& e : extensions()) {
    if (e.oid == kOidSan) return decode_subject_alt_names(e.value);
  }
  return {};
}

}  // namespace enarx
