// Files: whole-file reads and crash-safe writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace enarx {

// The error for a failed file-system call on `path` with errno `err`: code "io.no_space" when
// the file system is full or the quota used up (ENOSPC, EDQUOT), else `code`. Callers can then
// report a full disk as such (the operator's problem), not as a fault. The message is
// "<what> <path>: <strerror>".
Error io_error(ErrorKind kind, std::string_view code, std::string_view what, const std::filesystem::path& path, int err);

// Reads a whole file; throws Error("io.read") naming the path. `max_size` guards against
// accidentally slurping something huge.
Bytes read_file(const std::filesystem::path& path, std::size_t max_size = 256u << 20);
std::string read_text_file(const std::filesystem::path& path, std::size_t max_size = 64u << 20);

// Atomically replaces `path`: writes a temp file in the same directory, fsyncs it, renames it
// over `path`, then fsyncs the directory, so readers see the old or the new content, never a
// mix, even after a crash. `mode` applies to the new file (e.g. 0600 for keys). Throws
// Error("io.no_space") on a full file system (the temp file removed), else Error("io.write").
void write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0644);
inline void write_file_atomic(const std::filesystem::path& path, std::string_view text,
                              unsigned mode = 0644) {
  write_file_atomic(path, as_bytes(text), mode);
}

// fsyncs a directory (after creating or renaming entries in it).
void fsync_directory(const std::filesystem::path& dir);

// A unique temporary directory removed (recursively) on destruction. For tests and tools.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "enarx");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace enarx
