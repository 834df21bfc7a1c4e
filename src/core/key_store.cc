#include "core/key_store.h"

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "core/openssl.h"

namespace enarx {
namespace {

void store_close(OSSL_STORE_CTX* c) { OSSL_STORE_close(c); }
using StoreCtxPtr = ossl::Ptr<OSSL_STORE_CTX, store_close>;
using StoreInfoPtr = ossl::Ptr<OSSL_STORE_INFO, OSSL_STORE_INFO_free>;
using UiMethodPtr = ossl::Ptr<UI_METHOD, UI_destroy_method>;
using ConfPtr = ossl::Ptr<CONF, NCONF_free>;

// The attributes of a pkcs11: URI this code looks at (RFC 7512; pkcs11-provider 1.0 splits
// path and query attributes alike on ';', '?' and '&', so this does too).
struct UriFacts {
  bool has_pin = false;             // pin-value or pin-source
  std::string module_path;          // module-path, percent-decoded
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%') {
      const int hi = i + 2 < v.size() ? hex_value(v[i + 1]) : -1;
      const int lo = i + 2 < v.size() ? hex_value(v[i + 2]) : -1;
      require(hi >= 0 && lo >= 0, ErrorKind::kInvalidInput, "crypto.pkcs11.uri",
              "bad percent-encoding in the pkcs11: URI");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

template <typename F>
void for_each_attribute(std::string_view uri, F&& f) {
  std::string_view rest = uri.substr(7);  // after "pkcs11:"
  while (true) {
    const auto end = rest.find_first_of(";?&");
    const std::string_view part = rest.substr(0, end);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos) f(part.substr(0, eq), part.substr(eq + 1));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
}

UriFacts inspect_uri(std::string_view uri) {
  require(is_pkcs11_uri(uri), ErrorKind::kInvalidInput, "crypto.pkcs11.uri",
          "not a pkcs11: URI");
  for (const char c : uri)
    require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, ErrorKind::kInvalidInput,
            "crypto.pkcs11.uri", "control character in the pkcs11: URI");
  UriFacts facts;
  for_each_attribute(uri, [&](std::string_view name, std::string_view value) {
    if (name == "pin-value" || name == "pin-source") facts.has_pin = true;
    if (name == "module-path") facts.module_path = percent_decode(value);
  });
  return facts;
}

// A path written into the in-memory OpenSSL configuration below: absolute, and free of the
// characters OpenSSL's config syntax gives a meaning (quotes, '$' expansion, '#' comments,
// escapes), so a value can never add configuration of its own.
std::string config_path(const std::filesystem::path& p, std::string_view what) {
  const std::string s = p.string();
  require(p.is_absolute(), ErrorKind::kInvalidInput, "crypto.pkcs11.uri",
          std::string(what) + " must be an absolute path: " + s);
  for (const char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-+@,:=~", c);
    require(ok, ErrorKind::kInvalidInput, "crypto.pkcs11.uri",
            std::string(what) + " has a character not allowed here: " + s);
  }
  return s;
}

// One library context per (provider module, PKCS#11 module), created on first use and kept
// for the life of the process: keys loaded from it hold references into the provider, a token
// login belongs to the process anyway (PKCS#11 logins are per application), and finalising a
// PKCS#11 module while another part of the process may still use it is unsafe. Never freed on
// purpose (reachable from this static map, so not a leak for LeakSanitizer).
OSSL_LIB_CTX* token_context(const std::string& provider, const std::string& module) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, OSSL_LIB_CTX*> contexts;
  std::lock_guard lock(mu);
  auto it = contexts.find({provider, module});
  if (it != contexts.end()) return it->second;

