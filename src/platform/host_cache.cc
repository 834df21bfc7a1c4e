#include "platform/host_cache.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "attest/enarx/crl_list.h"
#include "attest/dcap/collateral.h"
#include "attest/dcap/trust.h"
#include "attest/snp/amd_roots.h"
#include "attest/snp/report.h"
#include "attest/snp/vcek.h"
#include "attest/enarx/tcb_package.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include "net/http_client.h"

namespace fs = std::filesystem;

namespace enarx::platform::cache {

namespace snp = enarx::attest::snp;
namespace dcap = enarx::attest::dcap;

// ---- fetching -----------------------------------------------------------------------------------

Fetcher http_fetcher() {
  auto client = std::make_shared<net::HttpClient>(net::ClientOptions{});
  return [client](const std::string& url) {
    auto res = client->get(url);
    FetchResponse out;
    out.status = res.status;
    out.body = std::move(res.body);
    for (const auto& [name, value] : res.headers.items()) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out.headers.emplace(std::move(lower), value);
    }
    return out;
  };
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

Fetcher fetcher(const Options& o) { return o.fetch ? o.fetch : http_fetcher(); }

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string two_digits(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u", v);
  return buf;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// GET and require 200; the body is returned for validation.
FetchResponse get_ok(const Options& o, const std::string& url) {
  FetchResponse r = fetcher(o)(url);
  if (r.status != 200)
    throw Error(ErrorKind::kUnavailable, "platform.cache.http", "GET " + url + ": HTTP " + std::to_string(r.status));
  if (r.body.empty()) throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", "GET " + url + ": empty body");
  return r;
}

void ensure_dir(const fs::path& d) {
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) throw Error(ErrorKind::kInvalidInput, "platform.cache.io", "cannot create " + d.string() + ": " + ec.message());
}

// Runs one download+validate+write step, turning failures into a FileResult (the old file stays).
template <typename F>
FileResult step(const fs::path& path, const std::string& url, F&& f) {
  FileResult r;
  r.path = path;
  r.url = url;
  try {
    f();
    r.written = true;
  } catch (const Error& e) {
    r.error = e.describe();
    r.error_kind = e.kind();
    log::warn("platform.cache.failed", {{"url", url}, {"path", path.string()}, {"error", r.error}});
  }
  return r;
}

std::string product_name(snp::Product p) { return snp::to_string(p); }

// The genuine roots plus caller-added certificates with the same names.
std::vector<Certificate> amd_candidates(const Options& o, const std::string& product,
                                        std::initializer_list<std::string> cns) {
  std::vector<Certificate> out;
  for (const auto& root : snp::genuine_amd_roots()) {
    if (product_name(root.product) != product) continue;
    for (const auto& cn : cns) {
      if (root.ark.subject_common_name() == cn) out.push_back(root.ark);
      if (root.ask.subject_common_name() == cn) out.push_back(root.ask);
      if (root.asvk && root.asvk->subject_common_name() == cn) out.push_back(*root.asvk);
    }
  }
  for (const auto& c : o.extra_amd_certs) {
    for (const auto& cn : cns)
      if (c.subject_common_name() == cn) out.push_back(c);
  }
  return out;
}

bool signed_by_any(const Certificate& cert, const std::vector<Certificate>& issuers) {
  for (const auto& i : issuers)
    if (cert.issuer() == i.subject() && cert.signed_by(i.public_key())) return true;
  return false;
}
bool signed_by_any(const Crl& crl, const std::vector<Certificate>& issuers) {
  for (const auto& i : issuers)
    if (crl.issuer() == i.subject() && crl.signed_by(i.public_key())) return true;
  return false;
}

}  // namespace

// ---- AMD ------------------------------------------------------------------------------------------

VcekRequest vcek_request_from_report(ByteView file, const std::string& fallback_product) {
  snp::Report rep = snp::parse_report(snp::decode_report_file(file));
  VcekRequest r;
  snp::Product p = rep.cpuid_product();
  r.product = p != snp::Product::Unknown ? snp::to_string(p) : fallback_product;
  snp::Product decode_as = snp::product_from_name(r.product);
  require(decode_as != snp::Product::Unknown, ErrorKind::kInvalidInput, "platform.cache.product",
          "unknown SEV-SNP product '" + r.product + "' (Milan, Genoa or Turin)");
  require(!rep.chip_id_masked(), ErrorKind::kUntrusted, "platform.cache.chip_id_masked",
          "the report's CHIP_ID is masked (VLEK or MASK_CHIP_ID): fetch the VLEK from your cloud "
          "provider instead");
  r.chip_id.assign(rep.chip_id.begin(), rep.chip_id.end());
  snp::TcbVersion t = snp::TcbVersion::decode(rep.reported_tcb, decode_as);
  r.tcb = {t.bootloader, t.tee, t.snp, t.microcode, t.fmc};
  return r;
}

