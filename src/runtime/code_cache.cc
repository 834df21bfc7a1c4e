#include "runtime/code_cache.h"

#include <cstring>
#include <system_error>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"

namespace enarx::runtime {
namespace {
constexpr char kMagic[8] = {'E', 'N', 'X', 'C', 'C', 'v', '1', '\n'};
constexpr std::size_t kMacSize = 32;
}  // namespace

CodeCache::CodeCache(std::filesystem::path dir, Bytes key)
    : dir_(std::move(dir)), key_(std::move(key)) {
  if (key_.size() < 32) throw Error(ErrorKind::kInvalidInput, "runtime.cache.key", "code cache key must be >= 32 bytes");
}

Bytes CodeCache::load_or_create_key(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // Concurrent first runs must agree on one key: each writes a complete candidate, and the
    // first hard link to `path` wins; the others read the winner's.
    std::filesystem::create_directories(path.parent_path(), ec);
    auto candidate = path;
    candidate += ".new." + to_hex(random_bytes(8));
    write_file_atomic(candidate, ByteView(random_bytes(32)), 0600);
    std::filesystem::create_hard_link(candidate, path, ec);
    if (ec && !std::filesystem::exists(path)) std::filesystem::rename(candidate, path, ec);  // no links
    std::filesystem::remove(candidate, ec);
  }
  Bytes k = read_file(path, 4096);
  if (k.size() < 32) throw Error(ErrorKind::kInvalidInput, "runtime.cache.key", path.string() + " is too short");
  return k;
}

Bytes CodeCache::mac(const std::string& engine_id, ByteView digest, ByteView code) const {
  Bytes msg(kMagic, kMagic + sizeof kMagic);
  msg.insert(msg.end(), engine_id.begin(), engine_id.end());
  msg.push_back(0);
  msg.insert(msg.end(), digest.begin(), digest.end());
  msg.insert(msg.end(), code.begin(), code.end());
  return hmac_sha256(key_, msg);
}

std::filesystem::path CodeCache::entry_path(const std::string& engine_id, ByteView digest) const {
  Bytes id(engine_id.begin(), engine_id.end());
  id.push_back(0);
  id.insert(id.end(), digest.begin(), digest.end());
  return dir_ / (to_hex(sha256(id)) + ".code");
}

Bytes CodeCache::load(const std::string& engine_id, ByteView digest) const {
  auto path = entry_path(engine_id, digest);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  Bytes data;
  try {
    data = read_file(path, 1u << 30);
  } catch (const Error&) {
    return {};
  }
  bool ok = data.size() > sizeof kMagic + kMacSize &&
            std::memcmp(data.data(), kMagic, sizeof kMagic) == 0;
  if (ok) {
    ByteView stored(data.data() + sizeof kMagic, kMacSize);
    ByteView code(data.data() + sizeof kMagic + kMacSize, data.size() - sizeof kMagic - kMacSize);
    if (constant_time_equal(stored, mac(engine_id, digest, code)))
      return Bytes(code.begin(), code.end());
  }
  std::filesystem::remove(path, ec);  // forged or corrupt: never load it, and recompile
  return {};
}

void CodeCache::store(const std::string& engine_id, ByteView digest, ByteView code) const {
  if (code.empty()) return;
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    Bytes out(kMagic, kMagic + sizeof kMagic);
    Bytes m = mac(engine_id, digest, code);
    out.insert(out.end(), m.begin(), m.end());
    out.insert(out.end(), code.begin(), code.end());
    write_file_atomic(entry_path(engine_id, digest), ByteView(out), 0600);
  } catch (const std::exception&) {
  }
}

}  // namespace enarx::runtime
