// RAII owners for OpenSSL objects and error-queue reporting. Every OpenSSL pointer in the
// project lives in one of these; nothing calls *_free by hand.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace enarx::ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p) Free(p);
  }
};

template <typename T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

inline void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void free_crl_stack(STACK_OF(X509_CRL) * s) { sk_X509_CRL_pop_free(s, X509_CRL_free); }
inline void free_ext_stack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
inline void free_openssl_string(char* p) { OPENSSL_free(p); }

using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = Ptr<X509, X509_free>;
using X509ReqPtr = Ptr<X509_REQ, X509_REQ_free>;
using X509CrlPtr = Ptr<X509_CRL, X509_CRL_free>;
using X509StorePtr = Ptr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using X509NamePtr = Ptr<X509_NAME, X509_NAME_free>;
using X509StackPtr = Ptr<STACK_OF(X509), free_x509_stack>;
using CrlStackPtr = Ptr<STACK_OF(X509_CRL), free_crl_stack>;
using ExtStackPtr = Ptr<STACK_OF(X509_EXTENSION), free_ext_stack>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using BignumPtr = Ptr<BIGNUM, BN_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using Asn1IntegerPtr = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = Ptr<ASN1_TIME, ASN1_TIME_free>;
using Asn1OctetPtr = Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1ObjectPtr = Ptr<ASN1_OBJECT, ASN1_OBJECT_free>;
using GeneralNamesPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using SslCtxPtr = Ptr<SSL_CTX, SSL_CTX_free>;
using SslPtr = Ptr<SSL, SSL_free>;
using OsslStringPtr = Ptr<char, free_openssl_string>;

// Drains the thread's OpenSSL error queue into one readable string ("" when empty).
std::string drain_errors();

// Throws enarx::Error(kind, code, message + ": " + drained OpenSSL errors).
[[noreturn]] void throw_error(ErrorKind kind, std::string_view code, std::string_view message);

// Throws via throw_error when `ok` is false (for OpenSSL's 1 = success convention pass rc == 1).
inline void check(bool ok, ErrorKind kind, std::string_view code, std::string_view message) {
  if (!ok) throw_error(kind, code, message);
}

// A read-only memory BIO over `data` (no copy; `data` must outlive the BIO).
BioPtr memory_bio(const void* data, std::size_t size);
// The contents of a memory BIO as a string.
std::string bio_to_string(BIO* bio);

// The DER encoding of an OpenSSL object through its i2d function, e.g.
// to_der(i2d_X509, cert): one place that owns OpenSSL's output buffer. Throws via throw_error
// with `code` (kind internal: encoding a well-formed object does not fail) when encoding fails.
template <typename T>
std::vector<unsigned char> to_der(int (*i2d)(const T*, unsigned char**), const T* obj,
                                  std::string_view code = "openssl.encode") {
  unsigned char* out = nullptr;
  const int len = obj ? i2d(obj, &out) : -1;
  if (len <= 0 || !out) throw_error(ErrorKind::kInternal, code, "DER encoding failed");
  std::vector<unsigned char> der(out, out + len);
  OPENSSL_free(out);
  return der;
}

}  // namespace enarx::ossl