std::string vcek_url(const std::string& kds_base, const VcekRequest& r) {
  const bool turin = r.product == "Turin";
  require(r.chip_id.size() == 64, ErrorKind::kUntrusted, "platform.cache.chip_id", "CHIP_ID must be 64 bytes");
  std::string hwid = to_hex(turin ? ByteView(r.chip_id).first(8) : ByteView(r.chip_id));
  std::string url = strip_slash(kds_base) + "/vcek/v1/" + r.product + "/" + hwid + "?";
  if (turin) url += "fmcSPL=" + two_digits(r.tcb.fmc.value_or(0)) + "&";
  url += "blSPL=" + two_digits(r.tcb.bl) + "&teeSPL=" + two_digits(r.tcb.tee) +
         "&snpSPL=" + two_digits(r.tcb.snp) + "&ucodeSPL=" + two_digits(r.tcb.ucode);
  return url;
}

std::string vcek_file_name(const VcekRequest& r) {
  std::string name = "vcek-" + to_hex(r.chip_id) + "-" + std::to_string(r.tcb.bl) + "-" +
                     std::to_string(r.tcb.tee) + "-" + std::to_string(r.tcb.snp) + "-" +
                     std::to_string(r.tcb.ucode);
  if (r.product == "Turin") name += "-" + std::to_string(r.tcb.fmc.value_or(0));
  return name;
}

FileResult fetch_vcek(const VcekRequest& r, const Options& o) {
  const std::string url = vcek_url(o.kds_url, r);
  const fs::path path = o.amd_dir / vcek_file_name(r);
  return step(path, url, [&] {
    FetchResponse res = get_ok(o, url);
    Bytes der = to_bytes(res.body);
    Certificate cert;
    try {
      cert = Certificate::from_der(der);
    } catch (const Error& e) {
      throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", "VCEK from " + url + " is not a DER certificate: " + e.what());
    }
    snp::VcekInfo info = snp::parse_vcek_extensions(cert);
    require(info.bl_spl == r.tcb.bl && info.tee_spl == r.tcb.tee && info.snp_spl == r.tcb.snp &&
                info.ucode_spl == r.tcb.ucode, ErrorKind::kUntrusted,
            "platform.cache.invalid", "VCEK from " + url + " is for another TCB");
    const bool turin = r.product == "Turin";
    Bytes want = turin ? Bytes(r.chip_id.begin(), r.chip_id.begin() + 8) : r.chip_id;
    require(info.hw_id && *info.hw_id == want, ErrorKind::kUntrusted, "platform.cache.invalid",
            "VCEK from " + url + " is for another chip (hwID mismatch)");
    require(signed_by_any(cert, amd_candidates(o, r.product, {"SEV-" + r.product})), ErrorKind::kUntrusted,
            "platform.cache.invalid", "VCEK from " + url + " is not signed by the " + r.product + " ASK");
    ensure_dir(o.amd_dir);
    write_file_atomic(path, der);
  });
}

std::vector<FileResult> fetch_amd_crls(const Options& o, std::vector<std::string> products) {
  ensure_dir(o.amd_dir);
  const fs::path list_path = o.amd_dir / "crls.der";
  // Enarx's order: Genoa, Milan (then anything else).
  std::stable_sort(products.begin(), products.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& p) { return p == "Genoa" ? 0 : p == "Milan" ? 1 : 2; };
    return rank(a) < rank(b);
  });
  std::vector<attest::CrlListEntry> previous;
  try {
    if (fs::exists(list_path)) previous = attest::parse_crl_list(read_file(list_path));
  } catch (const Error&) {
    previous.clear();  // a corrupt list is rebuilt from scratch
  }
  std::vector<FileResult> results;
  std::vector<attest::CrlListEntry> entries;
  for (const auto& product : products) {
    const std::string label = std::string(kDefaultKdsUrl) + "/vcek/v1/" + product + "/crl";
    const std::string url = strip_slash(o.kds_url) + "/vcek/v1/" + product + "/crl";
    const fs::path path = o.amd_dir / ("crl-" + product + ".der");
    std::optional<Crl> got;
    results.push_back(step(path, url, [&] {
      FetchResponse res = get_ok(o, url);
      Crl crl;
      try {
        crl = Crl::from_der(to_bytes(res.body));
      } catch (const Error& e) {
        throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", "CRL from " + url + " is not DER: " + e.what());
      }
      require(signed_by_any(crl, amd_candidates(o, product, {"ARK-" + product})), ErrorKind::kUntrusted,
              "platform.cache.invalid", "CRL from " + url + " is not signed by ARK-" + product);
      // Never go back in time: a replayed older CRL could hide a revocation.
      for (const auto& p : previous) {
        if (p.url == label && crl.this_update() < p.crl.this_update())
          throw Error(ErrorKind::kUntrusted, "platform.cache.rollback", "CRL from " + url + " is older than the cached one");
      }
      write_file_atomic(path, as_bytes(res.body));  // byte-exact as served
      got = crl;
    }));
    if (got) {
      entries.push_back({label, *got});
    } else {
      for (const auto& p : previous)
        if (p.url == label) entries.push_back(p);
    }
  }
  if (!entries.empty()) write_file_atomic(list_path, attest::encode_crl_list(entries));
  return results;
}

