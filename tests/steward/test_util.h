// Helpers shared by the steward tests: a throw-away CA, CSR builders and response decoding.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/csr.h"
#include "core/der.h"
#include "core/error.h"
#include "core/file.h"
#include "core/x509.h"
#include "attest/enarx/oids.h"
#include "steward/steward.h"

namespace enarx::steward::testing {

inline CertificateAuthority make_ca(TimePoint now, KeyType type = KeyType::EcP384) {
  auto key = PrivateKey::generate(type);
  auto cert = CertificateBuilder()
                  .subject({{"CN", "Test Steward CA"}})
                  .public_key(key.public_key())
                  .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 365))
                  .ca(true, 0)
                  .key_usage({"keyCertSign", "cRLSign"})
                  .sign(key);
  return CertificateAuthority(std::move(key), {std::move(cert)});
}

inline Policy insecure_policy() {
  return Policy::parse("[issuance]\nallow_insecure = true\n");
}

inline Bytes kvm_csr(const PrivateKey& key, SubjectAltNames sans = {},
                     std::vector<Extension> extra = {}) {
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kKvmEvidence), false, {}});
  if (!sans.uris.empty() || !sans.dns.empty() || !sans.ips.empty() || !sans.emails.empty())
    b.subject_alt_names(sans);
  for (auto& e : extra) b.add_extension(std::move(e));
  return b.build_der(key);
}

inline Bytes bundle(const std::vector<Bytes>& csrs) {
  der::Writer w;
  for (const auto& c : csrs) w.add_raw(c);
  return w.wrap(der::kSequence);
}

inline std::vector<Certificate> pkipath(const Response& r) {
  return Certificate::chain_from_der_sequence(r.body);
}

struct Output {
  std::vector<Certificate> chain;
  std::vector<Certificate> issued;
};
inline Output decode_output(ByteView body) {
  der::Reader top(body);
  der::Reader seq = top.read_sequence();
  top.expect_end();
  Output out;
  auto chain = seq.read(der::kSequence);
  auto issued = seq.read(der::kSequence);
  seq.expect_end();
  out.chain = Certificate::chain_from_der_sequence(chain.whole);
  out.issued = Certificate::chain_from_der_sequence(issued.whole);
  return out;
}

inline std::string body_text(const Response& r) { return std::string(as_string(r.body)); }

inline std::filesystem::path shared_dir() {
  const char* d = std::getenv("ENARX_SHARED_DIR");
  std::filesystem::path p = d ? std::filesystem::path(d) : std::filesystem::path(ENARX_SOURCE_DIR "/../shared");
  return std::filesystem::exists(p / "testvectors") ? p : std::filesystem::path();
}

// Runs a shell command, returns exit status and captured stdout+stderr.
inline int run(const std::string& cmd, std::string* output = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace enarx::steward::testing
