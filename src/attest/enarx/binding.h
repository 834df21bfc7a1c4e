// Enarx's key-binding rule, in one place: a keep generates its TLS key, puts the hash of the key's
// DER SubjectPublicKeyInfo into the report data of its hardware evidence (zero-padded to 64
// bytes) and signs the CSR with that key; steward and every verifier check exactly this.
// (enarx-protocols.md §1.4; docs/oids.md "TdxEvidence".)
//
//   platform   key (CSR)        report data
//   snp        EC P-384         SHA-384(SPKI) || 16 zero bytes       (REPORT_DATA)
//   tdx        EC P-384         SHA-384(SPKI) || 16 zero bytes       (REPORTDATA)
//   sgx        EC P-256         SHA-256(SPKI) || 32 zero bytes       (REPORTDATA)
//   kvm, nil   P-256 (P-384 accepted in a CSR)   nothing binds: there is no evidence
#pragma once

#include <vector>

#include "attest/enarx/platform.h"
#include "core/bytes.h"
#include "core/crypto.h"

namespace enarx::attest {

// The hash of the SPKI in the report data (also the tagged-evidence pubkey-hash algorithm).
DigestAlgorithm binding_digest(Platform p);
// The key a keep generates on `p`.
KeyType keep_key_type(Platform p);
// The key types a CSR carrying `p`'s evidence may use (no downgrade: the attesting key's curve).
std::vector<KeyType> csr_key_types(Platform p);
// binding_digest(p)(spki_der) zero-padded to 64 bytes.
Bytes report_data_for_spki(Platform p, ByteView spki_der);
// Does `report_data` (64 bytes) bind exactly `spki_der` under `p`'s rule?
bool report_data_binds(Platform p, ByteView report_data, ByteView spki_der);

}  // namespace enarx::attest
