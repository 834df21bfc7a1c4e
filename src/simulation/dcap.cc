#include "simulation/dcap.h"

#include <nlohmann/json.hpp>
#include <openssl/x509v3.h>

#include "attest/dcap/quote.h"
#include "core/der.h"
#include "core/error.h"

namespace enarx::attest::dcap {
namespace {

using ojson = nlohmann::ordered_json;

const Bytes kSimQeMrsigner(32, 0x5a);

void put_le(Bytes& b, std::size_t off, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b.at(off + i) = static_cast<std::uint8_t>(v >> (8 * i));
}
void put(Bytes& b, std::size_t off, const Bytes& v) {
  if (off + v.size() > b.size()) throw Error(ErrorKind::kInvalidInput, "dcap.simulate.field", "field does not fit");
  std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(off));
}
void append(Bytes& out, const Bytes& v) { out.insert(out.end(), v.begin(), v.end()); }
void append_le(Bytes& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes sign_raw(const PrivateKey& key, ByteView data) {
  return ecdsa_der_to_raw(key.sign(DigestAlgorithm::Sha256, data), 32);
}

Bytes ec_point(const PublicKey& key) {
  const Bytes spki = key.spki_der();  // P-256 SPKI ends with 0x04 || X || Y
  return Bytes(spki.end() - 64, spki.end());
}

std::string upper_hex(ByteView b) {
  std::string s = to_hex(b);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Certificate issue(const std::string& cn, const PrivateKey& key, const PrivateKey& issuer_key,
                  const Certificate* issuer, bool ca, std::optional<int> path_len,
                  const SimulationOptions& o, std::string_view crl_url, std::vector<Extension> extra = {}) {
  CertificateBuilder b;
  // Like Intel's certificates, each names where its issuer's CRL is (Enarx CrlList labels).
  if (!crl_url.empty()) b.crl_distribution_point(crl_url);
  b.subject({{"CN", cn}, {"O", "Enarx simulation"}})
      .public_key(key.public_key())
      .validity(o.not_before, o.not_after)
      .ca(ca, path_len)
      .key_usage(ca ? std::vector<std::string>{"keyCertSign", "cRLSign"}
                    : std::vector<std::string>{"digitalSignature"});
  for (auto& e : extra) b.add_extension(std::move(e));
  return b.sign(issuer_key, issuer);
}

}  // namespace

Bytes encode_pck_extension(const PckExtension& e) {
  const std::string p = "1.2.840.113741.1.13.1.";
  auto entry = [](const std::string& oid, auto&& add_value) {
    der::Writer w;
    w.add_oid(oid);
    add_value(w);
    return w.wrap(der::kSequence);
  };
  der::Writer tcb;
  for (int i = 0; i < 16; ++i) {
    tcb.add_raw(entry(p + "2." + std::to_string(i + 1),
                      [&](der::Writer& w) { w.add_integer(e.tcb_components[static_cast<std::size_t>(i)]); }));
  }
  tcb.add_raw(entry(p + "2.17", [&](der::Writer& w) { w.add_integer(e.pcesvn); }));
  tcb.add_raw(entry(p + "2.18", [&](der::Writer& w) { w.add_octet_string(e.cpusvn); }));
  der::Writer top;
  top.add_raw(entry(p + "1", [&](der::Writer& w) { w.add_octet_string(e.ppid); }));
  top.add_raw(entry(p + "2", [&](der::Writer& w) { w.add_sequence(tcb); }));
  top.add_raw(entry(p + "3", [&](der::Writer& w) { w.add_octet_string(e.pce_id); }));
  top.add_raw(entry(p + "4", [&](der::Writer& w) { w.add_octet_string(e.fmspc); }));
  top.add_raw(entry(p + "5", [&](der::Writer& w) {
    const std::uint8_t t = static_cast<std::uint8_t>(e.sgx_type);
    w.add(0x0a, ByteView(&t, 1));
  }));
  return top.wrap(der::kSequence);
}

SimulatedPlatform::SimulatedPlatform(SimulationOptions o) : options_(std::move(o)) {
  root_key_ = PrivateKey::generate(KeyType::EcP256);
  pck_ca_key_ = PrivateKey::generate(KeyType::EcP256);
  pck_key_ = PrivateKey::generate(KeyType::EcP256);
  tcb_signer_key_ = PrivateKey::generate(KeyType::EcP256);
  att_key_ = PrivateKey::generate(KeyType::EcP256);
  root_ = issue("Simulated SGX Root CA", root_key_, root_key_, nullptr, true, 1, options_, "");
  pck_ca_ = issue("Simulated SGX PCK Platform CA", pck_ca_key_, root_key_, &root_, true, 0, options_,
                  kSimulatedRootCrlUrl);
  PckExtension ext;
  ext.ppid = Bytes(16, 0x77);
  ext.tcb_components = options_.tcb_components;
  ext.pcesvn = options_.pcesvn;
  ext.cpusvn = Bytes(options_.tcb_components.begin(), options_.tcb_components.end());
  ext.pce_id = {0, 0};
  ext.fmspc = options_.fmspc;
  ext.sgx_type = 1;
  pck_ = issue("Simulated SGX PCK Certificate", pck_key_, pck_ca_key_, &pck_ca_, false, std::nullopt,
               options_, kSimulatedPckCrlUrl, {Extension{kSgxExtensionOid, false, encode_pck_extension(ext)}});
  tcb_signer_ = issue("Simulated SGX TCB Signing", tcb_signer_key_, root_key_, &root_, false,
                      std::nullopt, options_, kSimulatedRootCrlUrl);
}

SimulatedPlatform::SimulatedPlatform(SimulationOptions o, SimulatedPki pki)
    : options_(std::move(o)),
      root_key_(std::move(pki.root_key)),
      pck_ca_key_(std::move(pki.pck_ca_key)),
      pck_key_(std::move(pki.pck_key)),
      tcb_signer_key_(std::move(pki.tcb_signer_key)),
      att_key_(std::move(pki.attestation_key)),
      root_(std::move(pki.root)),
      pck_ca_(std::move(pki.pck_ca)),
      pck_(std::move(pki.pck)),
      tcb_signer_(std::move(pki.tcb_signer)) {
  // A restored PKI must still hang together, or every quote it makes would fail far away.
  require(root_key_ && pck_ca_key_ && pck_key_ && tcb_signer_key_ && att_key_, ErrorKind::kInvalidInput, "dcap.simulate.pki",
          "simulated PKI is missing a key");
  require(pck_.public_key().spki_der() == pck_key_.public_key().spki_der() &&
              root_.public_key().spki_der() == root_key_.public_key().spki_der(), ErrorKind::kInvalidInput,
          "dcap.simulate.pki", "simulated PKI keys do not match its certificates");
}

SimulatedPki SimulatedPlatform::pki() const {
  return {root_key_, pck_ca_key_, pck_key_, tcb_signer_key_, att_key_, root_, pck_ca_, pck_, tcb_signer_};
}

TrustStore SimulatedPlatform::trust_store() const {
  TrustStore t;
  t.add_simulated_root(root_);
  return t;
}

Bytes SimulatedPlatform::quote(std::uint16_t version, std::uint32_t tee_type, const Bytes& body) const {
  Bytes out;
  append_le(out, version, 2);
  append_le(out, kAttKeyEcdsaP256, 2);
  append_le(out, tee_type, 4);
  append_le(out, version == 3 ? options_.qe_svn : 0, 2);
  append_le(out, version == 3 ? options_.pcesvn : 0, 2);
  out.insert(out.end(), kIntelQeVendorId.begin(), kIntelQeVendorId.end());
  append(out, Bytes(20, 0));
  append(out, body);

  const Bytes att_pub = ec_point(att_key_.public_key());
  const Bytes auth(32, 0xa5);
  Bytes qe(kSgxReportSize, 0);
  put_le(qe, 48, 0x11, 8);  // QE ATTRIBUTES: INIT | PROVISIONKEY
  put(qe, 64, Bytes(32, 0x66));
  put(qe, 128, kSimQeMrsigner);
  put_le(qe, 256, tee_type == kTeeTypeTdx ? 2 : 1, 2);
  put_le(qe, 258, options_.qe_svn, 2);
  Bytes bound = att_pub;
  append(bound, auth);
  put(qe, 320, sha256(bound));
  const std::string pem = pck_.to_pem() + pck_ca_.to_pem() + root_.to_pem();

  Bytes qe_part = qe;
  append(qe_part, sign_raw(pck_key_, qe));
  append_le(qe_part, auth.size(), 2);
  append(qe_part, auth);
  append_le(qe_part, 5, 2);
  append_le(qe_part, pem.size(), 4);
  append(qe_part, to_bytes(pem));

  Bytes sig = sign_raw(att_key_, out);
  append(sig, att_pub);
  if (version == 3) {
    append(sig, qe_part);
  } else {
    append_le(sig, 6, 2);
    append_le(sig, qe_part.size(), 4);
    append(sig, qe_part);
  }
  append_le(out, sig.size(), 4);
  append(out, sig);
  return out;
}

Bytes SimulatedPlatform::sgx_quote(const SgxEnclaveFields& f) const {
  Bytes body(kSgxReportSize, 0);
  put(body, 0, Bytes(options_.tcb_components.begin(), options_.tcb_components.end()));
  put_le(body, 16, f.misc_select, 4);
  put(body, 32, f.isv_ext_prod_id);
  put_le(body, 48, f.flags, 8);
  put_le(body, 56, f.xfrm, 8);
  put(body, 64, f.mrenclave);
  put(body, 128, f.mrsigner);
  put(body, 192, f.config_id);
  put_le(body, 256, f.isv_prod_id, 2);
  put_le(body, 258, f.isv_svn, 2);
  put_le(body, 260, f.config_svn, 2);
  put(body, 304, f.isv_family_id);
  put(body, 320, f.report_data);
  return quote(3, kTeeTypeSgx, body);
}

Bytes SimulatedPlatform::tdx_quote(const TdFields& f) const {
  Bytes body(kTdReport10Size, 0);
  put(body, 0, f.tee_tcb_svn);
  put(body, 16, f.mrseam);
  put(body, 64, f.mrsignerseam);
  put_le(body, 112, f.seam_attributes, 8);
  put_le(body, 120, f.td_attributes, 8);
  put_le(body, 128, f.xfam, 8);
  put(body, 136, f.mrtd);
  put(body, 184, f.mrconfigid);
  put(body, 232, f.mrowner);
  put(body, 280, f.mrownerconfig);
  for (std::size_t i = 0; i < 4; ++i) put(body, 328 + 48 * i, f.rtmr[i]);
  put(body, 520, f.report_data);
  return quote(4, kTeeTypeTdx, body);
}

std::string SimulatedPlatform::sign_document(const std::string& key, const std::string& body) const {
  const Bytes sig = sign_raw(tcb_signer_key_, as_bytes(body));
  return "{\"" + key + "\":" + body + ",\"signature\":\"" + to_hex(sig) + "\"}";
}

std::string SimulatedPlatform::tcb_info_document(bool tdx) const {
  const std::string issue = format_rfc3339(options_.not_before);
  const std::string next = format_rfc3339(options_.not_after);
  ojson info;
  info["id"] = tdx ? "TDX" : "SGX";
  info["version"] = 3;
  info["issueDate"] = issue;
  info["nextUpdate"] = next;
  info["fmspc"] = upper_hex(options_.fmspc);
  info["pceId"] = "0000";
  info["tcbType"] = 0;
  info["tcbEvaluationDataNumber"] = options_.tcb_evaluation_data_number;
  if (tdx) {
    info["tdxModule"] = {{"mrsigner", std::string(96, '0')},
                         {"attributes", "0000000000000000"},
                         {"attributesMask", "FFFFFFFFFFFFFFFF"}};
    info["tdxModuleIdentities"] = ojson::array(
        {{{"id", "TDX_01"},
          {"mrsigner", std::string(96, '0')},
          {"attributes", "0000000000000000"},
          {"attributesMask", "FFFFFFFFFFFFFFFF"},
          {"tcbLevels", ojson::array({{{"tcb", {{"isvsvn", 0}}},
                                       {"tcbDate", issue},
                                       {"tcbStatus", "UpToDate"}}})}}});
  }
  ojson comps = ojson::array();
  for (auto c : options_.tcb_components) comps.push_back({{"svn", c}});
  ojson tcb = {{"sgxtcbcomponents", comps}, {"pcesvn", options_.pcesvn}};
  if (tdx) {
    ojson tdx_comps = ojson::array();
    for (int i = 0; i < 16; ++i) tdx_comps.push_back({{"svn", i == 2 ? 2 : 0}});
    tcb["tdxtcbcomponents"] = tdx_comps;
  }
  ojson level = {{"tcb", tcb}, {"tcbDate", issue}, {"tcbStatus", options_.tcb_status}};
  if (!options_.advisory_ids.empty()) level["advisoryIDs"] = options_.advisory_ids;
  info["tcbLevels"] = ojson::array({level});
  return sign_document("tcbInfo", info.dump());
}

std::string SimulatedPlatform::qe_identity_document(bool tdx) const {
  ojson id;
  id["id"] = tdx ? "TD_QE" : "QE";
  id["version"] = 2;
  id["issueDate"] = format_rfc3339(options_.not_before);
  id["nextUpdate"] = format_rfc3339(options_.not_after);
  id["tcbEvaluationDataNumber"] = options_.tcb_evaluation_data_number;
  id["miscselect"] = "00000000";
  id["miscselectMask"] = "FFFFFFFF";
  id["attributes"] = "11000000000000000000000000000000";
  id["attributesMask"] = "FBFFFFFFFFFFFFFF0000000000000000";
  id["mrsigner"] = upper_hex(kSimQeMrsigner);
  id["isvprodid"] = tdx ? 2 : 1;
  id["tcbLevels"] = ojson::array({{{"tcb", {{"isvsvn", options_.qe_svn}}},
                                   {"tcbDate", format_rfc3339(options_.not_before)},
                                   {"tcbStatus", "UpToDate"}}});
  return sign_document("enclaveIdentity", id.dump());
}

Crl SimulatedPlatform::make_crl(const Certificate& issuer, const PrivateKey& key,
                                const std::vector<Certificate>& revoked) const {
  ossl::X509CrlPtr crl(X509_CRL_new());
  if (!crl) throw Error(ErrorKind::kInternal, "dcap.simulate.crl", "X509_CRL_new failed");
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  const auto t0 = std::chrono::system_clock::to_time_t(options_.not_before);
  const auto t1 = std::chrono::system_clock::to_time_t(options_.not_after);
  ossl::Asn1TimePtr last(ASN1_TIME_set(nullptr, t0));
  ossl::Asn1TimePtr next(ASN1_TIME_set(nullptr, t1));
  X509_CRL_set1_lastUpdate(crl.get(), last.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (const auto& cert : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(cert.get()));
    X509_REVOKED_set_revocationDate(r, last.get());
    X509_CRL_add0_revoked(crl.get(), r);
  }
  ossl::Asn1IntegerPtr number(ASN1_INTEGER_new());
  ASN1_INTEGER_set(number.get(), 1);
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0);
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), key.get(), EVP_sha256()) <= 0) {
    throw Error(ErrorKind::kInternal, "dcap.simulate.crl", "X509_CRL_sign failed");
  }
  return Crl(std::move(crl));
}

Crl SimulatedPlatform::root_crl(const std::vector<Certificate>& revoked) const {
  return make_crl(root_, root_key_, revoked);
}

Crl SimulatedPlatform::pck_ca_crl(const std::vector<Certificate>& revoked) const {
  return make_crl(pck_ca_, pck_ca_key_, revoked);
}

Collateral SimulatedPlatform::collateral(bool tdx) const {
  Collateral c;
  c.tcb_info = parse_tcb_info_document(tcb_info_document(tdx));
  c.qe_identity = parse_enclave_identity_document(qe_identity_document(tdx));
  c.tcb_signing_chain = {tcb_signer_, root_};
  c.crls = {root_crl(), pck_ca_crl()};
  return c;
}

}  // namespace enarx::attest::dcap
