// Every object identifier the project uses in CSRs and issued certificates, in one place.
// docs/oids.md is the human-readable register (what each value contains, who emits and who
// reads it). OIDs we mint are frozen: never reuse or renumber; a new format gets a new OID.
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

// --- Minted by this project, under Enarx's arc (docs/oids.md "Choosing the arc") ------------------
// Every arc fits in 28 bits, which every X.509 stack parses (RFC 5280 only promises that much;
// Go's crypto/x509 stops at 2^31, GnuTLS at 2^64, and refused the former 2.25.<UUID> OIDs).
// Intel TDX evidence in a CSR: DER TdxEvidence (docs/oids.md, docs/steward.md).
inline constexpr std::string_view kTdxEvidence = "1.3.6.1.4.1.58270.100.1";
// Attested claims in an issued certificate: DER UTF8String holding JSON (docs/oids.md).
inline constexpr std::string_view kAttestedClaims = "1.3.6.1.4.1.58270.100.2";
// Marker in a certificate issued without (or beyond) hardware attestation (KVM evidence, a
// simulated root of trust, names for an unlisted runtime): UTF8String naming the reason.
inline constexpr std::string_view kInsecureAttestation = "1.3.6.1.4.1.58270.100.3";

// --- Legacy: the 2.25 UUID OIDs used before 2026-12. Read (never written) so certificates
// issued with them still verify; Go and GnuTLS cannot parse them.
// UUID 4aceb0cb-7bf2-406f-bcfa-88185972dc43
inline constexpr std::string_view kLegacyTdxEvidence = "2.25.99436070666708702725047176524163374147";
// UUID 3f9b1004-5385-4522-8758-f3f4cd89cf34
inline constexpr std::string_view kLegacyAttestedClaims = "2.25.84546494608837276188556021380741189428";
// UUID c4457f6a-ecb6-4696-8108-236ee7f55e4a
inline constexpr std::string_view kLegacyInsecureAttestation =
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
