#include "simulation/platforms.h"

#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/der.h"
#include "core/error.h"
#include "core/file.h"

namespace fs = std::filesystem;

namespace enarx::platform::sim {

namespace {

constexpr auto kDay = std::chrono::hours(24);
constexpr auto kTenYears = std::chrono::hours(24 * 3653);

ossl::MdCtxPtr pss_ctx(const PrivateKey& key) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ossl::check(ctx && EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha384(), nullptr, key.get()) == 1 &&
                  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1, ErrorKind::kInternal,
              "sim.crypto", "cannot set up RSASSA-PSS signing");
  return ctx;
}

std::vector<std::pair<std::string, std::string>> amd_like_name(const std::string& cn) {
  // Same shape and CNs as AMD's certificates (verifiers key products off the CNs), but an
  // organisation that says what this is.
  return {{"OU", "Engineering"}, {"C", "US"},  {"L", "Santa Clara"}, {"ST", "CA"},
          {"O", "SIMULATED Enarx test root (not AMD)"}, {"CN", cn}};
}

Bytes der_integer(std::int64_t v) {
  der::Writer w;
  w.add_integer(v);
  return w.take();
}

Bytes der_ia5(std::string_view s) {
  der::Writer w;
  w.add(der::kIa5String, as_bytes(s));
  return w.take();
}

void put_le(Bytes& r, std::size_t off, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) r[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t tcb_raw(const SnpSimConfig& c) {
  // Milan/Genoa TCB_VERSION: byte0 BOOT_LOADER, byte1 TEE, byte6 SNP, byte7 MICROCODE.
  return std::uint64_t{c.bl_spl} | std::uint64_t{c.tee_spl} << 8 | std::uint64_t{c.snp_spl} << 48 |
         std::uint64_t{c.ucode_spl} << 56;
}

nlohmann::json config_to_json(const SnpSimConfig& c) {
  return {{"product", c.product},
          {"chip_id", to_hex(c.chip_id)},
          {"bl_spl", c.bl_spl},
          {"tee_spl", c.tee_spl},
          {"snp_spl", c.snp_spl},
          {"ucode_spl", c.ucode_spl},
          {"measurement", to_hex(c.measurement)},
          {"host_data", to_hex(c.host_data)},
          {"policy", c.policy},
          {"report_version", c.report_version},
          {"vmpl", c.vmpl},
          {"guest_svn", c.guest_svn}};
}

SnpSimConfig config_from_json(const nlohmann::json& j) {
  SnpSimConfig c;
  c.product = j.at("product").get<std::string>();
  c.chip_id = from_hex(j.at("chip_id").get<std::string>());
  c.bl_spl = j.at("bl_spl").get<std::uint8_t>();
  c.tee_spl = j.at("tee_spl").get<std::uint8_t>();
  c.snp_spl = j.at("snp_spl").get<std::uint8_t>();
  c.ucode_spl = j.at("ucode_spl").get<std::uint8_t>();
  c.measurement = from_hex(j.at("measurement").get<std::string>());
  c.host_data = from_hex(j.at("host_data").get<std::string>());
  c.policy = j.at("policy").get<std::uint64_t>();
  c.report_version = j.at("report_version").get<std::uint32_t>();
  c.vmpl = j.at("vmpl").get<std::uint32_t>();
  c.guest_svn = j.at("guest_svn").get<std::uint32_t>();
  require(c.chip_id.size() == 64 && c.measurement.size() == 48 && c.host_data.size() == 32, ErrorKind::kInvalidInput,
          "sim.corrupt", "config.json has fields of the wrong size");
  return c;
}

void normalize(SnpSimConfig& c) {
  if (c.chip_id.empty()) c.chip_id = random_bytes(64);
  if (c.measurement.empty()) {
    c.measurement.resize(48);
    for (std::size_t i = 0; i < 48; ++i) c.measurement[i] = static_cast<std::uint8_t>(0xe0 + i % 16);
  }
  if (c.host_data.empty()) c.host_data.assign(32, 0);
  require(c.chip_id.size() == 64, ErrorKind::kInvalidInput, "sim.config", "chip id must be 64 bytes");
  require(c.measurement.size() == 48, ErrorKind::kInvalidInput, "sim.config", "measurement must be 48 bytes");
  require(c.host_data.size() == 32, ErrorKind::kInvalidInput, "sim.config", "host data must be 32 bytes");
  require(c.report_version >= 2 && c.report_version <= 3, ErrorKind::kInvalidInput, "sim.config",
          "simulated report version must be 2 or 3");
  require((c.policy & (1u << 17)) != 0, ErrorKind::kInvalidInput, "sim.config", "policy bit 17 (reserved, 1) must be set");
}

}  // namespace

PrivateKey generate_rsa_2048() {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  ossl::check(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
                  EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) == 1 &&
                  EVP_PKEY_generate(ctx.get(), &raw) == 1 && raw, ErrorKind::kInternal,
              "sim.crypto", "RSA key generation failed");
  return PrivateKey(ossl::PkeyPtr(raw));
}

