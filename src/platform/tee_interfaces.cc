#include "platform/tee_interfaces.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <system_error>

#if __has_include(<linux/sev-guest.h>)
#include <linux/sev-guest.h>
#define ENARX_HAVE_SEV_GUEST_H 1
#endif

#include "core/error.h"
#include "core/file.h"

namespace fs = std::filesystem;

namespace enarx::platform {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\0'))
    s.pop_back();
  return s;
}

// Writes one attribute in a single write(2): configfs attributes take the whole value per call.
void write_attr(const fs::path& p, ByteView data, const char* code) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kUnavailable, code, "cannot open " + p.string() + ": " + std::strerror(errno));
  ssize_t n = ::write(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size()))
    throw Error(ErrorKind::kUnavailable, code, "cannot write " + p.string() + ": " + (n < 0 ? std::strerror(err) : "short write"));
}

Bytes read_attr(const fs::path& p, const char* code, std::size_t max = 1u << 20) {
  try {
    return read_file(p, max);
  } catch (const Error& e) {
    throw Error(ErrorKind::kUnavailable, code, e.what());
  }
}

std::string read_attr_text(const fs::path& p, const char* code) {
  Bytes b = read_attr(p, code, 4096);
  return trim(std::string(b.begin(), b.end()));
}

std::uint64_t read_generation(const fs::path& entry) {
  std::string g = read_attr_text(entry / "generation", "platform.tsm.io");
  try {
    return std::stoull(g);
  } catch (const std::exception&) {
    throw Error(ErrorKind::kInvalidInput, "platform.tsm.io", "unreadable generation value '" + g + "'");
  }
}

std::string fresh_entry_name() {
  std::random_device rd;
  return "enarx-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

TsmDirOps& default_ops() {
  static TsmDirOps ops;
  return ops;
}

// Removes the entry however the request ends.
struct EntryGuard {
  TsmDirOps& ops;
  fs::path entry;
  ~EntryGuard() {
    try {
      ops.remove_entry(entry);
    } catch (...) {
    }
  }
};

}  // namespace

void TsmDirOps::make_entry(const fs::path& entry) {
  if (::mkdir(entry.c_str(), 0700) != 0)
    throw Error(ErrorKind::kInvalidInput, "platform.tsm.io", "cannot create " + entry.string() + ": " + std::strerror(errno));
}

void TsmDirOps::remove_entry(const fs::path& entry) { ::rmdir(entry.c_str()); }

TsmReport tsm_get_report(ByteView inblob, const TsmOptions& options) {
  require(inblob.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
  fs::path dir = options.root / kTsmReportDir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::kNotFound, "platform.tsm.unavailable",
                dir.string() + " not found (needs Linux >= 6.7 with CONFIG_TSM_REPORTS and configfs "
                               "mounted at /sys/kernel/config)");
  TsmDirOps& ops = options.ops ? *options.ops : default_ops();
  for (int attempt = 0; attempt <= options.retries; ++attempt) {
    fs::path entry = dir / fresh_entry_name();
    ops.make_entry(entry);
    EntryGuard guard{ops, entry};
    std::uint64_t writes = 0;
    if (options.privlevel) {
      std::string lvl = std::to_string(*options.privlevel);
      write_attr(entry / "privlevel", as_bytes(lvl), "platform.tsm.io");
      ++writes;
    }
    write_attr(entry / "inblob", inblob, "platform.tsm.io");
    ++writes;
    std::uint64_t before = read_generation(entry);
    TsmReport r;
    r.outblob = read_attr(entry / "outblob", "platform.tsm.io");
    std::error_code ec2;
    if (fs::exists(entry / "auxblob", ec2)) r.auxblob = read_attr(entry / "auxblob", "platform.tsm.io");
    r.provider = read_attr_text(entry / "provider", "platform.tsm.io");
    std::uint64_t after = read_generation(entry);
    // Every write bumps generation: anything other than our own writes means another writer
    // touched this entry and outblob may not match our inblob.
    if (before != after || before != writes) continue;
    r.generation = after;
    if (r.outblob.empty())
      throw Error(ErrorKind::kInvalidInput, "platform.tsm.empty", "configfs-tsm returned an empty report (provider '" +
                                            r.provider + "')");
    return r;
  }
  throw Error(ErrorKind::kInvalidInput, "platform.tsm.race", "configfs-tsm report entry was modified concurrently " +
                                       std::to_string(options.retries + 1) + " times");
}

