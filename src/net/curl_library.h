// libcurl, loaded on first use instead of linked. Linking it put libcurl and its ~30
// dependencies (GnuTLS, Kerberos, LDAP, SSH, ...) into every `enarx` process, ~13 ms of dynamic
// loading at each start, also for commands that never make an HTTP request (`enarx run`).
// Only http_client.cc calls libcurl; the types and constants still come from <curl/curl.h>.
#pragma once

#include <curl/curl.h>

#include <initializer_list>

namespace enarx::net {

struct CurlLibrary {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// Loads libcurl (its run-time SONAME) and runs curl_global_init once, thread-safely; later calls
// return the same table. Throws Error("http.curl_unavailable") when it cannot be loaded or lacks
// a function (then every call throws the same error again).
const CurlLibrary& curl_library();

// The loader behind curl_library(), uncached: tries each file name in turn. Exposed so tests can
// point it at missing or wrong libraries; the library stays loaded once found.
CurlLibrary load_curl_library(std::initializer_list<const char*> file_names);

}  // namespace enarx::net