Certificate resign_pss_sha384(const Certificate& cert, const PrivateKey& issuer_key) {
  ossl::X509Ptr x(X509_dup(cert.get()));
  auto ctx = pss_ctx(issuer_key);
  ossl::check(x && X509_sign_ctx(x.get(), ctx.get()) > 0, ErrorKind::kInternal, "sim.crypto",
              "RSASSA-PSS certificate signing failed");
  return Certificate::from_der(ossl::to_der(i2d_X509, x.get(), "sim.crypto"));
}

namespace {

Crl make_empty_crl(const Certificate& ark, const PrivateKey& ark_key, TimePoint now) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  ossl::Asn1TimePtr last(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now - kDay)));
  ossl::Asn1TimePtr next(
      ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now + kTenYears)));
  ossl::check(crl && last && next && X509_CRL_set_version(crl.get(), 1) == 1 &&
                  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ark.get())) == 1 &&
                  X509_CRL_set1_lastUpdate(crl.get(), last.get()) == 1 &&
                  X509_CRL_set1_nextUpdate(crl.get(), next.get()) == 1, ErrorKind::kInternal,
              "sim.crypto", "cannot build CRL");
  auto ctx = pss_ctx(ark_key);
  ossl::check(X509_CRL_sign_ctx(crl.get(), ctx.get()) > 0, ErrorKind::kInternal, "sim.crypto", "CRL signing failed");
  return Crl::from_der(ossl::to_der(i2d_X509_CRL, crl.get(), "sim.crypto"));
}

void write_key(const fs::path& p, const PrivateKey& k) { write_file_atomic(p, k.to_pem_pkcs8(), 0600); }

}  // namespace

fs::path snp_dir(const fs::path& sim_dir) { return sim_dir / "snp"; }

void init_snp(const fs::path& sim_dir, const SnpSimConfig& config_in, TimePoint now) {
  SnpSimConfig config = config_in;
  normalize(config);
  fs::path dir = snp_dir(sim_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kInternal, "sim.io", "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);

  PrivateKey ark_key = generate_rsa_2048();
  PrivateKey ask_key = generate_rsa_2048();
  PrivateKey vcek_key = PrivateKey::generate(KeyType::EcP384);
  const TimePoint nb = now - kDay, na = now + kTenYears;

  Certificate ark = CertificateBuilder()
                        .subject(amd_like_name("ARK-" + config.product))
                        .public_key(ark_key.public_key())
                        .serial(from_hex("010000"))
                        .validity(nb, na)
                        .ca(true)
                        .key_usage({"keyCertSign", "cRLSign"})
                        .sign(ark_key);
  ark = resign_pss_sha384(ark, ark_key);
  Certificate ask = CertificateBuilder()
                        .subject(amd_like_name("SEV-" + config.product))
                        .public_key(ask_key.public_key())
                        .serial(from_hex("010001"))
                        .validity(nb, na)
                        .ca(true)
                        .key_usage({"keyCertSign", "cRLSign"})
                        // Where AMD's ASK names the ARK's CRL; CrlList labels must match it.
                        .crl_distribution_point("https://kdsintf.amd.com/vcek/v1/" + config.product + "/crl")
                        .sign(ark_key, &ark);
  ask = resign_pss_sha384(ask, ark_key);

  const std::string amd = "1.3.6.1.4.1.3704.1.";
  CertificateBuilder vb;
  vb.subject(amd_like_name("SEV-VCEK"))
      .public_key(vcek_key.public_key())
      .serial(Bytes{0})
      .validity(nb, na)
      .add_extension({amd + "1", false, der_integer(1)})
      .add_extension({amd + "2", false, der_ia5(config.product + "-B0")})
      .add_extension({amd + "3.1", false, der_integer(config.bl_spl)})
      .add_extension({amd + "3.2", false, der_integer(config.tee_spl)})
      .add_extension({amd + "3.3", false, der_integer(config.snp_spl)})
      .add_extension({amd + "3.4", false, der_integer(0)})
      .add_extension({amd + "3.5", false, der_integer(0)})
      .add_extension({amd + "3.6", false, der_integer(0)})
      .add_extension({amd + "3.7", false, der_integer(0)})
      .add_extension({amd + "3.8", false, der_integer(config.ucode_spl)})
      .add_extension({amd + "4", false, config.chip_id});
  Certificate vcek = resign_pss_sha384(vb.sign(ask_key, &ask), ask_key);
  Crl crl = make_empty_crl(ark, ark_key, now);

  write_key(dir / "ark.key", ark_key);
  write_key(dir / "ask.key", ask_key);
  write_key(dir / "vcek.key", vcek_key);
  write_file_atomic(dir / "ark.pem", ark.to_pem());
  write_file_atomic(dir / "ask.pem", ask.to_pem());
  write_file_atomic(dir / "vcek.pem", vcek.to_pem());
  write_file_atomic(dir / "vcek.der", vcek.to_der());
  write_file_atomic(dir / "cert_chain.pem", ask.to_pem() + ark.to_pem());
  write_file_atomic(dir / "crl.der", crl.to_der());
  write_file_atomic(dir / "config.json", config_to_json(config).dump(2) + "\n");
}

SnpSimFiles load_snp(const fs::path& sim_dir) {
  fs::path dir = snp_dir(sim_dir);
  std::error_code ec;
  if (!fs::exists(dir / "config.json", ec))
    throw Error(ErrorKind::kNotFound, "sim.not_initialized", dir.string() +
                                           " has no simulated SNP platform; run `enarx platform "
                                           "sim init " + sim_dir.string() + "`");
  try {
    SnpSimFiles f;
    f.config = config_from_json(nlohmann::json::parse(read_text_file(dir / "config.json")));
    f.ark = Certificate::from_pem(read_text_file(dir / "ark.pem"));
    f.ask = Certificate::from_pem(read_text_file(dir / "ask.pem"));
    f.vcek = Certificate::from_pem(read_text_file(dir / "vcek.pem"));
    f.vcek_key = PrivateKey::from_pem(read_text_file(dir / "vcek.key"));
    f.crl = Crl::from_der(read_file(dir / "crl.der"));
    return f;
  } catch (const Error& e) {
    if (e.code() == "sim.corrupt") throw;
    throw Error(ErrorKind::kInvalidInput, "sim.corrupt", "simulated SNP platform in " + dir.string() + " is unusable: " +
                                   e.describe());
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kInvalidInput, "sim.corrupt", "simulated SNP platform in " + dir.string() + " is unusable: " + e.what());
  }
}

