// libFuzzer target for the SEV-SNP report parser and the report-file decoder (raw or hex).
// Invariants: no crash or out-of-bounds read; every rejection is an enarx::Error with an
// snp.report.* code; an accepted report keeps its exact bytes and re-parses identically.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "attest/snp/report.h"
#include "core/error.h"

namespace {

using namespace enarx;
using namespace enarx::attest::snp;

void check(bool ok) {
  if (!ok) std::abort();
}

void parse(ByteView data) {
  try {
    Report r = parse_report(data);
    check(std::memcmp(r.raw.data(), data.data(), kReportSize) == 0);
    check(r.version >= kMinReportVersion && r.version <= kMaxReportVersion);
    Report again = parse_report(r.bytes());
    check(again.reported_tcb == r.reported_tcb && again.policy.raw == r.policy.raw);
    (void)TcbVersion::decode(r.reported_tcb, r.cpuid_product());
    (void)TcbVersion::decode(r.current_tcb, Product::Turin);
  } catch (const Error& e) {
    check(e.code().rfind("snp.report.", 0) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  parse(in);
  // Also fuzz the fields of a full-size report: pad or cut the input to 1184 bytes.
  Bytes sized(kReportSize, 0);
  std::memcpy(sized.data(), data, std::min(size, kReportSize));
  parse(sized);
  try {
    Bytes decoded = decode_report_file(in);
    check(decoded.size() == kReportSize);
    parse(decoded);
  } catch (const Error& e) {
    check(e.code().rfind("snp.report.", 0) == 0);
  }
  return 0;
}