std::optional<std::string> tsm_provider(const TsmOptions& options) {
  fs::path dir = options.root / kTsmReportDir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  TsmDirOps& ops = options.ops ? *options.ops : default_ops();
  fs::path entry = dir / fresh_entry_name();
  try {
    ops.make_entry(entry);
  } catch (const Error&) {
    return std::nullopt;
  }
  EntryGuard guard{ops, entry};
  try {
    return read_attr_text(entry / "provider", "platform.tsm.io");
  } catch (const Error&) {
    return std::nullopt;
  }
}

// ---- /dev/sev-guest -----------------------------------------------------------------------------

namespace sevguest {
#ifdef ENARX_HAVE_SEV_GUEST_H
static_assert(sizeof(ReportReq) == sizeof(snp_report_req));
static_assert(sizeof(ReportResp) == sizeof(snp_report_resp));
static_assert(sizeof(GuestRequestIoctl) == sizeof(snp_guest_request_ioctl));
static_assert(sizeof(ExtReportReq) == sizeof(snp_ext_report_req));
static_assert(offsetof(ExtReportReq, certs_address) == offsetof(snp_ext_report_req, certs_address));
static_assert(offsetof(ExtReportReq, certs_len) == offsetof(snp_ext_report_req, certs_len));
static_assert(offsetof(GuestRequestIoctl, exitinfo2) == offsetof(snp_guest_request_ioctl, exitinfo2));
unsigned long get_report_request() { return SNP_GET_REPORT; }
unsigned long get_ext_report_request() { return SNP_GET_EXT_REPORT; }
#else
unsigned long get_report_request() { return _IOWR('S', 0x0, GuestRequestIoctl); }
unsigned long get_ext_report_request() { return _IOWR('S', 0x2, GuestRequestIoctl); }
#endif
}  // namespace sevguest

