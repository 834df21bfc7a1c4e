// Which TEE this process runs in, and how to get hardware evidence out of it.
//
// Everything that touches the machine takes the filesystem root as a parameter ("/" in
// production, a temp dir holding a fake sysfs/dev tree in tests), and the one ioctl path
// (/dev/sev-guest) sits behind SevGuestDevice so tests can fake the driver.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/enarx/binding.h"
#include "attest/enarx/platform.h"
#include "core/bytes.h"

namespace enarx::platform {

// The one platform enum and Enarx's key-binding rule (src/attest/enarx).
using ::enarx::Platform;
using ::enarx::platform_from_string;
using ::enarx::to_string;
using attest::keep_key_type;
using attest::report_data_for_spki;

// One entry of the SNP certificate table (GHCB GUID table), or a certificate that came with the
// evidence some other way. `der` is exactly what the platform handed out.
struct CertTableEntry {
  std::string guid;  // lower-case 8-4-4-4-12
  std::string name;  // "vcek", "vlek", "ask", "ark", or "" for an unknown GUID
  Bytes der;
};

inline constexpr std::string_view kGuidVcek = "63da758d-e664-4564-adc5-f4b93be8accd";
inline constexpr std::string_view kGuidVlek = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";
inline constexpr std::string_view kGuidAsk = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
inline constexpr std::string_view kGuidArk = "c0b406a4-a803-4952-9743-3fb6014cd0ae";

struct Evidence {
  Platform platform = Platform::Nil;
  // SNP: the raw 1184-byte ATTESTATION_REPORT; TDX / SGX: the raw DCAP quote; empty for kvm/nil.
  Bytes report_or_quote;
  std::vector<CertTableEntry> certs;  // from the certificate table (SNP), if any
  // True when produced by a simulated platform (sim-snp, sim-tdx): signed by a local test root.
  bool simulated = false;
  // How it was obtained: "configfs-tsm", "sev-guest", "gramine", "sim", "none".
  std::string source;
  Bytes report_data;  // the 64 bytes that were asked for
  // Collateral that travels with the evidence instead of coming from the host cache (simulated
  // DCAP platforms sign their own): DER CrlList, DER TcbPackage, raw QE identity JSON.
  std::optional<Bytes> crl_list_der;
  std::optional<Bytes> tcb_package_der;
  std::optional<Bytes> qe_identity_json;

  // The signing key's certificate from the table: VLEK if present, else VCEK.
  std::optional<Bytes> endorsement_cert() const;
  const CertTableEntry* cert(std::string_view name) const;
};

// Parses a GUID certificate table: 24-byte entries {guid[16], offset u32 LE, length u32 LE}
// ending with an all-zero entry; offsets are from the start of the table. Throws
// Error("platform.cert_table.malformed") on a missing terminator or an entry out of bounds.
std::vector<CertTableEntry> parse_cert_table(ByteView table);
// The inverse (used by simulated platforms and tests).
Bytes encode_cert_table(const std::vector<CertTableEntry>& entries);
// "63da758d-..." <-> 16 bytes in the order the string reads (RFC 4122 byte order).
Bytes guid_to_bytes(std::string_view guid);
std::string guid_from_bytes(ByteView sixteen);
std::string cert_name_for_guid(std::string_view guid);

// Produces evidence binding `report_data` (exactly 64 bytes).
class EvidenceProvider {
 public:
  virtual ~EvidenceProvider() = default;
  virtual Platform platform() const = 0;
  virtual bool simulated() const { return false; }
  virtual Evidence acquire(ByteView report_data) = 0;
};

// nil / kvm: no hardware evidence; acquire() returns empty evidence (source "none").
std::unique_ptr<EvidenceProvider> make_no_tee_provider(Platform p);

}  // namespace enarx::platform
