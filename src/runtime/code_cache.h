// Integrity-protected cache of engine-compiled native code. The cache holds machine code that
// will be executed, so an entry is only handed to the engine after its HMAC-SHA256 (key held by
// the runtime, never by the guest or the cache directory's other users) has been checked, and
// the MAC binds the entry to the engine id (version + flags) and the module's SHA-256 digest.
#pragma once

#include <filesystem>
#include <string>

#include "core/bytes.h"

namespace enarx::runtime {

class CodeCache {
 public:
  // `key`: at least 32 bytes. Throws Error("runtime.cache.key") if shorter.
  CodeCache(std::filesystem::path dir, Bytes key);

  // Reads the key at `path`, or creates it (32 random bytes, mode 0600) when absent.
  static Bytes load_or_create_key(const std::filesystem::path& path);

  // The authenticated entry for (engine_id, module_digest), or empty when there is none or it
  // fails authentication (a bad entry is removed).
  Bytes load(const std::string& engine_id, ByteView module_digest) const;
  // Writes an entry (atomically). Errors are swallowed: a cache is an optimisation.
  void store(const std::string& engine_id, ByteView module_digest, ByteView code) const;

  std::filesystem::path entry_path(const std::string& engine_id, ByteView module_digest) const;

 private:
  Bytes mac(const std::string& engine_id, ByteView module_digest, ByteView code) const;
  std::filesystem::path dir_;
  Bytes key_;
};

}  // namespace enarx::runtime
