// Host preparation: download AMD KDS and Intel PCS collateral into the system caches that keeps
// send verbatim as evidence (enarx-protocols.md §3.7), and that verifiers read as a collateral
// directory (src/attest/dcap/collateral.h layout).
//
// Every download is validated before it may replace a cache file (DER parses, JSON parses, the
// signature checks against the pinned AMD / Intel roots, the VCEK matches the chip and TCB), and
// is written with write_file_atomic: a failed or garbled download never clobbers a good file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/x509.h"

namespace enarx::platform::cache {

struct FetchResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-case
};
// GET `url`. Transport failures throw enarx::Error (http.*); statuses are data.
using Fetcher = std::function<FetchResponse(const std::string& url)>;
// The production fetcher (net::HttpClient, retries on 5xx / transport errors, 64 MiB cap).
// Throws Error("platform.cache.no_http") when built without the net library.
Fetcher http_fetcher();

inline constexpr const char* kDefaultKdsUrl = "https://kdsintf.amd.com";
inline constexpr const char* kDefaultPcsUrl = "https://api.trustedservices.intel.com";
inline constexpr const char* kDefaultIntelRootCrlUrl =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

struct Options {
  std::filesystem::path amd_dir = "/var/cache/amd-sev";
  std::filesystem::path intel_dir = "/var/cache/intel-sgx";
  std::string kds_url = kDefaultKdsUrl;  // base, without trailing '/'
  std::string pcs_url = kDefaultPcsUrl;
  std::string intel_root_crl_url = kDefaultIntelRootCrlUrl;
  Fetcher fetch;                     // empty: http_fetcher()
  std::shared_ptr<const Clock> clock;  // for validity checks; empty: system clock
  // Extra trusted ARK/ASK pairs (PEM bundle files) — e.g. the sim root — besides AMD's.
  std::vector<Certificate> extra_amd_certs;
};

// ---- AMD ----------------------------------------------------------------------------------

struct SnpTcb {
  std::uint8_t bl = 0, tee = 0, snp = 0, ucode = 0;
  std::optional<std::uint8_t> fmc;  // Turin
};

struct VcekRequest {
  std::string product;  // "Milan", "Genoa", "Turin"
  Bytes chip_id;        // 64 bytes from the report
  SnpTcb tcb;           // the REPORTED_TCB
};

// From a raw or hex SNP report file: product from the report's CPUID (v3+) or `fallback_product`.
VcekRequest vcek_request_from_report(ByteView report_file, const std::string& fallback_product);

// <kds>/vcek/v1/<product>/<hwid>?blSPL=NN&teeSPL=NN&snpSPL=NN&ucodeSPL=NN (two-digit decimal);
// Turin: hwid = the first 8 bytes of CHIP_ID and fmcSPL=NN first.
std::string vcek_url(const std::string& kds_base, const VcekRequest& r);
// Enarx's cache name: vcek-<chip_id hex>-<bl>-<tee>-<snp>-<ucode> (Turin: ...-<fmc> appended).
std::string vcek_file_name(const VcekRequest& r);

struct FileResult {
  std::filesystem::path path;
  std::string url;
  bool written = false;     // false: download failed or was rejected; the old file is kept
  std::string error;        // code: message, when not written
  ErrorKind error_kind = ErrorKind::kInternal;  // when not written
};

// Downloads and validates the VCEK (chip + TCB must match; signed by the product's ASK).
// Errors: platform.cache.http (status), platform.cache.invalid (validation), http.*.
FileResult fetch_vcek(const VcekRequest& r, const Options& o);

// Downloads the ARK CRLs of `products` (default Milan, Genoa, Turin): each into
// <amd_dir>/crl-<product>.der, and all that are valid into <amd_dir>/crls.der (Enarx's CrlList,
// entries labelled with the canonical KDS URL; order Genoa, Milan, then the rest, like Enarx).
// A product that fails keeps its previous per-product file, and its previous entry in crls.der.
std::vector<FileResult> fetch_amd_crls(const Options& o,
                                       std::vector<std::string> products = {"Milan", "Genoa", "Turin"});

// ---- Intel ----------------------------------------------------------------------------------

struct IntelRequest {
  Bytes fmspc;      // 6 bytes
  bool sgx = true;  // SGX TCB info + QE identity
  bool tdx = false; // TDX TCB info + TD_QE identity
};

// Into <intel_dir> (dcap collateral-dir layout + Enarx's files):
//   tcbinfo-<fmspc>.json, qe_identity.json, [tdx-tcbinfo-<fmspc>.json, td_qe_identity.json],
//   tcb_signing_chain.pem (from the TCB-Info-Issuer-Chain header), root_ca_crl.der,
//   pck_processor_crl.der, pck_platform_crl.der, crls.der (Enarx CrlList: root, processor,
//   platform), tcb.der (Enarx TcbPackage {certs, raw SGX TCB info}), fmspc.txt (upper-case hex).
std::vector<FileResult> fetch_intel_collateral(const IntelRequest& r, const Options& o);

// Decodes a URL-encoded PEM header value (Intel's *-Issuer-Chain headers).
std::string url_decode(std::string_view s);

}  // namespace enarx::platform::cache
