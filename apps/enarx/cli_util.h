// Small helpers shared by the enarx sub-commands: registry options, progress output, errors.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "command.h"
#include "core/error.h"
#include "core/file.h"
#include "exit_codes.h"
#include "client/trust.h"
#include "net/http_client.h"

namespace enarx::cli {

// --ca-bundle / ENARX_CA_BUNDLE, --extra-ca / ENARX_EXTRA_CA, --system-roots and --token /
// ENARX_TOKEN (or Enarx's ENARX_INSECURE_AUTH_TOKEN) for talking to drawbridge. Without a CA
// flag the embedded web PKI roots are trusted, never the host's store (client/trust.h).
// A flag given on the command line wins over its environment variable. The variables are read
// here, when the command runs, not through CLI11's envname: one RegistryFlags is shared by the
// sibling subcommands of a group, and CLI11 filled a sibling's unused option from the
// environment into the same storage, over the flag given to the subcommand that ran (`enarx
// package info --token T` with ENARX_TOKEN set sent ENARX_TOKEN).
struct RegistryFlags {
  std::string ca_bundle;
  std::string extra_ca;
  bool system_roots = false;
  std::string token;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--ca-bundle", ca_bundle,
                    "PEM CA bundle to trust for the registry INSTEAD of the embedded roots (env ENARX_CA_BUNDLE)");
    cmd->add_option("--extra-ca", extra_ca,
                    "PEM CA certificate(s) to trust IN ADDITION (registry and steward) (env ENARX_EXTRA_CA)");
    cmd->add_flag("--system-roots", system_roots,
                  "Trust the host's certificate store instead of the embedded roots (the host is untrusted) "
                  "(env ENARX_SYSTEM_ROOTS)");
    cmd->add_option("--token", token, "OIDC bearer token for the registry (see `drawbridge token`) (env ENARX_TOKEN)");
  }
  static std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
  }
  std::string resolved_token() const {
    if (!token.empty()) return token;
    if (auto t = env("ENARX_TOKEN"); !t.empty()) return t;
    return env("ENARX_INSECURE_AUTH_TOKEN");
  }
  std::string resolved_ca_bundle() const { return ca_bundle.empty() ? env("ENARX_CA_BUNDLE") : ca_bundle; }
  std::string resolved_extra_ca() const { return extra_ca.empty() ? env("ENARX_EXTRA_CA") : extra_ca; }
  bool resolved_system_roots() const {
    if (system_roots) return true;
    auto v = env("ENARX_SYSTEM_ROOTS");
    return !v.empty() && v != "0" && v != "false";
  }
  client::TrustChoice trust() const {
    const auto ca = resolved_ca_bundle(), extra = resolved_extra_ca();
    return {.replace_pem = ca.empty() ? std::string() : read_text_file(ca),
            .extra_pem = extra.empty() ? std::string() : read_text_file(extra),
            .system_roots = resolved_system_roots()};
  }
  net::ClientOptions http() const { return client::with_trust(trust()); }
};

// A --time-limit / --cpu-limit value (seconds, fractions allowed; 0 = not given) as a limit.
inline std::optional<std::chrono::milliseconds> seconds_limit(double seconds) {
  if (seconds <= 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// A one-line progress bar on a TTY (stderr); silent otherwise.
class Progress {
 public:
  explicit Progress(std::string label) : label_(std::move(label)), tty_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() {
    if (tty_ && drawn_) std::fputc('\n', stderr);
  }
  void update(std::uint64_t done, std::optional<std::uint64_t> total) {
    if (!tty_) return;
    drawn_ = true;
    if (total && *total > 0) {
      int pct = static_cast<int>(done * 100 / *total);
      int bars = pct / 5;
      std::fprintf(stderr, "\r%s [%-20s] %3d%% %llu/%llu bytes", label_.c_str(),
                   std::string(static_cast<std::size_t>(bars), '#').c_str(), pct,
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(*total));
    } else {
      std::fprintf(stderr, "\r%s %llu bytes", label_.c_str(), static_cast<unsigned long long>(done));
    }
    std::fflush(stderr);
  }
  void label(std::string l) { label_ = std::move(l); }

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
};

// Prints "error: code: message" and returns the exit code for the error's kind.
inline int report_error(const Error& e) {
  std::cerr << "error: " << e.describe() << "\n";
  return exit_code_for(e);
}

// Runs a command's body: exit code 0, or the reported error's.
template <typename F>
void run_guarded(F&& f) {
  try {
    f();
    set_exit_code(exit_codes::kOk);
  } catch (const Error& e) {
    set_exit_code(report_error(e));
  }
}

}  // namespace enarx::cli
