#include "core/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/x509_detail.h"

namespace enarx {

using namespace x509_detail;

// ---------------- verify_chain ----------------

std::vector<Certificate> verify_chain(const Certificate& leaf,
                                      std::span<const Certificate> intermediates,
                                      std::span<const Certificate> anchors,
                                      const ChainVerifyOptions& options) {
  require(static_cast<bool>(leaf), ErrorKind::kUntrusted, "x509.chain.invalid", "no leaf certificate");
  require(!anchors.empty(), ErrorKind::kUntrusted, "x509.chain.untrusted", "no trust anchors given");

  ossl::X509StorePtr store(X509_STORE_new());
  ossl::check(store != nullptr, ErrorKind::kInternal, "x509.internal", "X509_STORE_new failed");
  for (const Certificate& a : anchors) {
    require(static_cast<bool>(a), ErrorKind::kUntrusted, "x509.chain.invalid", "empty trust anchor");
    ossl::check(X509_STORE_add_cert(store.get(), a.get()) == 1, ErrorKind::kInternal, "x509.internal",
                "cannot add trust anchor");
  }
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  ossl::check(untrusted != nullptr, ErrorKind::kInternal, "x509.internal", "sk_X509_new_null failed");
  for (const Certificate& c : intermediates) {
    require(static_cast<bool>(c), ErrorKind::kUntrusted, "x509.chain.invalid", "empty intermediate certificate");
    ossl::check(X509_add_cert(untrusted.get(), c.get(), X509_ADD_FLAG_UP_REF) == 1, ErrorKind::kInternal,
                "x509.internal", "cannot add intermediate");
  }
  ossl::CrlStackPtr crls(sk_X509_CRL_new_null());
  ossl::check(crls != nullptr, ErrorKind::kInternal, "x509.internal", "sk_X509_CRL_new_null failed");

  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  ossl::check(ctx && X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) == 1, ErrorKind::kInternal,
              "x509.internal", "X509_STORE_CTX_init failed");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, to_time_t(options.at));
  X509_VERIFY_PARAM_set_depth(param, options.max_depth);
  if (options.partial_chain) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (options.require_crls) {
    for (const Crl& crl : options.crls) {
      ossl::check(X509_CRL_up_ref(crl.get()) == 1, ErrorKind::kInternal, "x509.internal", "X509_CRL_up_ref failed");
      if (!sk_X509_CRL_push(crls.get(), crl.get())) {
        X509_CRL_free(crl.get());
        ossl::throw_error(ErrorKind::kInternal, "x509.internal", "sk_X509_CRL_push failed");
      }
    }
    X509_STORE_CTX_set0_crls(ctx.get(), crls.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }

  const int rc = X509_verify_cert(ctx.get());
  if (rc != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    std::string msg = std::string(X509_verify_cert_error_string(err)) + " (depth " +
                      std::to_string(depth);
    if (bad) msg += ", " + name_to_string(X509_get_subject_name(bad));
    msg += ")";
    ERR_clear_error();
    throw Error(ErrorKind::kUntrusted, verify_error_code(err), msg);
  }

  std::vector<Certificate> path;
  {
    ossl::X509StackPtr chain(X509_STORE_CTX_get1_chain(ctx.get()));
    ossl::check(chain != nullptr, ErrorKind::kInternal, "x509.internal", "no chain after verification");
    for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
      X509* c = sk_X509_value(chain.get(), i);
      X509_up_ref(c);
      path.emplace_back(ossl::X509Ptr(c));
    }
  }
  if (!options.require_crls && !options.crls.empty()) apply_crls(path, options.crls, options.at);
  check_eku(path.front(), options.required_eku);
  return path;
}

}  // namespace enarx
