// The digest a certificate or CSR signed by a key of `type` uses: SHA-384 for P-384, none for
// Ed25519, SHA-256 otherwise. One rule for the certificate builder and the CSR builder.
#pragma once

#include <openssl/evp.h>

#include "core/crypto.h"

namespace enarx {

const EVP_MD* signature_digest(KeyType type);

}  // namespace enarx
