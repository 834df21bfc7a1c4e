// AMD VCEK / VLEK certificate extensions (OIDs under 1.3.6.1.4.1.3704.1):
//   .1 structVersion, .2 productName (IA5String, e.g. "Milan-B0"),
//   .3.1 blSPL, .3.2 teeSPL, .3.3 snpSPL, .3.4-.3.7 spl_4..7, .3.8 ucodeSPL, .3.9 fmcSPL (Turin+)
//   (each a DER INTEGER), .4 hwID (VCEK only: raw CHIP_ID bytes, 64 on Milan/Genoa, 8 on Turin;
//   some tools wrap it in a DER OCTET STRING), .5 csp_id (VLEK only: the cloud provider).
#pragma once

#include <optional>
#include <string>

#include "attest/snp/report.h"
#include "core/bytes.h"
#include "core/x509.h"

namespace enarx::attest::snp {

struct VcekInfo {
  std::optional<std::int64_t> struct_version;
  std::string product_name;  // as written, e.g. "Milan-B0"
  Product product = Product::Unknown;
  std::uint8_t bl_spl = 0;
  std::uint8_t tee_spl = 0;
  std::uint8_t snp_spl = 0;
  std::uint8_t ucode_spl = 0;
  std::optional<std::uint8_t> fmc_spl;
  std::optional<Bytes> hw_id;  // VCEK only
  std::optional<std::string> csp_id;  // VLEK only
};

// Throws Error("snp.vcek.malformed") when a required extension (productName, bl/tee/snp/ucode
// SPL) is missing or badly encoded.
VcekInfo parse_vcek_extensions(const Certificate& cert);

}  // namespace enarx::attest::snp
