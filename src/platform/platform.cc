#include "platform/platform.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "core/error.h"

namespace enarx::platform {

const CertTableEntry* Evidence::cert(std::string_view name) const {
  for (const auto& c : certs) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::optional<Bytes> Evidence::endorsement_cert() const {
  if (const auto* c = cert("vlek")) return c->der;
  if (const auto* c = cert("vcek")) return c->der;
  return std::nullopt;
}

// ---- GUID certificate table -------------------------------------------------------------------

Bytes guid_to_bytes(std::string_view guid) {
  std::string hex;
  for (char c : guid) {
    if (c != '-') hex.push_back(c);
  }
  require(guid.size() == 36 && hex.size() == 32, ErrorKind::kInvalidInput, "platform.guid", "malformed GUID");
  return from_hex(hex);
}

std::string guid_from_bytes(ByteView b) {
  std::string hex = to_hex(b.first(16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string cert_name_for_guid(std::string_view guid) {
  if (guid == kGuidVcek) return "vcek";
  if (guid == kGuidVlek) return "vlek";
  if (guid == kGuidAsk) return "ask";
  if (guid == kGuidArk) return "ark";
  return "";
}

namespace {
std::uint32_t le32(ByteView b, std::size_t off) {
  return static_cast<std::uint32_t>(b[off]) | static_cast<std::uint32_t>(b[off + 1]) << 8 |
         static_cast<std::uint32_t>(b[off + 2]) << 16 | static_cast<std::uint32_t>(b[off + 3]) << 24;
}
void put_le32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
constexpr std::size_t kEntrySize = 24;
}  // namespace

std::vector<CertTableEntry> parse_cert_table(ByteView table) {
  std::vector<CertTableEntry> out;
  for (std::size_t pos = 0;; pos += kEntrySize) {
    require(pos + kEntrySize <= table.size(), ErrorKind::kInvalidInput, "platform.cert_table.malformed",
            "certificate table has no terminating all-zero entry");
    ByteView e = table.subspan(pos, kEntrySize);
    bool zero = true;
    for (auto b : e) zero = zero && b == 0;
    if (zero) break;
    std::uint32_t off = le32(e, 16), len = le32(e, 20);
    require(static_cast<std::uint64_t>(off) + len <= table.size() && off >= pos + kEntrySize, ErrorKind::kInvalidInput,
            "platform.cert_table.malformed",
            "certificate table entry " + std::to_string(out.size()) + " points outside the table");
    CertTableEntry entry;
    entry.guid = guid_from_bytes(e.first(16));
    entry.name = cert_name_for_guid(entry.guid);
    entry.der.assign(table.begin() + off, table.begin() + off + len);
    out.push_back(std::move(entry));
  }
  return out;
}

Bytes encode_cert_table(const std::vector<CertTableEntry>& entries) {
  Bytes out;
  std::size_t offset = (entries.size() + 1) * kEntrySize;
  for (const auto& e : entries) {
    Bytes g = guid_to_bytes(e.guid);
    out.insert(out.end(), g.begin(), g.end());
    put_le32(out, static_cast<std::uint32_t>(offset));
    put_le32(out, static_cast<std::uint32_t>(e.der.size()));
    offset += e.der.size();
  }
  out.resize(out.size() + kEntrySize, 0);
  for (const auto& e : entries) out.insert(out.end(), e.der.begin(), e.der.end());
  return out;
}

// ---- key binding ------------------------------------------------------------------------------

// ---- no TEE -----------------------------------------------------------------------------------

namespace {
class NoTeeProvider final : public EvidenceProvider {
 public:
  explicit NoTeeProvider(Platform p) : p_(p) {}
  Platform platform() const override { return p_; }
  Evidence acquire(ByteView report_data) override {
    require(report_data.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
    Evidence e;
    e.platform = p_;
    e.source = "none";
    e.report_data.assign(report_data.begin(), report_data.end());
    return e;
  }

 private:
  Platform p_;
};
}  // namespace

std::unique_ptr<EvidenceProvider> make_no_tee_provider(Platform p) {
  return std::make_unique<NoTeeProvider>(p);
}

}  // namespace enarx::platform
