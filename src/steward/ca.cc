#include "steward/ca.h"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "core/file.h"

namespace enarx::steward {

CertificateAuthority::CertificateAuthority(PrivateKey key, std::vector<Certificate> chain)
    : key_(std::move(key)), chain_(std::move(chain)) {
  require(!chain_.empty(), ErrorKind::kInvalidInput, "steward.ca.empty_chain", "the CA certificate chain is empty");
  require(static_cast<bool>(key_), ErrorKind::kInvalidInput, "steward.ca.key_type", "no CA private key");
  const auto type = key_.type();
  require(type == KeyType::EcP256 || type == KeyType::EcP384, ErrorKind::kInvalidInput, "steward.ca.key_type",
          "the CA key must be EC P-256 or P-384 (got " + to_string(type) + ")");
  require(key_.public_key() == chain_.front().public_key(), ErrorKind::kInvalidInput, "steward.ca.key_mismatch",
          "the CA private key does not match the first certificate of the chain");
  require(chain_.front().is_ca(), ErrorKind::kInvalidInput, "steward.ca.not_ca",
          "the CA certificate lacks CA:TRUE basic constraints");
}

namespace {

std::vector<Certificate> load_chain(const std::filesystem::path& chain_file) {
  try {
    return Certificate::chain_from_pem(read_text_file(chain_file, 4 << 20));
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "steward.ca.chain",
                "cannot load CA certificate chain " + chain_file.string() + ": " + e.what());
  }
}

}  // namespace

CertificateAuthority CertificateAuthority::from_uri(std::string_view key_uri,
                                                    const std::filesystem::path& chain_file,
                                                    const KeyUriOptions& options) {
  PrivateKey key;
  try {
    key = PrivateKey::from_uri(key_uri, options);
  } catch (const Error& e) {
    // e's message names the URI redacted; its code says what went wrong (PIN, no such key).
    throw Error(e.kind(), e.code(), std::string("cannot load the CA key from the token: ") + e.what());
  }
  CertificateAuthority ca(std::move(key), load_chain(chain_file));
  // The public halves match (checked above); prove the token key signs as that certificate.
  static constexpr std::string_view kProbe = "steward CA key check";
  const auto alg = ca.key_.default_digest();
  const Bytes sig = ca.key_.sign(alg, as_bytes(kProbe));
  require(ca.certificate().public_key().verify(alg, as_bytes(kProbe), sig), ErrorKind::kInvalidInput,
          "steward.ca.key_mismatch",
          "the token key's signature does not verify with the CA certificate's public key");
  return ca;
}

CertificateAuthority CertificateAuthority::from_files(const std::filesystem::path& key_file,
                                                      const std::filesystem::path& chain_file) {
  PrivateKey key;
  try {
    key = PrivateKey::from_pem(read_text_file(key_file, 1 << 20));
  } catch (const Error& e) {
    // The message never includes key material: only the path and the reason code.
    throw Error(ErrorKind::kInvalidInput, "steward.ca.key",
                "cannot load CA key " + key_file.string() + " (" + e.code() + ")");
  }
  return CertificateAuthority(std::move(key), load_chain(chain_file));
}

CertificateAuthority CertificateAuthority::load_or_generate(const std::filesystem::path& state_dir,
                                                            const Clock& clock,
                                                            const std::string& common_name,
                                                            std::chrono::hours lifetime,
                                                            GeneratedInfo* info) {
  namespace fs = std::filesystem;
  const fs::path key_path = state_dir / "ca.key";
  const fs::path cert_path = state_dir / "ca.crt";
  if (info) {
    info->key_path = key_path;
    info->cert_path = cert_path;
  }
  std::error_code ec;
  if (fs::exists(key_path, ec) && fs::exists(cert_path, ec)) {
    struct stat st {};
    require(::stat(key_path.c_str(), &st) == 0, ErrorKind::kInvalidInput, "steward.ca.state",
            "cannot stat " + key_path.string());
    require((st.st_mode & 077) == 0, ErrorKind::kInvalidInput, "steward.ca.state",
            key_path.string() + " is accessible by group or others; chmod 600 it");
    if (info) info->created = false;
    return from_files(key_path, cert_path);
  }
  require(!fs::exists(key_path, ec) && !fs::exists(cert_path, ec), ErrorKind::kInvalidInput, "steward.ca.state",
          "only one of " + key_path.string() + " and " + cert_path.string() +
              " exists; remove it or restore the other");
  fs::create_directories(state_dir, ec);
  require(!ec, ErrorKind::kInvalidInput, "steward.ca.state",
          "cannot create state directory " + state_dir.string() + ": " + ec.message());
  fs::permissions(state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);

  auto key = PrivateKey::generate(KeyType::EcP384);
  const auto now = clock.now();
  auto cert = CertificateBuilder()
                  .subject({{"CN", common_name}})
                  .public_key(key.public_key())
                  .validity(now - std::chrono::minutes(5), now + lifetime)
                  .ca(true, 0)
                  .key_usage({"keyCertSign", "cRLSign"}, true)
                  .subject_key_identifier(true)
                  .sign(key);
  try {
    write_file_atomic(key_path, key.to_pem_pkcs8(), 0600);
    write_file_atomic(cert_path, cert.to_pem(), 0644);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "steward.ca.state", std::string("cannot write CA files: ") + e.what());
  }
  if (info) info->created = true;
  return CertificateAuthority(std::move(key), {std::move(cert)});
}

std::vector<Certificate> CertificateAuthority::chain_root_first() const {
  std::vector<Certificate> out(chain_.rbegin(), chain_.rend());
  return out;
}

std::string CertificateAuthority::fingerprint() const {
  const auto fp = chain_.front().fingerprint_sha256();
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < fp.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[fp[i] >> 4]);
    out.push_back(kHex[fp[i] & 15]);
  }
  return out;
}

}  // namespace enarx::steward
