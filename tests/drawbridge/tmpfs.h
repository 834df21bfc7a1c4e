// A small tmpfs mounted for one test: a real file system that really fills up (ENOSPC), for
// the storage-full tests. Needs root (CAP_SYS_ADMIN); CI runs the tests as root.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/file.h"

namespace enarx::drawbridge::fstest {

class Tmpfs {
 public:
  // Mounts `bytes` of tmpfs on a fresh directory whose root belongs to uid:gid (mode 0700).
  // Null, with the reason in `why`, when mounting is impossible here.
  static std::unique_ptr<Tmpfs> mount(std::size_t bytes, uid_t uid, gid_t gid, std::string* why) {
    auto fs = std::unique_ptr<Tmpfs>(new Tmpfs());
    // Traversable by uid (PostgreSQL runs as nobody when the test runs as root).
    std::filesystem::permissions(fs->parent_.path(), std::filesystem::perms::owner_all |
                                                         std::filesystem::perms::group_exec |
                                                         std::filesystem::perms::others_exec);
    fs->dir_ = fs->parent_.path() / "fs";
    std::filesystem::create_directories(fs->dir_);
    auto opts = "size=" + std::to_string(bytes) + ",mode=0700,uid=" + std::to_string(uid) +
                ",gid=" + std::to_string(gid);
    if (::mount("tmpfs", fs->dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      *why = std::string("cannot mount a tmpfs (") + std::strerror(errno) +
             "); the storage-full test needs root with CAP_SYS_ADMIN";
      return nullptr;
    }
    fs->mounted_ = true;
    return fs;
  }
  ~Tmpfs() {
    // Detached even if something still has a file open in it.
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // Takes every byte that is left (a filler file written until ENOSPC).
  void fill() {
    int fd = ::open((dir_ / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("create filler: " + std::string(std::strerror(errno)));
    std::vector<char> chunk(4096, 'f');
    for (;;) {
      auto n = ::write(fd, chunk.data(), chunk.size());
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      // Partial pages: keep going byte-wise until not even one byte fits.
      if (n < 0 && errno == ENOSPC && chunk.size() > 1) {
        chunk.resize(1);
        continue;
      }
      break;
    }
    ::close(fd);
  }
  // Removes the filler.
  void release() { std::filesystem::remove(dir_ / "filler"); }
  // What an operator does about a full disk: more space (the file system grows to `bytes`).
  void grow(std::size_t bytes) {
    auto opts = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
      throw std::runtime_error("remount tmpfs: " + std::string(std::strerror(errno)));
  }

 private:
  Tmpfs() : parent_("drawbridge-tmpfs") {}
  TempDir parent_;
  std::filesystem::path dir_;
  bool mounted_ = false;
};

}  // namespace enarx::drawbridge::fstest