  // The default provider is activated in the same context: OSSL_STORE's decoders, the
  // public-key halves and the digests the provider delegates come from it.
  std::string cnf =
      "openssl_conf = enarx_init\n"
      "[enarx_init]\n"
      "providers = enarx_providers\n"
      "[enarx_providers]\n"
      "default = enarx_default\n"
      "pkcs11 = enarx_pkcs11\n"
      "[enarx_default]\n"
      "activate = 1\n"
      "[enarx_pkcs11]\n"
      "module = \"" + provider + "\"\n";
  if (!module.empty()) cnf += "pkcs11-module-path = \"" + module + "\"\n";
  // early: a PKCS#11 module that cannot be loaded or initialised fails here, with a clear
  // error, instead of looking like "no key found" later.
  cnf += "pkcs11-module-load-behavior = early\n";
  // cache: the provider keeps the PIN handed to it through the passphrase callback, so it can
  // log in again by itself if the token drops the login session (HSM restart) instead of
  // prompting on a terminal.
  cnf += "pkcs11-module-cache-pins = cache\n";
  cnf += "activate = 1\n";

  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
  OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
  ossl::check(ctx != nullptr, ErrorKind::kInternal, "crypto.pkcs11.unavailable",
              "cannot create an OpenSSL library context");
  ConfPtr conf(NCONF_new_ex(ctx, nullptr));
  auto bio = ossl::memory_bio(cnf.data(), cnf.size());
  long error_line = 0;
  const bool ok = conf && NCONF_load_bio(conf.get(), bio.get(), &error_line) == 1 &&
                  CONF_modules_load(conf.get(), nullptr, 0) == 1 &&
                  OSSL_PROVIDER_available(ctx, "pkcs11") == 1 &&
                  OSSL_PROVIDER_available(ctx, "default") == 1;
  if (!ok) {
    const std::string detail = ossl::drain_errors();
    conf.reset();
    OSSL_LIB_CTX_free(ctx);
    throw Error(ErrorKind::kUnavailable, "crypto.pkcs11.unavailable",
                "cannot load the OpenSSL pkcs11 provider " + provider +
                    (module.empty() ? std::string() : " with the PKCS#11 module " + module) +
                    (detail.empty() ? std::string() : ": " + detail));
  }
  contexts.emplace(std::make_pair(provider, module), ctx);
  return ctx;
}

// What the passphrase callback hands the provider when it asks for the token's PIN.
struct PinPrompt {
  const std::string* pin = nullptr;  // nullptr: answer an empty PIN (the provider then cancels
                                     // the login without trying, and without prompting)
  int calls = 0;
};

int pin_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* prompt = static_cast<PinPrompt*>(userdata);
  if (!prompt) return -1;
  ++prompt->calls;
  if (!prompt->pin) return 0;
  const std::size_t n = prompt->pin->size();
  if (size < 0 || n > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, prompt->pin->data(), n);
  return static_cast<int>(n);
}

// Opens `uri` and collects the private keys it yields.
std::vector<ossl::PkeyPtr> load_keys(OSSL_LIB_CTX* ctx, const std::string& uri, PinPrompt& prompt,
                                     const std::string& shown_uri) {
  UiMethodPtr ui(UI_UTIL_wrap_read_pem_callback(pin_callback, 0));
  ossl::check(ui != nullptr, ErrorKind::kInternal, "crypto.pkcs11.unavailable",
              "cannot create the PIN callback");
  StoreCtxPtr store(OSSL_STORE_open_ex(uri.c_str(), ctx, nullptr, ui.get(), &prompt, nullptr,
                                       nullptr, nullptr));
  // The token was initialised when the context was created, so a refusal here is the URI.
  if (!store) {
    const std::string detail = ossl::drain_errors();
    throw Error(ErrorKind::kInvalidInput, "crypto.pkcs11.uri",
                "the pkcs11 provider rejected the URI " + shown_uri +
                    (detail.empty() ? std::string() : ": " + detail));
  }
  OSSL_STORE_expect(store.get(), OSSL_STORE_INFO_PKEY);
  std::vector<ossl::PkeyPtr> keys;
  // Bounded: a token lists at most a few thousand objects.
  for (int n = 0; n < 100000 && !OSSL_STORE_eof(store.get()); ++n) {
    StoreInfoPtr info(OSSL_STORE_load(store.get()));
    if (!info) {
      if (OSSL_STORE_error(store.get())) break;
      continue;
    }
    if (OSSL_STORE_INFO_get_type(info.get()) != OSSL_STORE_INFO_PKEY) continue;
    ossl::PkeyPtr key(OSSL_STORE_INFO_get1_PKEY(info.get()));
    if (key) keys.push_back(std::move(key));
  }
  ERR_clear_error();
  return keys;
}

std::string read_pin_file(const std::filesystem::path& path) {
  struct stat st {};
  require(::stat(path.c_str(), &st) == 0, ErrorKind::kInvalidInput, "crypto.pkcs11.pin_file",
          "cannot read the PIN file " + path.string());
  require((st.st_mode & S_IRWXO) == 0, ErrorKind::kInvalidInput, "crypto.pkcs11.pin_file",
          "the PIN file " + path.string() + " is accessible by others; chmod o-rwx it");
  std::string text;
  try {
    text = read_text_file(path, 4096);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "crypto.pkcs11.pin_file",
                "cannot read the PIN file " + path.string() + " (" + e.code() + ")");
  }
  // The first line, as pkcs11-provider reads its own PIN files.
  const auto eol = text.find_first_of("\r\n");
  std::string pin = text.substr(0, eol);
  OPENSSL_cleanse(text.data(), text.size());
  require(!pin.empty(), ErrorKind::kInvalidInput, "crypto.pkcs11.pin_file",
          "the PIN file " + path.string() + " is empty");
  return pin;
}

// Wipes a PIN when it goes out of scope.
struct PinWiper {
  std::string& pin;
  ~PinWiper() { OPENSSL_cleanse(pin.data(), pin.size()); }
};

}  // namespace

