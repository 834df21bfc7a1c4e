// Every object identifier the project uses in CSRs and issued certificates, in one place.
// docs/oids.md is the human-readable register (what each value contains, who emits and who
// reads it). OIDs we mint live under 2.25.<UUID as a decimal integer> (ITU-T X.667): the UUIDs
// were generated once with python3 uuid.uuid4() and are frozen; never reuse or renumber.
//
// Header-only, no dependencies: the enarx CLI (evidence, verify) includes it too.
#pragma once

#include <cstdint>
#include <string_view>

namespace enarx::oids {

// --- Enarx (Profian, IANA PEN 58270) evidence extensions in CSRs: wire-compatible. ---------------
// KVM / no TEE: empty extnValue; only accepted by an explicitly insecure steward.
inline constexpr std::string_view kKvmEvidence = "1.3.6.1.4.1.58270.1.1";
// Intel SGX: DER SgxEvidence { quote OCTET STRING, crl CrlList, tcb TcbPackage }.
inline constexpr std::string_view kSgxEvidence = "1.3.6.1.4.1.58270.1.2";
// AMD SEV-SNP: DER SnpEvidence { crts SEQUENCE { vcek Certificate, crl CrlList }, report OCTET
// STRING }.
inline constexpr std::string_view kSnpEvidence = "1.3.6.1.4.1.58270.1.3";

// --- Minted by this project (2.25 arc) -----------------------------------------------------------
// Intel TDX evidence in a CSR: DER TdxEvidence (docs/oids.md, docs/steward.md).
// UUID 4aceb0cb-7bf2-406f-bcfa-88185972dc43
inline constexpr std::string_view kTdxEvidence = "2.25.99436070666708702725047176524163374147";
// Attested claims in an issued certificate: DER UTF8String holding JSON (docs/oids.md).
// UUID 3f9b1004-5385-4522-8758-f3f4cd89cf34
inline constexpr std::string_view kAttestedClaims = "2.25.84546494608837276188556021380741189428";
// Marker in a certificate issued without hardware attestation (KVM evidence or a simulated
// root of trust, allowed only by `allow_insecure`): UTF8String naming the reason.
// UUID c4457f6a-ecb6-4696-8108-236ee7f55e4a
inline constexpr std::string_view kInsecureAttestation =
    "2.25.260889539994546124628648845328629718602";

// --- Standard OIDs we emit or check
// ---------------------------------------------------------------- TCG DICE tagged evidence (TCG
// DICE Attestation Architecture; used by Gramine RA-TLS and the CCC interoperable RA-TLS format).
// extnValue = CBOR  tag(T, [ bstr evidence, bstr claims ]) exactly as Gramine lays it out; see
// docs/oids.md for what steward puts in it.
inline constexpr std::string_view kTcgDiceTaggedEvidence = "2.23.133.5.4.9";

// CBOR tags steward uses in the tagged-evidence value, one per evidence format. The evidence
// bytes are the CSR's Enarx evidence extension value verbatim (DER SnpEvidence etc.), which no
// registered tag describes, so these are PRIVATE, UNREGISTERED values (next to librats' 0x1a75xx
// numbers, none of which they reuse). Frozen; see docs/oids.md.
inline constexpr std::uint64_t kCborTagKvmEvidence = 0x1a75e1;
inline constexpr std::uint64_t kCborTagSgxEvidence = 0x1a75e2;
inline constexpr std::uint64_t kCborTagSnpEvidence = 0x1a75e3;
inline constexpr std::uint64_t kCborTagTdxEvidence = 0x1a75e4;
// IANA "Named Information Hash Algorithm" ids used in the pubkey-hash claim.
inline constexpr std::uint64_t kIanaHashSha256 = 1;
inline constexpr std::uint64_t kIanaHashSha384 = 7;
// PKCS#9 extensionRequest: the only attribute a CSR may carry.
inline constexpr std::string_view kExtensionRequest = "1.2.840.113549.1.9.14";
inline constexpr std::string_view kSubjectAltName = "2.5.29.17";

}  // namespace enarx::oids
