#include "net/curl_library.h"

#include <dlfcn.h>

#include <string>

#include "core/error.h"

namespace enarx::net {
namespace {

template <typename Fn>
void bind(void* lib, Fn& fn, const char* name) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn) throw Error(ErrorKind::kInternal, "http.curl_unavailable", std::string("libcurl lacks ") + name);
}

}  // namespace

CurlLibrary load_curl_library(std::initializer_list<const char*> file_names) {
  void* lib = nullptr;
  std::string why;
  for (const char* name : file_names) {
    // RTLD_LOCAL: libcurl's symbols (and its dependencies') stay out of the global scope.
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    const char* e = dlerror();
    why += std::string(why.empty() ? "" : "; ") + (e ? e : name);
  }
  if (!lib) throw Error(ErrorKind::kInternal, "http.curl_unavailable", "cannot load libcurl: " + why);
  CurlLibrary c{};
  bind(lib, c.easy_init, "curl_easy_init");
  bind(lib, c.easy_cleanup, "curl_easy_cleanup");
  bind(lib, c.easy_setopt, "curl_easy_setopt");
  bind(lib, c.easy_getinfo, "curl_easy_getinfo");
  bind(lib, c.easy_perform, "curl_easy_perform");
  bind(lib, c.easy_strerror, "curl_easy_strerror");
  bind(lib, c.slist_append, "curl_slist_append");
  bind(lib, c.slist_free_all, "curl_slist_free_all");
  decltype(&::curl_global_init) global_init = nullptr;
  bind(lib, global_init, "curl_global_init");
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    throw Error(ErrorKind::kInternal, "http.curl_unavailable", "curl_global_init failed");
  return c;  // the library stays loaded for the life of the process
}

const CurlLibrary& curl_library() {
  // A function-local static retries after a throw, so a failure is reported on every use.
  // The run-time name (Debian's libcurl4 / libcurl3-gnutls both carry SONAME libcurl.so.4), then
  // the development symlink.
  static const CurlLibrary library = load_curl_library({"libcurl.so.4", "libcurl.so"});
  return library;
}

}  // namespace enarx::net
