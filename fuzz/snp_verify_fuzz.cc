// libFuzzer target for the whole SEV-SNP verify path: the Enarx SnpEvidence container, the
// report parser, VCEK parsing, chain/CRL checks, signature verification and appraisal.
// Input byte 0 selects a mode:
//   0: patches (2-byte offset, 1-byte xor) applied to a real report + its real VCEK, so the
//      fuzzer reaches the signature and binding checks;
//   1: 1184 bytes of report followed by an arbitrary VCEK/VLEK certificate;
//   2: a DER SnpEvidence (as in an Enarx CSR).
// Invariants: no crash; every rejection is an enarx::Error; a mutated real report is never
// accepted unless the patches cancel out.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "attest/enarx/snp_evidence.h"
#include "attest/snp/appraise.h"
#include "attest/snp/verify.h"
#include "core/error.h"
#include "core/file.h"

namespace {

using namespace enarx;
namespace snp = enarx::attest::snp;

void check(bool ok) {
  if (!ok) std::abort();
}

struct Seed {
  Bytes report, vcek;
};

const std::optional<Seed>& seed() {
  static const std::optional<Seed> s = []() -> std::optional<Seed> {
    const std::filesystem::path dir =
        std::filesystem::path(ENARX_SOURCE_DIR) / ".." / "shared" / "testvectors" / "snp" /
        "s07_milan_steward";
    try {
      return Seed{read_file(dir / "report.bin"), read_file(dir / "vcek.der")};
    } catch (const Error&) {
      return std::nullopt;
    }
  }();
  return s;
}

const snp::Verifier& verifier() {
  static const snp::Verifier v;
  return v;
}

snp::VerifyOptions options() {
  snp::VerifyOptions o;
  o.at = parse_rfc3339("2022-11-15T00:00:00Z");
  return o;
}

bool run(ByteView report, const snp::Collateral& c) {
  try {
    snp::Verified v = verifier().verify(report, c, options());
    snp::Policy p;
    p.allow_debug = true;
    (void)snp::appraise(v, p, Bytes(91, 0)).claims.dump();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      if (!seed()) return 0;
      Bytes report = seed()->report;
      for (std::size_t i = 0; i + 3 <= in.size(); i += 3) {
        const std::size_t off = (static_cast<std::size_t>(in[i]) << 8 | in[i + 1]) % report.size();
        report[off] ^= in[i + 2];
      }
      const bool changed = report != seed()->report;
      snp::Collateral c;
      c.vcek_der = seed()->vcek;
      const bool ok = run(report, c);
      // Only bytes outside the signed region and the signature (none: they must be zero or
      // are signed) could change without detection; so any change must be rejected.
      check(!(ok && changed));
      break;
    }
    case 1: {
      if (in.size() < snp::kReportSize) return 0;
      snp::Collateral c;
      c.vcek_der.assign(in.begin() + snp::kReportSize, in.end());
      run(in.first(snp::kReportSize), c);
      break;
    }
    default: {
      try {
        attest::SnpEvidence ev = attest::decode_snp_evidence(in);
        snp::Collateral c;
        c.vcek_der = ev.vcek_der;
        for (auto& e : ev.crls) c.crls.push_back(e.crl);
        run(ev.report, c);
      } catch (const Error&) {
      }
      break;
    }
  }
  return 0;
}