// ---- Intel ------------------------------------------------------------------------------------------

namespace {

std::vector<Certificate> issuer_chain(const FetchResponse& res, const std::string& header,
                                      const std::string& url) {
  auto it = res.headers.find(header);
  require(it != res.headers.end(), ErrorKind::kUntrusted, "platform.cache.invalid",
          "GET " + url + ": no " + header + " header");
  auto chain = Certificate::chain_from_pem(url_decode(it->second));
  require(!chain.empty(), ErrorKind::kUntrusted, "platform.cache.invalid", "GET " + url + ": empty " + header);
  // The chain must end at the pinned Intel root and be signed along the way.
  const Certificate& root = dcap::intel_sgx_root_ca();
  require(chain.back() == root || chain.back().issuer() == root.subject(), ErrorKind::kUntrusted, "platform.cache.invalid",
          header + " does not chain to the Intel SGX Root CA");
  for (std::size_t i = 0; i + 1 < chain.size(); ++i)
    require(chain[i].signed_by(chain[i + 1].public_key()), ErrorKind::kUntrusted, "platform.cache.invalid",
            header + ": certificate " + std::to_string(i) + " is not signed by the next one");
  require(chain.back().signed_by(root.public_key()), ErrorKind::kUntrusted, "platform.cache.invalid",
          header + " is not signed by the Intel SGX Root CA");
  return chain;
}

template <typename SignedT>
void check_collateral_signature(const SignedT& doc, const Certificate& signer, const std::string& url) {
  require(doc.signature.size() == 64, ErrorKind::kUntrusted, "platform.cache.invalid", url + ": bad signature length");
  ByteView sig(doc.signature);
  require(signer.public_key().verify_ecdsa_rs(DigestAlgorithm::Sha256, as_bytes(doc.signed_body),
                                              sig.first(32), sig.subspan(32)), ErrorKind::kUntrusted,
          "platform.cache.invalid", url + ": signature does not verify with the TCB signing key");
}

}  // namespace