bool is_pkcs11_uri(std::string_view s) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (s.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != kScheme[i]) return false;
  return true;
}

std::string redact_pkcs11_uri(std::string_view uri) {
  std::string out;
  std::size_t i = 0;
  while (i <= uri.size()) {
    const auto end = uri.find_first_of(";?&", i);
    const std::string_view part = uri.substr(i, end == std::string_view::npos ? end : end - i);
    if (part.starts_with("pin-value=")) {
      out += "pin-value=***";
    } else {
      out += part;
    }
    if (end == std::string_view::npos) break;
    out.push_back(uri[end]);
    i = end + 1;
  }
  return out;
}

std::filesystem::path pkcs11_provider_path(const KeyUriOptions& options) {
  if (!options.provider_module.empty()) return options.provider_module;
  const char* dir = OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
  return std::filesystem::path(dir ? dir : "") / "pkcs11.so";
}

PrivateKey load_private_key_uri(std::string_view uri_view, const KeyUriOptions& options) {
  const UriFacts facts = inspect_uri(uri_view);
  const std::string uri(uri_view);
  const std::string shown = redact_pkcs11_uri(uri);

  require(!(facts.has_pin && options.pin_file), ErrorKind::kInvalidInput,
          "crypto.pkcs11.pin_conflict",
          "the pkcs11: URI carries a PIN (pin-value/pin-source) and a PIN file is configured "
          "too; use one");
  require(facts.has_pin || options.pin_file, ErrorKind::kInvalidInput, "crypto.pkcs11.no_pin",
          "no PIN for the token: configure a PIN file or give pin-source=file:... in the URI");

  // The PKCS#11 module: the option, else the URI's module-path. PKCS11_PROVIDER_MODULE in the
  // environment overrides the provider's configuration, so a different one there is refused
  // rather than silently talking to another token.
  std::string module;
  if (!options.pkcs11_module.empty()) module = config_path(options.pkcs11_module, "the PKCS#11 module");
  if (!facts.module_path.empty()) {
    const std::string from_uri = config_path(facts.module_path, "the URI's module-path");
    require(module.empty() || module == from_uri, ErrorKind::kInvalidInput,
            "crypto.pkcs11.module_conflict",
            "the URI's module-path (" + from_uri + ") differs from the configured PKCS#11 module (" +
                module + ")");
    module = from_uri;
  }
  if (const char* env = std::getenv("PKCS11_PROVIDER_MODULE"); env && *env) {
    require(module.empty() || module == env, ErrorKind::kInvalidInput,
            "crypto.pkcs11.module_conflict",
            std::string("PKCS11_PROVIDER_MODULE (") + env +
                ") overrides the configured PKCS#11 module (" + module + "); unset one");
  }
  const std::string provider = config_path(pkcs11_provider_path(options), "the pkcs11 provider module");

  std::string pin;
  PinWiper wipe{pin};
  if (options.pin_file) pin = read_pin_file(*options.pin_file);

#if defined(ENARX_SANITIZED)
  // pkcs11-provider (as Debian builds it) dlopens the PKCS#11 module with RTLD_DEEPBIND, which
  // the AddressSanitizer runtime refuses by aborting the whole process: fail cleanly instead.
  throw Error(ErrorKind::kUnavailable, "crypto.pkcs11.unavailable",
              "PKCS#11 tokens cannot be used in an AddressSanitizer build (pkcs11-provider loads "
              "the PKCS#11 module with RTLD_DEEPBIND, which the sanitizer runtime refuses)");
#endif
  OSSL_LIB_CTX* ctx = token_context(provider, module);
  PinPrompt prompt{options.pin_file ? &pin : nullptr, 0};
  auto keys = load_keys(ctx, uri, prompt, shown);
  require(keys.size() <= 1, ErrorKind::kInvalidInput, "crypto.pkcs11.ambiguous",
          std::to_string(keys.size()) + " private keys match " + shown +
              "; name one (object=<label> and/or id=<id>)");
  if (keys.size() == 1) return PrivateKey(std::move(keys.front()));

  // Nothing matched. pkcs11-provider 1.0 reports a refused login and an absent object alike
  // (no key, no error), so ask again, answering any PIN request with an empty PIN (which the
  // provider cancels without a login attempt, so a wrong PIN is tried once only, and without
  // falling back to a terminal prompt): a token that is logged in now (the PIN was right, or
  // no token matched at all) does not ask, one whose login failed does.
  PinPrompt probe{nullptr, 0};
  load_keys(ctx, uri, probe, shown);
  require(probe.calls == 0, ErrorKind::kUnauthenticated, "crypto.pkcs11.login_failed",
          "the token refused the PIN for " + shown + " (wrong, locked or expired PIN)");
  throw Error(ErrorKind::kNotFound, "crypto.pkcs11.not_found",
              "no private key on any token matches " + shown);
}

}  // namespace enarx
