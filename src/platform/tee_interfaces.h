// The three real evidence interfaces of a Linux guest:
//   * configfs-tsm (/sys/kernel/config/tsm/report, Linux >= 6.7): SNP reports and TDX quotes;
//   * /dev/sev-guest ioctls (SNP_GET_EXT_REPORT / SNP_GET_REPORT), for older SNP kernels;
//   * Gramine's /dev/attestation pseudo-files inside an SGX enclave.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "platform/platform.h"

namespace enarx::platform {

// ---- configfs-tsm ------------------------------------------------------------------------

// Creating and removing a report entry are the only operations whose semantics differ between
// configfs and a plain directory (configfs populates the attribute files on mkdir and removes
// them on rmdir), so they are virtual: tests plug in a fake kernel.
class TsmDirOps {
 public:
  virtual ~TsmDirOps() = default;
  virtual void make_entry(const std::filesystem::path& entry);    // mkdir
  virtual void remove_entry(const std::filesystem::path& entry);  // rmdir
};

struct TsmReport {
  std::string provider;  // "sev_guest", "tdx_guest", ...
  Bytes outblob;         // SNP: ATTESTATION_REPORT; TDX: quote
  Bytes auxblob;         // SNP: certificate table (may be empty)
  std::uint64_t generation = 0;
};

struct TsmOptions {
  std::filesystem::path root = "/";
  std::optional<unsigned> privlevel;  // SNP VMPL to report at (0..3)
  int retries = 3;                    // on a generation race
  TsmDirOps* ops = nullptr;           // nullptr: the real mkdir/rmdir
};

inline const std::filesystem::path kTsmReportDir = "sys/kernel/config/tsm/report";

// One report request: mkdir a fresh entry, write inblob (and privlevel), read outblob/auxblob,
// rmdir. `generation` is read before and after the reads; if someone else wrote to the entry in
// between the request is retried, then fails with Error("platform.tsm.race").
// Other errors: platform.tsm.unavailable (no configfs-tsm), platform.tsm.io, platform.tsm.empty.
TsmReport tsm_get_report(ByteView inblob64, const TsmOptions& options);
// Which provider backs configfs-tsm, without producing a report (mkdir, read provider, rmdir).
std::optional<std::string> tsm_provider(const TsmOptions& options);

// ---- /dev/sev-guest ------------------------------------------------------------------------

// The ioctl boundary: returns 0, or -errno. `arg` points to a snp_guest_request_ioctl.
class SevGuestDevice {
 public:
  virtual ~SevGuestDevice() = default;
  virtual int ioctl(unsigned long request, void* arg) = 0;
};
// Opens <root>/dev/sev-guest; throws Error("platform.sev_guest.unavailable").
std::unique_ptr<SevGuestDevice> open_sev_guest(const std::filesystem::path& root);

// Mirrors of include/uapi/linux/sev-guest.h (checked by static_assert against the kernel
// header when it is installed).
namespace sevguest {
struct ReportReq {
  std::uint8_t user_data[64];
  std::uint32_t vmpl;
  std::uint8_t rsvd[28];
};
struct ReportResp {
  std::uint8_t data[4000];
};
struct GuestRequestIoctl {
  std::uint8_t msg_version;
  std::uint64_t req_data;
  std::uint64_t resp_data;
  std::uint64_t exitinfo2;  // low 32 bits: firmware error; high 32: VMM error
};
struct ExtReportReq {
  ReportReq data;
  std::uint64_t certs_address;
  std::uint32_t certs_len;
};
// _IOWR('S', nr, struct snp_guest_request_ioctl)
unsigned long get_report_request();
unsigned long get_ext_report_request();
inline constexpr std::uint32_t kVmmErrInvalidLen = 1;
inline constexpr std::uint32_t kVmmErrBusy = 2;
// MSG_REPORT_RSP: status u32, report_size u32, 24 reserved bytes, then the report.
inline constexpr std::size_t kReportRespHeader = 32;
}  // namespace sevguest

struct SevGuestOptions {
  std::uint32_t vmpl = 0;
  bool extended = true;  // SNP_GET_EXT_REPORT (with certificates); falls back to SNP_GET_REPORT
};
// Errors: platform.sev_guest.ioctl (with errno / firmware / VMM codes),
// platform.sev_guest.bad_response.
Evidence sev_guest_acquire(SevGuestDevice& dev, ByteView report_data,
                           const SevGuestOptions& options = {});

// ---- Gramine /dev/attestation ------------------------------------------------------------

// Writes user_report_data, reads quote. Requires attestation_type "dcap".
// Errors: platform.gramine.unavailable, platform.gramine.not_dcap, platform.gramine.io.
Evidence gramine_acquire(const std::filesystem::path& root, ByteView report_data);

// ---- providers -----------------------------------------------------------------------------

// SNP: configfs-tsm when present, else /dev/sev-guest. `device` (tests) replaces opening the
// real one.
std::unique_ptr<EvidenceProvider> make_snp_provider(const std::filesystem::path& root,
                                                    TsmDirOps* ops = nullptr,
                                                    std::shared_ptr<SevGuestDevice> device = {});
std::unique_ptr<EvidenceProvider> make_tdx_provider(const std::filesystem::path& root,
                                                    TsmDirOps* ops = nullptr);
std::unique_ptr<EvidenceProvider> make_sgx_provider(const std::filesystem::path& root);

}  // namespace enarx::platform