std::vector<FileResult> fetch_intel_collateral(const IntelRequest& r, const Options& o) {
  require(r.fmspc.size() == 6, ErrorKind::kInvalidInput, "platform.cache.fmspc", "FMSPC must be 6 bytes (12 hex digits)");
  ensure_dir(o.intel_dir);
  const std::string pcs = strip_slash(o.pcs_url);
  const std::string fmspc_upper = upper(to_hex(r.fmspc));
  const std::string fmspc_lower = to_hex(r.fmspc);
  std::vector<FileResult> results;
  std::optional<std::string> sgx_tcb_body;
  std::vector<Certificate> tcb_chain;

  auto tcb_info = [&](bool tdx) {
    const std::string url = pcs + (tdx ? "/tdx" : "/sgx") + "/certification/v4/tcb?fmspc=" + fmspc_upper;
    const fs::path path = o.intel_dir / ((tdx ? "tdx-tcbinfo-" : "tcbinfo-") + fmspc_lower + ".json");
    results.push_back(step(path, url, [&] {
      FetchResponse res = get_ok(o, url);
      auto chain = issuer_chain(res, "tcb-info-issuer-chain", url);
      dcap::SignedTcbInfo doc;
      try {
        doc = dcap::parse_tcb_info_document(res.body);
      } catch (const Error& e) {
        throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", url + ": " + e.describe());
      }
      require(doc.value.fmspc == r.fmspc, ErrorKind::kUntrusted, "platform.cache.invalid", url + ": TCB info for another FMSPC");
      require((doc.value.id == "TDX") == tdx, ErrorKind::kUntrusted, "platform.cache.invalid", url + ": wrong TCB info id");
      check_collateral_signature(doc, chain.front(), url);
      write_file_atomic(path, res.body);
      if (!tdx) {
        sgx_tcb_body = res.body;
        tcb_chain = chain;
        std::string pem;
        for (const auto& c : chain) pem += c.to_pem();
        write_file_atomic(o.intel_dir / "tcb_signing_chain.pem", pem);
      } else if (tcb_chain.empty()) {
        std::string pem;
        for (const auto& c : chain) pem += c.to_pem();
        write_file_atomic(o.intel_dir / "tcb_signing_chain.pem", pem);
      }
    }));
  };
  auto qe_identity = [&](bool tdx) {
    const std::string url = pcs + (tdx ? "/tdx" : "/sgx") + "/certification/v4/qe/identity";
    const fs::path path = o.intel_dir / (tdx ? "td_qe_identity.json" : "qe_identity.json");
    results.push_back(step(path, url, [&] {
      FetchResponse res = get_ok(o, url);
      auto chain = issuer_chain(res, "sgx-enclave-identity-issuer-chain", url);
      dcap::SignedEnclaveIdentity doc;
      try {
        doc = dcap::parse_enclave_identity_document(res.body);
      } catch (const Error& e) {
        throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", url + ": " + e.describe());
      }
      require(doc.value.id == (tdx ? "TD_QE" : "QE"), ErrorKind::kUntrusted, "platform.cache.invalid",
              url + ": identity id is '" + doc.value.id + "'");
      check_collateral_signature(doc, chain.front(), url);
      write_file_atomic(path, res.body);
    }));
  };

  if (r.sgx) {
    tcb_info(false);
    qe_identity(false);
  }
  if (r.tdx) {
    tcb_info(true);
    qe_identity(true);
  }

  // CRLs: root CA (signed by the pinned root), PCK processor / platform CA (DER must parse and be
  // issued by an Intel PCK CA; their issuer chain header is checked up to the root when sent).
  struct CrlSpec {
    std::string fetch_url, label, file;
  };
  const std::string canonical_pcs = std::string(kDefaultPcsUrl);
  std::vector<CrlSpec> specs = {
      {o.intel_root_crl_url, kDefaultIntelRootCrlUrl, "root_ca_crl.der"},
      {pcs + "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
       canonical_pcs + "/sgx/certification/v4/pckcrl?ca=processor&encoding=der", "pck_processor_crl.der"},
      {pcs + "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
       canonical_pcs + "/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "pck_platform_crl.der"},
  };
  std::vector<attest::CrlListEntry> entries;
  for (const auto& s : specs) {
    const fs::path path = o.intel_dir / s.file;
    results.push_back(step(path, s.fetch_url, [&] {
      FetchResponse res = get_ok(o, s.fetch_url);
      Crl crl;
      try {
        crl = Crl::from_bytes(to_bytes(res.body));
      } catch (const Error& e) {
        throw Error(ErrorKind::kUntrusted, "platform.cache.invalid", s.fetch_url + ": not a CRL: " + e.what());
      }
      if (s.file == "root_ca_crl.der") {
        require(crl.signed_by(dcap::intel_sgx_root_ca().public_key()), ErrorKind::kUntrusted, "platform.cache.invalid",
                s.fetch_url + ": root CA CRL not signed by the Intel SGX Root CA");
      } else {
        auto it = res.headers.find("sgx-pck-crl-issuer-chain");
        if (it != res.headers.end()) {
          auto chain = issuer_chain(res, "sgx-pck-crl-issuer-chain", s.fetch_url);
          require(crl.signed_by(chain.front().public_key()), ErrorKind::kUntrusted, "platform.cache.invalid",
                  s.fetch_url + ": PCK CRL not signed by its issuer chain");
        }
        require(crl.issuer().find("Intel SGX PCK") != std::string::npos, ErrorKind::kUntrusted, "platform.cache.invalid",
                s.fetch_url + ": CRL issuer is not an Intel SGX PCK CA");
      }
      // As served when DER (byte-exact), re-encoded when PCS sent PEM.
      write_file_atomic(path, is_pem(as_bytes(res.body)) ? crl.to_der() : to_bytes(res.body));
    }));
    // crls.der gets whatever is in the cache now (new or previous good file).
    try {
      if (fs::exists(path)) entries.push_back({s.label, dcap::load_crl_file(path)});
    } catch (const Error&) {
    }
  }
  if (!entries.empty()) write_file_atomic(o.intel_dir / "crls.der", attest::encode_crl_list(entries));
  if (sgx_tcb_body) {
    write_file_atomic(o.intel_dir / "tcb.der", attest::encode_tcb_package(tcb_chain, as_bytes(*sgx_tcb_body)));
  }
  write_file_atomic(o.intel_dir / "fmspc.txt", fmspc_upper + "\n");
  return results;
}

}  // namespace enarx::platform::cache
