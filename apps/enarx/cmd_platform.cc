// `enarx platform ...`: which TEE is here (info), evidence from it (evidence), simulated
// platforms (sim init), and host preparation (snp vcek, snp crl, sgx cache, refresh).
#include <sys/utsname.h>

#include <iostream>
#include <memory>

#include "cli_util.h"
#include "command.h"
#include "core/csr.h"
#include "core/error.h"
#include "core/file.h"
#include "client/trust.h"
#include "exit_codes.h"
#include "platform/csr_evidence.h"
#include "platform/detect.h"
#include "platform/host_cache.h"
#include "platform/select.h"
#include "simulation/dcap.h"
#include "simulation/platforms.h"

namespace fs = std::filesystem;

namespace enarx::cli {
namespace {

// Runs a command body; enarx::Error becomes "error: code: message" and a specific exit code.
template <typename F>
void guarded(F&& f) {
  try {
    set_exit_code(f());
  } catch (const Error& e) {
    std::cerr << "error: " << e.describe() << "\n";
    set_exit_code(exit_code_for(e));
  }
}

std::string system_info() {
  struct utsname u {};
  if (::uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.nodename + " " + u.release + " " + u.version + " " + u.machine;
}

struct ProviderFlags {
  std::string platform;
  std::string sim_dir;
  std::string root = "/";
};

void add_provider_flags(CLI::App* cmd, const std::shared_ptr<ProviderFlags>& f) {
  cmd->add_option("--platform", f->platform,
                  "auto, nil, kvm, snp, tdx, sgx, sim-snp, sim-tdx or sim-sgx (env ENARX_PLATFORM; default auto)");
  cmd->add_option("--sim-dir", f->sim_dir, "Simulated platform directory (env ENARX_SIM_DIR)");
  cmd->add_option("--root", f->root, "Filesystem root to probe (testing)")->group("");
}

platform::ProviderSpec spec_of(const ProviderFlags& f) {
  platform::ProviderSpec s;
  s.platform = f.platform;
  s.sim_dir = f.sim_dir;
  s.root = f.root;
  return platform::spec_from_env(s);
}

struct CacheFlags {
  std::string kds_url;
  std::string pcs_url;
  std::string root_crl_url;
  std::string amd_dir;
  std::string intel_dir;
};

void add_cache_flags(CLI::App* cmd, const std::shared_ptr<CacheFlags>& f, bool amd, bool intel) {
  if (amd) {
    cmd->add_option("--kds-url", f->kds_url, "AMD KDS base URL")
        ->envname("ENARX_KDS_URL")
        ->default_str(platform::cache::kDefaultKdsUrl);
    cmd->add_option("--amd-cache-dir", f->amd_dir, "AMD cache directory")
        ->envname("ENARX_AMD_CACHE_DIR")
        ->default_str("/var/cache/amd-sev");
  }
  if (intel) {
    cmd->add_option("--pcs-url", f->pcs_url, "Intel PCS base URL")
        ->envname("ENARX_PCS_URL")
        ->default_str(platform::cache::kDefaultPcsUrl);
    cmd->add_option("--root-crl-url", f->root_crl_url, "Intel SGX Root CA CRL URL")
        ->envname("ENARX_INTEL_ROOT_CRL_URL")
        ->default_str(platform::cache::kDefaultIntelRootCrlUrl);
    cmd->add_option("--intel-cache-dir", f->intel_dir, "Intel cache directory")
        ->envname("ENARX_INTEL_CACHE_DIR")
        ->default_str("/var/cache/intel-sgx");
  }
}

platform::cache::Options cache_options(const CacheFlags& f) {
  platform::cache::Options o;
  if (!f.kds_url.empty()) o.kds_url = f.kds_url;
  if (!f.pcs_url.empty()) o.pcs_url = f.pcs_url;
  if (!f.root_crl_url.empty()) o.intel_root_crl_url = f.root_crl_url;
  if (!f.amd_dir.empty()) o.amd_dir = f.amd_dir;
  if (!f.intel_dir.empty()) o.intel_dir = f.intel_dir;
  return o;
}

// Prints one line per file; returns kOk when every file was written, else the exit code of the
// first failure.
int report_results(const std::vector<platform::cache::FileResult>& results) {
  int rc = exit_codes::kOk;
  for (const auto& r : results) {
    if (r.written) {
      std::cout << "✔ " << r.path.string() << "  <- " << r.url << "\n";
    } else {
      std::cout << "✗ " << r.path.string() << "  <- " << r.url << "\n    " << r.error
                << " (previous file kept)\n";
      if (rc == exit_codes::kOk) rc = exit_code_for(r.error_kind);
    }
  }
  return rc;
}

std::optional<Bytes> read_optional(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  return read_file(p);
}

void register_platform(CLI::App& root) {
  auto* plat = root.add_subcommand("platform", "Platform detection, evidence and host preparation");
  plat->require_subcommand(1);

  // ---- info
  {
    auto json = std::make_shared<bool>(false);
    auto rootdir = std::make_shared<std::string>("/");
    auto reg = std::make_shared<RegistryFlags>();
    auto* info = plat->add_subcommand("info", "Show which TEE is available and why, and which TLS roots are trusted");
    info->add_flag("-j,--json", *json, "JSON output");
    info->add_option("--root", *rootdir, "Filesystem root to probe (testing)")->group("");
    reg->add_to(info);
    info->callback([json, rootdir, reg] {
      guarded([&] {
        platform::Detection d = platform::detect(fs::path(*rootdir));
        const auto trust = reg->trust();
        const auto& embedded = client::embedded_roots();
        if (*json) {
          auto j = platform::format_json(d, ENARX_VERSION, system_info());
          j["tls_roots"] = {{"in_use", client::describe(trust)},
                            {"embedded",
                             {{"certificates", embedded.certificates},
                              {"sha256", embedded.sha256},
                              {"source", embedded.source},
                              {"ca_certificates_version", embedded.version}}}};
          std::cout << j.dump(2) << "\n";
        } else {
          std::cout << platform::format_text(d, ENARX_VERSION, system_info());
          std::cout << "TLS roots for drawbridge and steward: " << client::describe(trust) << "\n";
        }
        return exit_codes::kOk;
      });
    });
  }

  // ---- evidence
  {
    auto pf = std::make_shared<ProviderFlags>();
    auto cf = std::make_shared<CacheFlags>();
    struct Args {
      std::string report_data, out, csr, key;
    };
    auto a = std::make_shared<Args>();
    auto* ev = plat->add_subcommand(
        "evidence", "Get evidence from this platform: the raw report/quote, or a fresh key and an "
                    "Enarx CSR carrying the evidence");
    add_provider_flags(ev, pf);
    add_cache_flags(ev, cf, true, true);
    ev->add_option("--report-data", a->report_data, "64 bytes of report data (hex) for --out");
    ev->add_option("--out", a->out, "Write the raw report / quote here");
    ev->add_option("--csr", a->csr, "Write a CSR (DER) with the evidence extension here");
    ev->add_option("--key", a->key, "Write the CSR's private key (PKCS#8 PEM, 0600) here");
    ev->callback([pf, cf, a] {
      guarded([&] {
        auto provider = platform::make_provider(spec_of(*pf));
        if (!a->csr.empty()) {
          if (a->key.empty()) throw CLI::ValidationError("--key", "--csr needs --key");
          PrivateKey key = PrivateKey::generate(
              platform::keep_key_type(provider->platform()));
          Bytes rd = platform::report_data_for_spki(provider->platform(), key.public_key().spki_der());
          platform::Evidence e = provider->acquire(rd);
          auto o = cache_options(*cf);
          platform::HostCollateral hc;
          if (e.platform == platform::Platform::Snp) {
            if (e.simulated) {
              auto files = platform::sim::load_snp(spec_of(*pf).sim_dir);
              hc.crls.push_back({std::string(platform::cache::kDefaultKdsUrl) + "/vcek/v1/" +
                                     files.config.product + "/crl",
                                 files.crl});
            } else {
              hc.crl_list_der = read_optional(o.amd_dir / "crls.der");
              if (!e.endorsement_cert()) {
                // No certificate table from the host: use the VCEK cached by `snp vcek`.
                auto req = platform::cache::vcek_request_from_report(e.report_or_quote, "Milan");
                hc.vcek_der = read_optional(o.amd_dir / platform::cache::vcek_file_name(req));
              }
            }
          } else if (e.platform == platform::Platform::Sgx || e.platform == platform::Platform::Tdx) {
            hc.crl_list_der = read_optional(o.intel_dir / "crls.der");
            hc.tcb_package_der = read_optional(o.intel_dir / "tcb.der");
          }
          Extension ext = platform::evidence_extension(e, hc);
          Bytes csr = CsrBuilder().add_extension(ext).build_der(key);
          write_file_atomic(a->key, key.to_pem_pkcs8(), 0600);
          write_file_atomic(a->csr, csr);
          std::cout << "platform " << platform::to_string(e.platform) << (e.simulated ? " (simulated)" : "")
                    << ", evidence OID " << ext.oid << ", CSR " << csr.size() << " bytes -> " << a->csr
                    << "\n";
          return exit_codes::kOk;
        }
        Bytes rd = a->report_data.empty() ? Bytes(64, 0) : from_hex(a->report_data);
        if (rd.size() < 64) rd.resize(64, 0);
        platform::Evidence e = provider->acquire(rd);
        if (!a->out.empty()) write_file_atomic(a->out, e.report_or_quote);
        std::cout << "platform " << platform::to_string(e.platform) << (e.simulated ? " (simulated)" : "")
                  << " via " << e.source << ": " << e.report_or_quote.size() << " bytes, "
                  << e.certs.size() << " certificate(s)\n";
        for (const auto& c : e.certs)
          std::cout << "  " << (c.name.empty() ? c.guid : c.name) << ": " << c.der.size() << " bytes\n";
        return exit_codes::kOk;
      });
    });
  }

  // ---- sim init
  {
    auto* sim = plat->add_subcommand("sim", "Simulated platforms (test PKI; never trusted by default)");
    sim->require_subcommand(1);
    struct Args {
      std::string dir, product = "Milan", chip_id, measurement;
      std::uint64_t policy = platform::sim::SnpSimConfig{}.policy;
      unsigned version = 3;
    };
    auto a = std::make_shared<Args>();
    auto* init = sim->add_subcommand("init", "Create simulated SEV-SNP (ARK/ASK/VCEK) and DCAP (SGX/TDX root, PCK, TCB signer) platforms, keys 0600");
    init->add_option("dir", a->dir, "Directory")->required();
    init->add_option("--product", a->product, "Milan or Genoa")->check(CLI::IsMember({"Milan", "Genoa"}));
    init->add_option("--chip-id", a->chip_id, "CHIP_ID, 64 bytes hex (default random)");
    init->add_option("--measurement", a->measurement, "Launch measurement, 48 bytes hex");
    init->add_option("--policy", a->policy, "Guest policy (integer; default: SMT, ABI 1.51, no debug)");
    init->add_option("--report-version", a->version, "Report version 2 or 3");
    init->callback([a] {
      guarded([&] {
        platform::sim::SnpSimConfig c;
        c.product = a->product;
        if (!a->chip_id.empty()) c.chip_id = from_hex(a->chip_id);
        if (!a->measurement.empty()) c.measurement = from_hex(a->measurement);
        c.policy = a->policy;
        c.report_version = a->version;
        platform::sim::init_snp(a->dir, c, std::chrono::system_clock::now());
        fs::path d = platform::sim::snp_dir(a->dir);
        platform::sim::init_dcap(a->dir, std::chrono::system_clock::now());
        fs::path i = platform::sim::dcap_dir(a->dir);
        std::cout << "simulated SEV-SNP platform in " << d.string() << "\n"
                  << "  trust root (simulated!): " << (d / "ark.pem").string() << ", "
                  << (d / "cert_chain.pem").string() << "\n"
                  << "  use: --platform sim-snp --sim-dir " << a->dir << "\n"
                  << "simulated Intel DCAP platform (TDX and SGX) in " << i.string() << "\n"
                  << "  trust root (simulated!): " << (i / "root.pem").string() << "\n"
                  << "  use: --platform sim-tdx | sim-sgx --sim-dir " << a->dir << "\n"
                  << "steward names only runtimes its policy lists; to let these simulated ones carry "
                     "workload names, add to its policy:\n"
                  << "  [snp] hash = [\"" << to_hex(platform::sim::load_snp(a->dir).config.measurement)
                  << "\"]\n"
                  << "  [tdx] mrtd = [\"" << to_hex(attest::dcap::TdFields{}.mrtd) << "\"]\n";
        return exit_codes::kOk;
      });
    });
  }

  // ---- snp vcek / crl
  {
    auto* snp = plat->add_subcommand("snp", "AMD SEV-SNP host preparation (KDS caches)");
    snp->require_subcommand(1);

    auto pf = std::make_shared<ProviderFlags>();
    auto cf = std::make_shared<CacheFlags>();
    struct Args {
      std::string report, product = "Milan";
    };
    auto a = std::make_shared<Args>();
    auto* vcek = snp->add_subcommand("vcek", "Fetch this chip's VCEK for its reported TCB from AMD KDS");
    vcek->add_option("--report", a->report, "SNP report file (raw or hex) giving CHIP_ID and TCB; "
                                            "default: acquire one on this platform");
    vcek->add_option("--product", a->product, "Product when the report does not say (v2 reports)");
    add_provider_flags(vcek, pf);
    add_cache_flags(vcek, cf, true, false);
    vcek->callback([pf, cf, a] {
      guarded([&] {
        Bytes report;
        if (!a->report.empty()) {
          report = read_file(a->report);
        } else {
          auto provider = platform::make_provider(spec_of(*pf));
          if (provider->platform() != platform::Platform::Snp)
            throw Error(ErrorKind::kInvalidInput, "platform.not_snp", "this is not an SEV-SNP platform; pass --report FILE");
          report = provider->acquire(Bytes(64, 0)).report_or_quote;
        }
        auto req = platform::cache::vcek_request_from_report(report, a->product);
        auto o = cache_options(*cf);
        return report_results({platform::cache::fetch_vcek(req, o)});
      });
    });

    auto cf2 = std::make_shared<CacheFlags>();
    auto products = std::make_shared<std::vector<std::string>>();
    auto* crl = snp->add_subcommand("crl", "Fetch the AMD ARK CRLs (Milan, Genoa, Turin) into crls.der");
    crl->add_option("--product", *products, "Only these products (repeatable)");
    add_cache_flags(crl, cf2, true, false);
    crl->callback([cf2, products] {
      guarded([&] {
        auto o = cache_options(*cf2);
        return report_results(products->empty() ? platform::cache::fetch_amd_crls(o)
                                                : platform::cache::fetch_amd_crls(o, *products));
      });
    });
  }

  // ---- sgx cache
  {
    auto* sgx = plat->add_subcommand("sgx", "Intel SGX/TDX host preparation (PCS caches)");
    sgx->require_subcommand(1);
    auto cf = std::make_shared<CacheFlags>();
    struct Args {
      std::string fmspc;
      bool tdx = false, no_sgx = false;
    };
    auto a = std::make_shared<Args>();
    auto* cache = sgx->add_subcommand(
        "cache", "Fetch TCB info, QE identity, TCB signing chain and CRLs for an FMSPC from Intel PCS");
    cache->add_option("--fmspc", a->fmspc, "FMSPC (12 hex digits); default: <cache>/fmspc.txt");
    cache->add_flag("--tdx", a->tdx, "Also fetch TDX TCB info and TD_QE identity");
    cache->add_flag("--no-sgx", a->no_sgx, "Skip the SGX TCB info and QE identity");
    add_cache_flags(cache, cf, false, true);
    cache->callback([cf, a] {
      guarded([&] {
        auto o = cache_options(*cf);
        std::string fmspc = a->fmspc;
        if (fmspc.empty()) {
          auto saved = read_optional(o.intel_dir / "fmspc.txt");
          if (!saved) throw Error(ErrorKind::kInvalidInput, "platform.cache.fmspc", "no --fmspc and no " + (o.intel_dir / "fmspc.txt").string());
          fmspc = std::string(saved->begin(), saved->end());
          while (!fmspc.empty() && (fmspc.back() == '\n' || fmspc.back() == ' ')) fmspc.pop_back();
        }
        platform::cache::IntelRequest r;
        r.fmspc = from_hex(fmspc);
        r.sgx = !a->no_sgx;
        r.tdx = a->tdx;
        return report_results(platform::cache::fetch_intel_collateral(r, o));
      });
    });
  }

  // ---- refresh (what the systemd timer runs)
  {
    auto cf = std::make_shared<CacheFlags>();
    auto* refresh = plat->add_subcommand(
        "refresh", "Refresh every cache this host uses: AMD CRLs, and Intel collateral when an "
                   "FMSPC is cached (run daily by enarx-cache-refresh.timer)");
    add_cache_flags(refresh, cf, true, true);
    refresh->callback([cf] {
      guarded([&] {
        auto o = cache_options(*cf);
        int rc = report_results(platform::cache::fetch_amd_crls(o));
        if (auto saved = read_optional(o.intel_dir / "fmspc.txt")) {
          std::string fmspc(saved->begin(), saved->end());
          while (!fmspc.empty() && (fmspc.back() == '\n' || fmspc.back() == ' ')) fmspc.pop_back();
          platform::cache::IntelRequest r;
          r.fmspc = from_hex(fmspc);
          r.tdx = fs::exists(o.intel_dir / ("tdx-tcbinfo-" + to_hex(r.fmspc) + ".json")) ||
                  fs::exists(o.intel_dir / "td_qe_identity.json");
          int rc2 = report_results(platform::cache::fetch_intel_collateral(r, o));
          if (rc == exit_codes::kOk) rc = rc2;
        }
        return rc;
      });
    });
  }
}

ENARX_COMMAND(40, register_platform);

}  // namespace
}  // namespace enarx::cli