namespace {

class LinuxSevGuest final : public SevGuestDevice {
 public:
  explicit LinuxSevGuest(int fd) : fd_(fd) {}
  ~LinuxSevGuest() override { ::close(fd_); }
  int ioctl(unsigned long request, void* arg) override {
    int rc;
    do {
      rc = ::ioctl(fd_, request, arg);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
  }

 private:
  int fd_;
};

Bytes report_from_response(const sevguest::ReportResp& resp) {
  auto le = [&](std::size_t off) {
    std::uint32_t v;
    std::memcpy(&v, resp.data + off, 4);
    return v;
  };
  std::uint32_t status = le(0), size = le(4);
  if (status != 0)
    throw Error(ErrorKind::kInvalidInput, "platform.sev_guest.bad_response",
                "firmware report status " + std::to_string(status));
  if (size < 1184 || size > sizeof(resp.data) - sevguest::kReportRespHeader)
    throw Error(ErrorKind::kInvalidInput, "platform.sev_guest.bad_response", "implausible report size " + std::to_string(size));
  const std::uint8_t* p = resp.data + sevguest::kReportRespHeader;
  return Bytes(p, p + size);
}

[[noreturn]] void ioctl_failed(const char* what, int rc, std::uint64_t exitinfo2) {
  throw Error(ErrorKind::kInvalidInput, "platform.sev_guest.ioctl",
              std::string(what) + " failed: " + std::strerror(-rc) + " (firmware error 0x" +
                  to_hex(Bytes{static_cast<std::uint8_t>(exitinfo2 >> 8),
                               static_cast<std::uint8_t>(exitinfo2)}) +
                  ", VMM error " + std::to_string(exitinfo2 >> 32) + ")");
}

}  // namespace

std::unique_ptr<SevGuestDevice> open_sev_guest(const fs::path& root) {
  fs::path p = root / "dev/sev-guest";
  int fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw Error(ErrorKind::kNotFound, "platform.sev_guest.unavailable",
                "cannot open " + p.string() + ": " + std::strerror(errno));
  return std::make_unique<LinuxSevGuest>(fd);
}

Evidence sev_guest_acquire(SevGuestDevice& dev, ByteView report_data, const SevGuestOptions& options) {
  require(report_data.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
  Evidence ev;
  ev.platform = Platform::Snp;
  ev.source = "sev-guest";
  ev.report_data.assign(report_data.begin(), report_data.end());

  sevguest::ReportResp resp{};
  sevguest::GuestRequestIoctl io{};
  io.msg_version = 1;
  io.resp_data = reinterpret_cast<std::uint64_t>(&resp);

  if (options.extended) {
    sevguest::ExtReportReq req{};
    std::memcpy(req.data.user_data, report_data.data(), 64);
    req.data.vmpl = options.vmpl;
    Bytes certs(4 * 4096, 0);  // the usual VCEK+ASK+ARK table fits; the driver says if not
    for (int attempt = 0; attempt < 3; ++attempt) {
      req.certs_address = reinterpret_cast<std::uint64_t>(certs.data());
      req.certs_len = static_cast<std::uint32_t>(certs.size());
      io.req_data = reinterpret_cast<std::uint64_t>(&req);
      io.exitinfo2 = 0;
      int rc = dev.ioctl(sevguest::get_ext_report_request(), &io);
      if (rc == 0) {
        ev.report_or_quote = report_from_response(resp);
        bool empty = true;
        for (std::size_t i = 0; i < std::min<std::size_t>(24, certs.size()); ++i)
          empty = empty && certs[i] == 0;
        if (!empty) ev.certs = parse_cert_table(ByteView(certs).first(std::min<std::size_t>(req.certs_len, certs.size())));
        return ev;
      }
      std::uint32_t vmm = static_cast<std::uint32_t>(io.exitinfo2 >> 32);
      if (vmm == sevguest::kVmmErrInvalidLen && req.certs_len > certs.size() &&
          req.certs_len <= (1u << 20)) {
        certs.assign(req.certs_len, 0);  // the driver told us the size it needs
        continue;
      }
      if (rc == -ENOTTY || rc == -EINVAL) break;  // old driver without EXT_REPORT: plain report
      ioctl_failed("SNP_GET_EXT_REPORT", rc, io.exitinfo2);
    }
  }
  sevguest::ReportReq req{};
  std::memcpy(req.user_data, report_data.data(), 64);
  req.vmpl = options.vmpl;
  io.req_data = reinterpret_cast<std::uint64_t>(&req);
  io.exitinfo2 = 0;
  int rc = dev.ioctl(sevguest::get_report_request(), &io);
  if (rc != 0) ioctl_failed("SNP_GET_REPORT", rc, io.exitinfo2);
  ev.report_or_quote = report_from_response(resp);
  return ev;
}

// ---- Gramine -----------------------------------------------------------------------------------

Evidence gramine_acquire(const fs::path& root, ByteView report_data) {
  require(report_data.size() == 64, ErrorKind::kInvalidInput, "platform.report_data.size", "report data must be 64 bytes");
  fs::path dir = root / "dev/attestation";
  std::error_code ec;
  if (!fs::exists(dir / "attestation_type", ec))
    throw Error(ErrorKind::kNotFound, "platform.gramine.unavailable",
                dir.string() + "/attestation_type not found (not inside a Gramine SGX enclave?)");
  std::string type = read_attr_text(dir / "attestation_type", "platform.gramine.io");
  if (type != "dcap")
    throw Error(ErrorKind::kInvalidInput, "platform.gramine.not_dcap",
                "Gramine attestation type is '" + type +
                    "'; set sgx.remote_attestation = \"dcap\" in the manifest");
  write_attr(dir / "user_report_data", report_data, "platform.gramine.io");
  Evidence ev;
  ev.platform = Platform::Sgx;
  ev.source = "gramine";
  ev.report_data.assign(report_data.begin(), report_data.end());
  ev.report_or_quote = read_attr(dir / "quote", "platform.gramine.io");
  if (ev.report_or_quote.size() < 48)
    throw Error(ErrorKind::kInvalidInput, "platform.gramine.io", "Gramine returned a truncated quote");
  return ev;
}

// ---- providers -----------------------------------------------------------------------------------

namespace {

class SnpProvider final : public EvidenceProvider {
 public:
  SnpProvider(fs::path root, TsmDirOps* ops, std::shared_ptr<SevGuestDevice> dev)
      : root_(std::move(root)), ops_(ops), dev_(std::move(dev)) {}
  Platform platform() const override { return Platform::Snp; }
  Evidence acquire(ByteView report_data) override {
    std::error_code ec;
    if (fs::is_directory(root_ / kTsmReportDir, ec)) {
      TsmOptions o;
      o.root = root_;
      o.ops = ops_;
      TsmReport r = tsm_get_report(report_data, o);
      if (r.provider != "sev_guest")
        throw Error(ErrorKind::kInvalidInput, "platform.tsm.wrong_provider",
                    "configfs-tsm provider is '" + r.provider + "', expected sev_guest");
      Evidence ev;
      ev.platform = Platform::Snp;
      ev.source = "configfs-tsm";
      ev.report_data.assign(report_data.begin(), report_data.end());
      ev.report_or_quote = std::move(r.outblob);
      if (!r.auxblob.empty()) ev.certs = parse_cert_table(r.auxblob);
      return ev;
    }
    if (!dev_) dev_ = open_sev_guest(root_);
    return sev_guest_acquire(*dev_, report_data);
  }

 private:
  fs::path root_;
  TsmDirOps* ops_;
  std::shared_ptr<SevGuestDevice> dev_;
};

class TdxProvider final : public EvidenceProvider {
 public:
  TdxProvider(fs::path root, TsmDirOps* ops) : root_(std::move(root)), ops_(ops) {}
  Platform platform() const override { return Platform::Tdx; }
  Evidence acquire(ByteView report_data) override {
    TsmOptions o;
    o.root = root_;
    o.ops = ops_;
    TsmReport r = tsm_get_report(report_data, o);
    if (r.provider != "tdx_guest")
      throw Error(ErrorKind::kInvalidInput, "platform.tsm.wrong_provider",
                  "configfs-tsm provider is '" + r.provider + "', expected tdx_guest");
    Evidence ev;
    ev.platform = Platform::Tdx;
    ev.source = "configfs-tsm";
    ev.report_data.assign(report_data.begin(), report_data.end());
    ev.report_or_quote = std::move(r.outblob);
    return ev;
  }

 private:
  fs::path root_;
  TsmDirOps* ops_;
};

class SgxProvider final : public EvidenceProvider {
 public:
  explicit SgxProvider(fs::path root) : root_(std::move(root)) {}
  Platform platform() const override { return Platform::Sgx; }
  Evidence acquire(ByteView report_data) override { return gramine_acquire(root_, report_data); }

 private:
  fs::path root_;
};

}  // namespace

std::unique_ptr<EvidenceProvider> make_snp_provider(const fs::path& root, TsmDirOps* ops,
                                                    std::shared_ptr<SevGuestDevice> device) {
  return std::make_unique<SnpProvider>(root, ops, std::move(device));
}
std::unique_ptr<EvidenceProvider> make_tdx_provider(const fs::path& root, TsmDirOps* ops) {
  return std::make_unique<TdxProvider>(root, ops);
}
std::unique_ptr<EvidenceProvider> make_sgx_provider(const fs::path& root) {
  return std::make_unique<SgxProvider>(root);
}

}  // namespace enarx::platform