Bytes build_snp_report(const SnpSimConfig& config_in, ByteView report_data, const PrivateKey& vcek_key) {
  require(report_data.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
  SnpSimConfig config = config_in;
  normalize(config);
  Bytes r(0x4A0, 0);
  put_le(r, 0x000, config.report_version, 4);
  put_le(r, 0x004, config.guest_svn, 4);
  put_le(r, 0x008, config.policy, 8);
  put_le(r, 0x030, config.vmpl, 4);
  put_le(r, 0x034, 1, 4);  // ECDSA P-384 with SHA-384
  const std::uint64_t tcb = tcb_raw(config);
  put_le(r, 0x038, tcb, 8);  // CURRENT_TCB
  put_le(r, 0x040, 1, 8);    // PLATFORM_INFO: SMT enabled
  put_le(r, 0x048, 0, 4);    // KEY_INFO: signed by the VCEK
  std::memcpy(r.data() + 0x050, report_data.data(), 64);
  std::memcpy(r.data() + 0x090, config.measurement.data(), 48);
  std::memcpy(r.data() + 0x0C0, config.host_data.data(), 32);
  Bytes report_id = random_bytes(32);
  std::memcpy(r.data() + 0x140, report_id.data(), 32);
  put_le(r, 0x180, tcb, 8);  // REPORTED_TCB
  if (config.report_version >= 3) {
    // CPUID family/model/stepping of the product (Milan 19h/01h, Genoa 19h/11h).
    r[0x188] = 0x19;
    r[0x189] = config.product == "Genoa" ? 0x11 : 0x01;
    r[0x18A] = 0x01;
  }
  std::memcpy(r.data() + 0x1A0, config.chip_id.data(), 64);
  put_le(r, 0x1E0, tcb, 8);  // COMMITTED_TCB
  r[0x1E8] = 4;              // current firmware build / minor / major = 1.52.4
  r[0x1E9] = 52;
  r[0x1EA] = 1;
  r[0x1EC] = 4;
  r[0x1ED] = 52;
  r[0x1EE] = 1;
  put_le(r, 0x1F0, tcb, 8);  // LAUNCH_TCB

  Bytes sig = ecdsa_der_to_raw(vcek_key.sign(DigestAlgorithm::Sha384, ByteView(r).first(0x2A0)), 48);
  // Stored little-endian, each component zero-extended to 72 bytes.
  for (std::size_t i = 0; i < 48; ++i) {
    r[0x2A0 + i] = sig[47 - i];
    r[0x2E8 + i] = sig[95 - i];
  }
  return r;
}

namespace {

class SimSnpProvider final : public EvidenceProvider {
 public:
  explicit SimSnpProvider(SnpSimFiles files) : f_(std::move(files)) {}
  Platform platform() const override { return Platform::Snp; }
  bool simulated() const override { return true; }
  Evidence acquire(ByteView report_data) override {
    Evidence ev;
    ev.platform = Platform::Snp;
    ev.simulated = true;
    ev.source = "sim";
    ev.report_data.assign(report_data.begin(), report_data.end());
    ev.report_or_quote = build_snp_report(f_.config, report_data, f_.vcek_key);
    ev.certs = {{std::string(kGuidVcek), "vcek", f_.vcek.to_der()},
                {std::string(kGuidAsk), "ask", f_.ask.to_der()},
                {std::string(kGuidArk), "ark", f_.ark.to_der()}};
    return ev;
  }

 private:
  SnpSimFiles f_;
};

}  // namespace

std::unique_ptr<EvidenceProvider> make_sim_snp_provider(const fs::path& sim_dir) {
  return std::make_unique<SimSnpProvider>(load_snp(sim_dir));
}

}  // namespace enarx::platform::sim
