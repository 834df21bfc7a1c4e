// Steward's certificate authority: the signing key and the chain handed back to clients.
//
// Two ways to get one:
//   * embedded (default): on first start generate a P-384 key and a self-signed CA certificate
//     into a state directory (directory 0700, key 0600) and reuse them afterwards;
//   * production: load a PEM key and a PEM certificate chain (steward's CA certificate first,
//     then its issuers up to the offline root), so steward runs as an intermediate;
//   * production with an HSM: the same chain, the key named by a pkcs11: URI and used in the
//     token through OpenSSL's pkcs11 provider (core/key_store.h); the key never enters steward.
// A self-signed CA does NOT put steward into any debug/insecure mode (unlike Enarx): insecure
// issuance is only the explicit policy option.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::steward {

class CertificateAuthority {
 public:
  // `chain` is steward's CA certificate first, then its issuers (PEM bundle order).
  // Throws Error("steward.ca.*"): ca.key_mismatch (key does not match the certificate),
  // ca.not_ca (no CA basic constraints / keyCertSign), ca.key_type (not EC P-256/P-384),
  // ca.empty_chain.
  CertificateAuthority(PrivateKey key, std::vector<Certificate> chain);

  // Reads `key_file` (PEM, PKCS#8 or SEC1) and `chain_file` (PEM bundle).
  static CertificateAuthority from_files(const std::filesystem::path& key_file,
                                         const std::filesystem::path& chain_file);

  // The key in a PKCS#11 token named by `key_uri` (core/key_store.h), `chain_file` as for
  // from_files. Besides the constructor's checks, one test signature is made with the token key
  // and verified with the certificate's public key, so a key that cannot sign (wrong object,
  // token refusing the operation) fails at start-up, not at the first issuance
  // (steward.ca.key_mismatch). Key errors keep their crypto.pkcs11.* code and kind (wrong PIN:
  // crypto.pkcs11.login_failed; no such key: crypto.pkcs11.not_found); messages name the URI
  // without any pin-value.
  static CertificateAuthority from_uri(std::string_view key_uri,
                                       const std::filesystem::path& chain_file,
                                       const KeyUriOptions& options = {});

  struct GeneratedInfo {
    bool created = false;  // false: an existing key/cert was loaded
    std::filesystem::path key_path;
    std::filesystem::path cert_path;
  };
  // Loads <state_dir>/ca.key + ca.crt, or creates them (P-384, self-signed, `common_name`,
  // valid `lifetime` from `clock`'s now). Throws Error("steward.ca.state") when the directory
  // or files cannot be created, or when the key file is readable by group/others.
  static CertificateAuthority load_or_generate(
      const std::filesystem::path& state_dir, const Clock& clock,
      const std::string& common_name = "Steward CA",
      std::chrono::hours lifetime = std::chrono::hours(24 * 365 * 10),
      GeneratedInfo* info = nullptr);

  const PrivateKey& key() const { return key_; }
  const Certificate& certificate() const { return chain_.front(); }
  // Steward CA first, then issuers (as loaded).
  const std::vector<Certificate>& chain_leaf_first() const { return chain_; }
  // Root-side first, ending with steward's CA certificate: what clients receive (PkiPath order,
  // as Enarx's steward returns [ca]).
  std::vector<Certificate> chain_root_first() const;
  // SHA-256 fingerprint of the CA certificate, "AB:CD:..." upper-case (openssl style).
  std::string fingerprint() const;

 private:
  PrivateKey key_;
  std::vector<Certificate> chain_;
};

}  // namespace enarx::steward
