#include "core/openssl.h"

#include <openssl/err.h>

#include <climits>

#include "core/error.h"

namespace enarx::ossl {

std::string drain_errors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

void throw_error(ErrorKind kind, std::string_view code, std::string_view message) {
  std::string msg(message);
  std::string errs = drain_errors();
  if (!errs.empty()) msg += ": " + errs;
  throw Error(kind, std::string(code), msg);
}

BioPtr memory_bio(const void* data, std::size_t size) {
  if (size > static_cast<std::size_t>(INT_MAX)) throw Error(ErrorKind::kInternal, "openssl.bio", "input too large");
  // BIO_new_mem_buf wants a non-null pointer even for empty input.
  static const char kEmpty = 0;
  BioPtr bio(BIO_new_mem_buf(size ? data : &kEmpty, static_cast<int>(size)));
  if (!bio) throw_error(ErrorKind::kInternal, "openssl.bio", "cannot create memory BIO");
  return bio;
}

std::string bio_to_string(BIO* bio) {
  char* ptr = nullptr;
  long len = BIO_get_mem_data(bio, &ptr);
  if (len <= 0 || !ptr) return {};
  return std::string(ptr, static_cast<std::size_t>(len));
}

}  // namespace enarx::ossl
