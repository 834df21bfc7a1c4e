// Private keys that live in a PKCS#11 token (an HSM, or SoftHSM2 in tests), named by an
// RFC 7512 "pkcs11:" URI and used through OpenSSL 3's pkcs11-provider.
//
// Mechanism: the OpenSSL 3 *provider* (Debian's pkcs11-provider, bookworm-backports), not the
// deprecated ENGINE API (libengine-pkcs11-openssl): the provider plugs into OSSL_STORE, EVP
// and the X.509/CRL/OCSP signing functions unchanged, so a token key is just an EVP_PKEY whose
// operations run in the token. The private key is never read into this process: OpenSSL only
// holds a handle (the provider refuses to export private material, and a key generated on the
// token with CKA_SENSITIVE / CKA_NEVER_EXTRACTABLE cannot be read by anyone).
//
// The provider is loaded into a dedicated OSSL_LIB_CTX (one per provider module + PKCS#11
// module, kept for the life of the process), together with the default provider, and never into
// the default library context: the token's algorithms (the provider also offers digests,
// ECDSA, RSA, random numbers) must not be picked by the rest of the process (TLS, hashing,
// signature verification) just because a CA key is configured. A key loaded from that context
// still works with the ordinary, context-less calls (EVP_DigestSignInit, X509_sign,
// X509_CRL_sign, OCSP_basic_sign): OpenSSL 3 runs an operation in the key's own provider when
// the key cannot be exported to the default one.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace enarx {

class PrivateKey;

struct KeyUriOptions {
  // The OpenSSL provider module (pkcs11-provider). Empty: "pkcs11.so" in the running OpenSSL's
  // modules directory (Debian: /usr/lib/<multiarch>/ossl-modules/pkcs11.so).
  std::filesystem::path provider_module;
  // The PKCS#11 library of the token (an HSM vendor's .so, or libsofthsm2.so). Empty: the URI's
  // "module-path" query attribute if it has one, else the environment variable
  // PKCS11_PROVIDER_MODULE, else the provider's built-in default (p11-kit's proxy module).
  std::filesystem::path pkcs11_module;
  // A file whose first line is the token's user PIN (not readable by "others"). Alternative to
  // the URI's own "pin-source=file:..." or "pin-value=..." attributes; giving both is an error.
  std::optional<std::filesystem::path> pin_file;
};

// True for a string that names a key through PKCS#11 ("pkcs11:" scheme, case-insensitive).
bool is_pkcs11_uri(std::string_view s);

// The URI with the value of every "pin-value" attribute replaced by "***": what logs and error
// messages show.
std::string redact_pkcs11_uri(std::string_view uri);

// The provider module path used for `options` (the default resolved).
std::filesystem::path pkcs11_provider_path(const KeyUriOptions& options);

// Loads exactly one private key matching `uri` from a token (see PrivateKey::from_uri).
// Error codes (kind):
//   crypto.pkcs11.uri (invalid_input)          not a pkcs11: URI, or unusable characters
//   crypto.pkcs11.no_pin (invalid_input)       no PIN from the URI nor from a PIN file
//   crypto.pkcs11.pin_conflict (invalid_input) a PIN file and a PIN in the URI
//   crypto.pkcs11.pin_file (invalid_input)     PIN file unreadable, empty or open to others
//   crypto.pkcs11.module_conflict (invalid_input) two different PKCS#11 modules named
//   crypto.pkcs11.unavailable (unavailable)    the provider or the PKCS#11 module cannot be
//                                              loaded or initialised
//   crypto.pkcs11.login_failed (unauthenticated) the token refused the PIN (wrong, locked or
//                                              expired); steward does not retry
//   crypto.pkcs11.not_found (not_found)        no token or no private key matches the URI
//   crypto.pkcs11.ambiguous (invalid_input)    more than one private key matches the URI
// No message ever contains a PIN.
PrivateKey load_private_key_uri(std::string_view uri, const KeyUriOptions& options);

}  // namespace enarx
