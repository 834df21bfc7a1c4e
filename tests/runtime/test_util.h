// Helpers shared by the runtime tests.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "core/bytes.h"
#include "core/file.h"

namespace enarx::runtime::test {

inline std::string wat_module(const std::string& name) {
  return std::string(RUNTIME_WASM_DIR) + "/" + name + ".wasm";
}
inline std::string example_module(const std::string& name) {
  return std::string(RUNTIME_EXAMPLES_DIR) + "/" + name + ".wasm";
}
inline std::string source_path(const std::string& rel) {
  return std::string(ENARX_SOURCE_DIR) + "/" + rel;
}

// A host file standing in for stdout/stderr, read back after the run.
class CaptureFile {
 public:
  explicit CaptureFile(const TempDir& dir, const std::string& name)
      : path_(dir.path() / name),
        fd_(::open(path_.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600)) {}
  ~CaptureFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  std::string text() const { return read_text_file(path_); }

 private:
  std::filesystem::path path_;
  int fd_;
};

}  // namespace enarx::runtime::test
