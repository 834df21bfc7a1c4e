// WASI preview1 call by call, through the real engine: every import is re-exported by
// wat/wasi_probe.wat so the test can pass chosen, and hostile, arguments.
#include "runtime/wasi.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/file.h"
#include "runtime/vfs.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using namespace wasi_errno;

class WasiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.add_file("a.txt", to_bytes("hello, assets"));
    tree.add_file("dir/b.txt", to_bytes("0123456789"));
    tree.add_directory("dir/empty");
    out.emplace(tmp, "out");
    WasiOptions o;
    o.args = {"main.wasm", "one", "two"};
    o.env = {"A=1", "FD_COUNT=3"};
    wasi.emplace(o);
    wasi->add_null();                        // 0
    wasi->add_host_fd(out->fd(), false, true);  // 1
    wasi->add_host_fd(out->fd(), false, true);  // 2
    wasi->add_preopen(tree.root(), "/");    // 3
    wasi->add_preopen(vfs::make_memfs(16 << 10), "/tmp");  // 4: writable, 16 KiB
    engine = make_v8_engine();
    wasm = read_file(test::wat_module("wasi_probe"));
    module = engine->compile(wasm);
    Imports imports;
    wasi->add_to(imports);
    inst = engine->instantiate(*module, imports);
  }

  // Calls an exported wrapper and returns its errno.
  std::uint32_t call(const std::string& fn, std::vector<std::uint64_t> args) {
    CallOutcome r = inst->call(fn, args, {});
    EXPECT_EQ(r.kind, CallOutcome::Kind::Returned) << fn << ": " << r.message;
    return r.results.empty() ? 0xffffffff : static_cast<std::uint32_t>(r.results[0]);
  }
  MemoryView mem() { return inst->memory(); }
  void put(std::uint32_t at, std::string_view s) {
    std::memcpy(mem().ptr(at, s.size()), s.data(), s.size());
  }
  std::string get(std::uint32_t at, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(mem().ptr(at, n)), n);
  }
  std::uint32_t u32(std::uint32_t at) { return *mem().load<std::uint32_t>(at); }
  std::uint64_t u64(std::uint32_t at) { return *mem().load<std::uint64_t>(at); }
  void iov(std::uint32_t at, std::uint32_t base, std::uint32_t len) {
    mem().store<std::uint32_t>(at, base);
    mem().store<std::uint32_t>(at + 4, len);
  }
  // Opens `path` (read-only) relative to the preopen; returns errno, fd in *fd.
  std::uint32_t open(std::string_view path, std::uint32_t* fd, std::uint32_t oflags = 0,
                     std::uint32_t rights = 2) {
    put(1000, path);
    std::uint32_t e = call("path_open", {3, 0, 1000, path.size(), oflags, rights, 0, 0, 900});
    *fd = u32(900);
    return e;
  }

  TempDir tmp;
  AssetTree tree;
  std::optional<test::CaptureFile> out;
  std::optional<Wasi> wasi;
  std::unique_ptr<Engine> engine;
  Bytes wasm;
  std::unique_ptr<Module> module;
  std::unique_ptr<Instance> inst;
};

constexpr std::uint32_t kOob = 70000;  // beyond the probe's single 64 KiB page

TEST_F(WasiTest, ArgsAndEnviron) {
  EXPECT_EQ(call("args_sizes_get", {0, 4}), kSuccess);
  EXPECT_EQ(u32(0), 3u);
  EXPECT_EQ(u32(4), std::string("main.wasm one two ").size());
  EXPECT_EQ(call("args_get", {100, 200}), kSuccess);
  EXPECT_EQ(get(u32(104), 4), std::string("one\0", 4));
  EXPECT_EQ(get(200, 10), std::string("main.wasm\0", 10));
  EXPECT_EQ(call("environ_sizes_get", {0, 4}), kSuccess);
  EXPECT_EQ(u32(0), 2u);
  EXPECT_EQ(call("environ_get", {100, 200}), kSuccess);
  EXPECT_EQ(get(u32(100), 4), std::string("A=1\0", 4));
  // Hostile pointers.
  EXPECT_EQ(call("args_sizes_get", {kOob, 4}), kFault);
  EXPECT_EQ(call("args_sizes_get", {0, 65533}), kFault);
  EXPECT_EQ(call("args_get", {65534, 200}), kFault);
  EXPECT_EQ(call("args_get", {100, 65530}), kFault);
  EXPECT_EQ(call("environ_get", {0xffffffff, 0xffffffff}), kFault);
}

TEST_F(WasiTest, FdWrite) {
  put(100, "hello ");
  put(200, "world\n");
  iov(0, 100, 6);
  iov(8, 200, 6);
  EXPECT_EQ(call("fd_write", {1, 0, 2, 50}), kSuccess);
  EXPECT_EQ(u32(50), 12u);
  EXPECT_EQ(call("fd_write", {0, 0, 2, 50}), kSuccess);  // null swallows
  EXPECT_EQ(u32(50), 12u);
  EXPECT_EQ(out->text(), "hello world\n");
  // Hostile: iovec array, buffer, length and result pointer out of bounds; bad descriptors.
  EXPECT_EQ(call("fd_write", {1, kOob, 1, 50}), kFault);
  EXPECT_EQ(call("fd_write", {1, 65532, 1, 50}), kFault);
  EXPECT_EQ(call("fd_write", {1, 0, 0x20000000, 50}), kFault);
  iov(16, 65000, 1000);
  EXPECT_EQ(call("fd_write", {1, 16, 1, 50}), kFault);
  iov(16, 100, 0xffffffff);
  EXPECT_EQ(call("fd_write", {1, 16, 1, 50}), kFault);
  iov(16, 0xffffffff, 2);
  EXPECT_EQ(call("fd_write", {1, 16, 1, 50}), kFault);
  EXPECT_EQ(call("fd_write", {1, 0, 1, kOob}), kFault);
  EXPECT_EQ(call("fd_write", {99, 0, 1, 50}), kBadf);
  EXPECT_EQ(call("fd_write", {0xffffffff, 0, 1, 50}), kBadf);
  EXPECT_EQ(call("fd_write", {3, 0, 1, 50}), kIsdir);
  EXPECT_EQ(out->text(), "hello world\n");  // nothing partial was written
  // Zero iovecs is a successful no-op.
  EXPECT_EQ(call("fd_write", {1, 0, 0, 50}), kSuccess);
  EXPECT_EQ(u32(50), 0u);
}

// More than IOV_MAX (1024) iovecs is EINVAL for every vectored call: each one is walked on the
// host, twice. Out-of-range arrays are still EFAULT first.
TEST_F(WasiTest, IovecCountBound) {
  constexpr std::uint32_t kIovs = 20000;  // clear of what open() writes at 900 and 1000
  std::memset(mem().ptr(kIovs, 1025 * 8), 0, 1025 * 8);
  iov(kIovs, 100, 1);
  EXPECT_EQ(call("fd_write", {1, kIovs, 1024, 50000}), kSuccess);
  EXPECT_EQ(u32(50000), 1u);
  EXPECT_EQ(call("fd_write", {1, kIovs, 1025, 50000}), kInval);
  EXPECT_EQ(call("fd_write", {0, kIovs, 1025, 50000}), kInval);
  std::uint32_t fd = 0;
  ASSERT_EQ(open("a.txt", &fd), kSuccess);
  EXPECT_EQ(call("fd_read", {fd, kIovs, 1024, 50000}), kSuccess);
  EXPECT_EQ(u32(50000), 1u);
  EXPECT_EQ(call("fd_read", {fd, kIovs, 1025, 50000}), kInval);
  EXPECT_EQ(call("fd_pread", {fd, kIovs, 1025, 0, 50000}), kInval);
  EXPECT_EQ(call("fd_write", {1, 0, 0x20000000, 50000}), kFault);
}

// More than 4096 subscriptions is EINVAL: the host copies and polls every one on each wakeup.
TEST_F(WasiTest, PollSubscriptionBound) {
  ASSERT_EQ(call("grow", {6}), 1u);  // 7 pages: room for 4097 subscriptions and their events
  std::uint32_t subs = 0, events = 4097 * 48, nevents = events + 4097 * 32;
  std::memset(mem().ptr(0, nevents + 4), 0, nevents + 4);
  for (std::uint32_t i = 0; i < 4097; ++i) mem().store<std::uint32_t>(subs + i * 48 + 16, 1);
  EXPECT_EQ(call("poll_oneoff", {subs, events, 4096, nevents}), kSuccess);  // zero timeouts
  EXPECT_EQ(u32(nevents), 4096u);
  EXPECT_EQ(call("poll_oneoff", {subs, events, 4097, nevents}), kInval);
}

TEST_F(WasiTest, WritesFromGrownMemory) {
  ASSERT_EQ(call("grow", {1}), 1u);
  put(70000, "grown\n");
  iov(0, 70000, 6);
  EXPECT_EQ(call("fd_write", {1, 0, 1, 70010}), kSuccess);
  EXPECT_EQ(u32(70010), 6u);
  EXPECT_EQ(out->text(), "grown\n");
}

TEST_F(WasiTest, ReadOnlyFiles) {
  std::uint32_t fd = 0;
  ASSERT_EQ(open("a.txt", &fd), kSuccess);
  EXPECT_GE(fd, 4u);
  iov(0, 100, 5);
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kSuccess);
  EXPECT_EQ(u32(50), 5u);
  EXPECT_EQ(get(100, 5), "hello");
  EXPECT_EQ(call("fd_tell", {fd, 60}), kSuccess);
  EXPECT_EQ(u64(60), 5u);
  EXPECT_EQ(call("fd_seek", {fd, static_cast<std::uint32_t>(-3), 2, 60}), kSuccess);
  EXPECT_EQ(u64(60), 10u);
  iov(0, 100, 64);
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kSuccess);
  EXPECT_EQ(get(100, u32(50)), "ets");
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kSuccess);
  EXPECT_EQ(u32(50), 0u);  // EOF
  EXPECT_EQ(call("fd_pread", {fd, 0, 1, 7, 50}), kSuccess);
  EXPECT_EQ(get(100, u32(50)), "assets");
  EXPECT_EQ(call("fd_seek", {fd, static_cast<std::uint32_t>(-100), 1, 60}), kInval);
  EXPECT_EQ(call("fd_seek", {fd, 0, 7, 60}), kInval);
  EXPECT_EQ(call("fd_seek", {fd, 0, 0, kOob}), kFault);
  EXPECT_EQ(call("fd_filestat_get", {fd, 200}), kSuccess);
  EXPECT_EQ(mem().ptr(216, 1)[0], 4);  // regular file
  EXPECT_EQ(u64(232), 13u);           // size
  EXPECT_EQ(call("fd_fdstat_get", {fd, 300}), kSuccess);
  EXPECT_EQ(mem().ptr(300, 1)[0], 4);
  EXPECT_EQ(u64(308) & 64, 0u);  // no fd_write right
  // Writing, truncating, allocating: the tree is read-only.
  EXPECT_EQ(call("fd_write", {fd, 0, 1, 50}), kBadf);
  EXPECT_EQ(call("fd_pwrite", {fd, 0, 1, 0, 50}), kBadf);
  EXPECT_EQ(call("fd_filestat_set_size", {fd, 0}), kRofs);
  EXPECT_EQ(call("fd_allocate", {fd, 0, 10}), kRofs);
  EXPECT_EQ(call("fd_fdstat_set_flags", {fd, 1}), kNotsup);
  EXPECT_EQ(call("fd_close", {fd}), kSuccess);
  EXPECT_EQ(call("fd_close", {fd}), kBadf);
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kBadf);
}

TEST_F(WasiTest, PathOpenRejectsEscapesAndWrites) {
  std::uint32_t fd;
  EXPECT_EQ(open("../etc/passwd", &fd), kNotcapable);
  EXPECT_EQ(open("/etc/passwd", &fd), kNotcapable);
  EXPECT_EQ(open("dir/../../a.txt", &fd), kNotcapable);
  EXPECT_EQ(open("dir/../a.txt", &fd), kSuccess);
  EXPECT_EQ(open("missing.txt", &fd), kNoent);
  EXPECT_EQ(open("a.txt/x", &fd), kNotdir);
  EXPECT_EQ(open("a.txt", &fd, 2 /*DIRECTORY*/), kNotdir);
  EXPECT_EQ(open("new.txt", &fd, 1 /*CREAT*/), kRofs);
  EXPECT_EQ(open("a.txt", &fd, 1 | 4 /*CREAT|EXCL*/), kExist);
  EXPECT_EQ(open("a.txt", &fd, 8 /*TRUNC*/), kRofs);
  EXPECT_EQ(open("a.txt", &fd, 0, 64 /*fd_write*/), kRofs);
  // Hostile path pointer/length, result pointer and descriptors.
  EXPECT_EQ(call("path_open", {3, 0, kOob, 4, 0, 2, 0, 0, 900}), kFault);
  EXPECT_EQ(call("path_open", {3, 0, 1000, 0xffffffff, 0, 2, 0, 0, 900}), kFault);
  EXPECT_EQ(call("path_open", {3, 0, 1000, 5, 0, 2, 0, 0, kOob}), kFault);
  EXPECT_EQ(call("path_open", {1, 0, 1000, 5, 0, 2, 0, 0, 900}), kNotdir);
  EXPECT_EQ(call("path_open", {77, 0, 1000, 5, 0, 2, 0, 0, 900}), kBadf);
  // Directories open and list.
  ASSERT_EQ(open("dir", &fd, 2), kSuccess);
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kIsdir);
}

TEST_F(WasiTest, Preopens) {
  EXPECT_EQ(call("fd_prestat_get", {3, 0}), kSuccess);
  EXPECT_EQ(mem().ptr(0, 1)[0], 0);  // directory
  EXPECT_EQ(u32(4), 1u);
  EXPECT_EQ(call("fd_prestat_dir_name", {3, 100, 1}), kSuccess);
  EXPECT_EQ(get(100, 1), "/");
  EXPECT_EQ(call("fd_prestat_dir_name", {3, 100, 0}), kNametoolong);
  EXPECT_EQ(call("fd_prestat_dir_name", {3, kOob, 1}), kFault);
  EXPECT_EQ(call("fd_prestat_get", {3, kOob}), kFault);
  EXPECT_EQ(call("fd_prestat_get", {1, 0}), kSuccess);  // exists, not a preopen: tag 1
  EXPECT_EQ(mem().ptr(0, 1)[0], 1);
  EXPECT_EQ(call("fd_prestat_dir_name", {1, 100, 1}), kNotsup);
  EXPECT_EQ(call("fd_prestat_get", {4, 0}), kSuccess);  // the writable one, by its name
  EXPECT_EQ(u32(4), 4u);
  EXPECT_EQ(call("fd_prestat_dir_name", {4, 100, 4}), kSuccess);
  EXPECT_EQ(get(100, 4), "/tmp");
  EXPECT_EQ(call("fd_prestat_get", {5, 0}), kBadf);    // end of the list
}

TEST_F(WasiTest, Readdir) {
  EXPECT_EQ(call("fd_readdir", {3, 0, 4096, 0, 5000}), kSuccess);
  std::uint32_t used = u32(5000);
  std::vector<std::string> names;
  for (std::uint32_t p = 0; p + 24 <= used;) {
    std::uint32_t len = u32(p + 16);
    names.push_back(get(p + 24, len));
    p += 24 + len;
  }
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "a.txt", "dir"}));
  // A cookie resumes after an entry; a small buffer is filled completely (truncated entry).
  EXPECT_EQ(call("fd_readdir", {3, 0, 4096, 3, 5000}), kSuccess);
  EXPECT_EQ(get(24, 3), "dir");
  EXPECT_EQ(call("fd_readdir", {3, 0, 30, 0, 5000}), kSuccess);
  EXPECT_EQ(u32(5000), 30u);
  EXPECT_EQ(call("fd_readdir", {3, 0, 4096, 1000, 5000}), kSuccess);
  EXPECT_EQ(u32(5000), 0u);
  EXPECT_EQ(call("fd_readdir", {3, 65000, 4096, 0, 5000}), kFault);
  EXPECT_EQ(call("fd_readdir", {1, 0, 4096, 0, 5000}), kNotdir);
}

// The writable in-memory preopen through the WASI calls themselves: create, write, seek, read,
// pwrite, truncate, rename, readdir, times, rights, ENOSPC, hostile pointers.
TEST_F(WasiTest, WritableDirectory) {
  const std::uint64_t rw = 2 | 4 | 64 | (1u << 22) | (1u << 8) | (1u << 23) | (1u << 3);
  put(1000, "f.txt");
  ASSERT_EQ(call("path_open", {4, 0, 1000, 5, 1 /*CREAT*/, rw, 0, 0, 900}), kSuccess);
  std::uint32_t fd = u32(900);
  put(100, "hello world");
  iov(0, 100, 11);
  EXPECT_EQ(call("fd_write", {fd, 0, 1, 50}), kSuccess);
  EXPECT_EQ(u32(50), 11u);
  EXPECT_EQ(call("fd_seek", {fd, 6, 0, 60}), kSuccess);
  iov(0, 200, 64);
  EXPECT_EQ(call("fd_read", {fd, 0, 1, 50}), kSuccess);
  EXPECT_EQ(get(200, u32(50)), "world");
  put(100, "W");
  iov(0, 100, 1);
  EXPECT_EQ(call("fd_pwrite", {fd, 0, 1, 6, 50}), kSuccess);
  iov(0, 200, 64);
  EXPECT_EQ(call("fd_pread", {fd, 0, 1, 0, 50}), kSuccess);
  EXPECT_EQ(get(200, u32(50)), "hello World");
  EXPECT_EQ(call("fd_filestat_set_size", {fd, 5}), kSuccess);
  EXPECT_EQ(call("fd_filestat_get", {fd, 300}), kSuccess);
  EXPECT_EQ(u64(332), 5u);
  EXPECT_EQ(call("fd_filestat_set_times", {fd, 7, 9, 1 | 4}), kSuccess);
  EXPECT_EQ(call("fd_filestat_get", {fd, 300}), kSuccess);
  EXPECT_EQ(u64(340), 7u);  // atim
  EXPECT_EQ(u64(348), 9u);  // mtim
  // Hostile pointers: out-of-range iovecs and results are EFAULT, nothing written.
  iov(0, kOob, 4);
  EXPECT_EQ(call("fd_pwrite", {fd, 0, 1, 0, 50}), kFault);
  EXPECT_EQ(call("fd_write", {fd, 0, 1, kOob}), kFault);
  // Rights only shrink, and a dropped one is ENOTCAPABLE.
  EXPECT_EQ(call("fd_fdstat_set_rights", {fd, 2 | 4, 0}), kSuccess);
  iov(0, 100, 1);
  EXPECT_EQ(call("fd_write", {fd, 0, 1, 50}), kNotcapable);
  EXPECT_EQ(call("fd_fdstat_set_rights", {fd, rw, 0}), kNotcapable);
  EXPECT_EQ(call("fd_close", {fd}), kSuccess);
  // Rename and list.
  put(1100, "g.txt");
  EXPECT_EQ(call("path_rename", {4, 1000, 5, 4, 1100, 5}), kSuccess);
  put(1200, "sub");
  EXPECT_EQ(call("path_create_directory", {4, 1200, 3}), kSuccess);
  EXPECT_EQ(call("fd_readdir", {4, 2000, 1024, 0, 50}), kSuccess);
  std::vector<std::string> names;
  for (std::uint32_t p = 0; p + 24 <= u32(50);) {
    std::uint32_t len = u32(2000 + p + 16);
    names.push_back(get(2000 + p + 24, len));
    p += 24 + len;
  }
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "g.txt", "sub"}));
  // Renaming from /tmp into the assets is EXDEV (another file system); out of the read-only
  // tree, EROFS.
  put(1300, "a.txt");
  EXPECT_EQ(call("path_rename", {4, 1100, 5, 3, 1300, 5}), 75u);
  EXPECT_EQ(call("path_rename", {3, 1300, 5, 4, 1100, 5}), kRofs);
  // ENOSPC: 16 KiB hold no 32 KiB file.
  put(1400, "big");
  ASSERT_EQ(call("path_open", {4, 0, 1400, 3, 1, rw, 0, 0, 900}), kSuccess);
  fd = u32(900);
  EXPECT_EQ(call("fd_allocate", {fd, 0, 32768}), 51u);
  EXPECT_EQ(call("fd_filestat_set_size", {fd, 32768}), 51u);
  // Escapes from the writable preopen.
  put(1500, "../a.txt");
  EXPECT_EQ(call("path_open", {4, 0, 1500, 8, 0, 2, 0, 0, 900}), kNotcapable);
  put(1500, "/etc/passwd");
  EXPECT_EQ(call("path_open", {4, 0, 1500, 11, 1, rw, 0, 0, 900}), kNotcapable);
  put(1600, "out");
  put(1700, "../..");
  EXPECT_EQ(call("path_symlink", {1700, 5, 4, 1600, 3}), kSuccess);
  put(1800, "out/x");
  EXPECT_EQ(call("path_open", {4, 0, 1800, 5, 1, rw, 0, 0, 900}), kNotcapable);
}

TEST_F(WasiTest, PathCalls) {
  put(1000, "dir/b.txt");
  EXPECT_EQ(call("path_filestat_get", {3, 0, 1000, 9, 200}), kSuccess);
  EXPECT_EQ(u64(232), 10u);
  EXPECT_EQ(call("path_filestat_get", {3, 0, 1000, 3, 200}), kSuccess);
  EXPECT_EQ(mem().ptr(216, 1)[0], 3);  // directory
  EXPECT_EQ(call("path_filestat_get", {3, 0, 1000, 9, kOob}), kFault);
  put(1100, "../x");
  EXPECT_EQ(call("path_filestat_get", {3, 0, 1100, 4, 200}), kNotcapable);
  EXPECT_EQ(call("path_readlink", {3, 1000, 9, 2000, 64, 2100}), kInval);
  EXPECT_EQ(call("path_readlink", {3, 1100, 4, 2000, 64, 2100}), kNotcapable);
  EXPECT_EQ(call("path_readlink", {3, 1000, 9, 65500, 64, 2100}), kFault);
  EXPECT_EQ(call("path_unlink_file", {3, 1000, 9}), kRofs);
  EXPECT_EQ(call("path_create_directory", {3, 1000, 3}), kRofs);
  EXPECT_EQ(call("path_remove_directory", {3, 1000, 3}), kRofs);
  EXPECT_EQ(call("path_rename", {3, 1000, 3, 3, 1100, 4}), kRofs);
  EXPECT_EQ(call("path_symlink", {1000, 3, 3, 1100, 4}), kRofs);
  EXPECT_EQ(call("path_unlink_file", {1, 1000, 9}), kNotdir);
  EXPECT_EQ(call("path_unlink_file", {50, 1000, 9}), kBadf);
}

// Every call that takes a path refuses one over 4096 bytes with ENAMETOOLONG, and only after
// EBADF / ENOTDIR for its descriptor and EFAULT for the range (as Linux copies a path in).
TEST_F(WasiTest, PathLengthBound) {
  std::string at_bound(4096, '/');
  at_bound.replace(0, 3, "dir");
  put(1000, at_bound + "/");
  put(9000, "x");
  std::uint32_t ok = 4096, over = 4097;
  EXPECT_EQ(call("path_filestat_get", {3, 0, 1000, ok, 200}), kSuccess);
  EXPECT_EQ(call("path_open", {3, 0, 1000, ok, 0, 2, 0, 0, 900}), kSuccess);
  EXPECT_EQ(call("path_readlink", {3, 1000, ok, 2000, 64, 2100}), kInval);
  EXPECT_EQ(call("path_create_directory", {3, 1000, ok}), kRofs);
  for (std::uint32_t len : {over, 60000u}) {
    EXPECT_EQ(call("path_open", {3, 0, 1000, len, 0, 2, 0, 0, 900}), kNametoolong);
    EXPECT_EQ(call("path_filestat_get", {3, 0, 1000, len, 200}), kNametoolong);
    EXPECT_EQ(call("path_readlink", {3, 1000, len, 2000, 64, 2100}), kNametoolong);
    EXPECT_EQ(call("path_create_directory", {3, 1000, len}), kNametoolong);
    EXPECT_EQ(call("path_remove_directory", {3, 1000, len}), kNametoolong);
    EXPECT_EQ(call("path_unlink_file", {3, 1000, len}), kNametoolong);
    EXPECT_EQ(call("path_filestat_set_times", {3, 0, 1000, len, 0, 0, 0}), kNametoolong);
    EXPECT_EQ(call("path_rename", {3, 1000, len, 3, 9000, 1}), kNametoolong);
    EXPECT_EQ(call("path_rename", {3, 9000, 1, 3, 1000, len}), kNametoolong);
    EXPECT_EQ(call("path_link", {3, 0, 1000, len, 3, 9000, 1}), kNametoolong);
    EXPECT_EQ(call("path_link", {3, 0, 9000, 1, 3, 1000, len}), kNametoolong);
    EXPECT_EQ(call("path_symlink", {1000, len, 3, 9000, 1}), kNametoolong);
    EXPECT_EQ(call("path_symlink", {9000, 1, 3, 1000, len}), kNametoolong);
  }
  // A component over 255 bytes.
  put(20000, std::string(256, 'n'));
  EXPECT_EQ(call("path_filestat_get", {3, 0, 20000, 256, 200}), kNametoolong);
  EXPECT_EQ(call("path_filestat_get", {3, 0, 20000, 255, 200}), kNoent);
  // Out of range before too long; bad descriptors before either.
  EXPECT_EQ(call("path_open", {3, 0, 1000, 0xffffffff, 0, 2, 0, 0, 900}), kFault);
  EXPECT_EQ(call("path_unlink_file", {3, kOob, 5000}), kFault);
  EXPECT_EQ(call("path_unlink_file", {3, kOob, 1}), kFault);
  EXPECT_EQ(call("path_rename", {3, 1000, 3, 3, kOob, 1}), kFault);
  EXPECT_EQ(call("path_symlink", {kOob, 1, 3, 9000, 1}), kFault);
  EXPECT_EQ(call("path_unlink_file", {1, 1000, over}), kNotdir);
  EXPECT_EQ(call("path_link", {3, 0, 1000, over, 1, 9000, 1}), kNotdir);
  EXPECT_EQ(call("path_symlink", {1000, over, 77, 9000, 1}), kBadf);
}

TEST_F(WasiTest, ClocksRandomAndMisc) {
  EXPECT_EQ(call("clock_time_get", {0, 1, 100}), kSuccess);
  EXPECT_GT(u64(100), 1'600'000'000ull * 1'000'000'000ull);  // after 2020
  EXPECT_EQ(call("clock_time_get", {1, 1, 100}), kSuccess);
  EXPECT_EQ(call("clock_time_get", {9, 1, 100}), kInval);
  EXPECT_EQ(call("clock_time_get", {0, 1, 65530}), kFault);
  EXPECT_EQ(call("clock_res_get", {1, 100}), kSuccess);
  EXPECT_GT(u64(100), 0u);
  EXPECT_EQ(call("clock_res_get", {1, kOob}), kFault);

  std::memset(mem().ptr(100, 64), 0, 64);
  EXPECT_EQ(call("random_get", {100, 64}), kSuccess);
  EXPECT_NE(get(100, 64), std::string(64, '\0'));
  EXPECT_EQ(call("random_get", {65500, 100}), kFault);
  EXPECT_EQ(call("random_get", {0, 0xffffffff}), kFault);
  EXPECT_EQ(call("random_get", {65536, 0}), kSuccess);

  EXPECT_EQ(call("sched_yield", {}), kSuccess);
  EXPECT_EQ(call("proc_raise", {6}), kNosys);
  EXPECT_EQ(call("no_such_call", {}), kNosys);
  EXPECT_EQ(call("whatever", {1}), kNosys);
}

TEST_F(WasiTest, FdstatAndRenumber) {
  EXPECT_EQ(call("fd_fdstat_get", {1, 100}), kSuccess);
  EXPECT_EQ(mem().ptr(100, 1)[0], 2);  // character device
  EXPECT_NE(u64(108) & 64, 0u);       // fd_write right
  EXPECT_EQ(call("fd_fdstat_get", {3, 100}), kSuccess);
  EXPECT_EQ(mem().ptr(100, 1)[0], 3);
  // The preopen lets a guest *ask* for fd_write (wasi-libc masks O_WRONLY by it), so that
  // path_open can answer EROFS instead of a silently read-only descriptor.
  EXPECT_NE(u64(116) & 64, 0u);
  EXPECT_EQ(u64(108) & 64, 0u);
  EXPECT_EQ(call("fd_fdstat_get", {9, 100}), kBadf);
  EXPECT_EQ(call("fd_fdstat_get", {1, 65530}), kFault);
  EXPECT_EQ(call("fd_fdstat_set_flags", {1, 4}), kSuccess);  // NONBLOCK
  EXPECT_EQ(call("fd_fdstat_get", {1, 100}), kSuccess);
  EXPECT_EQ(*mem().load<std::uint16_t>(102), 4);
  EXPECT_EQ(call("fd_fdstat_set_flags", {1, 1}), kNotsup);  // APPEND
  EXPECT_EQ(call("fd_fdstat_set_rights", {1, static_cast<std::uint32_t>(-1), 0}), kNotcapable);
  EXPECT_EQ(call("fd_fdstat_set_rights", {1, 64, 0}), kSuccess);
  EXPECT_EQ(call("fd_seek", {1, 0, 0, 100}), kSpipe);
  EXPECT_EQ(call("fd_tell", {1, 100}), kSpipe);
  EXPECT_EQ(call("fd_renumber", {2, 0}), kSuccess);
  EXPECT_EQ(call("fd_fdstat_get", {2, 100}), kBadf);
  EXPECT_EQ(call("fd_renumber", {2, 0}), kBadf);
}

TEST_F(WasiTest, SocketCallsOnOtherDescriptors) {
  EXPECT_EQ(call("sock_accept", {1, 0, 100}), kNotsock);
  EXPECT_EQ(call("sock_accept", {42, 0, 100}), kBadf);
  EXPECT_EQ(call("sock_recv", {1, 0, 1, 0, 100, 104}), kNotsock);
  EXPECT_EQ(call("sock_send", {3, 0, 1, 0, 100}), kNotsock);
  EXPECT_EQ(call("sock_shutdown", {1, 3}), kNotsock);
  EXPECT_EQ(call("sock_shutdown", {42, 3}), kBadf);
}

TEST_F(WasiTest, PollOneoff) {
  auto sub_clock = [&](std::uint32_t at, std::uint64_t userdata, std::uint64_t ns) {
    std::memset(mem().ptr(at, 48), 0, 48);
    mem().store<std::uint64_t>(at, userdata);
    mem().store<std::uint32_t>(at + 16, 1);
    mem().store<std::uint64_t>(at + 24, ns);
  };
  sub_clock(0, 77, 20'000'000);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(call("poll_oneoff", {0, 1000, 1, 2000}), kSuccess);
  // Never early: the sleep lasts at least the requested 20 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
  EXPECT_EQ(u32(2000), 1u);
  EXPECT_EQ(u64(1000), 77u);
  // fd_write on stdout is ready immediately; a bad fd reports EBADF in its event.
  std::memset(mem().ptr(48, 96), 0, 96);
  mem().store<std::uint64_t>(48, 1);
  mem().ptr(56, 1)[0] = 2;
  mem().store<std::uint32_t>(64, 1);
  mem().store<std::uint64_t>(96, 2);
  mem().ptr(104, 1)[0] = 1;
  mem().store<std::uint32_t>(112, 99);
  EXPECT_EQ(call("poll_oneoff", {48, 1000, 2, 2000}), kSuccess);
  EXPECT_EQ(u32(2000), 2u);
  EXPECT_EQ(call("poll_oneoff", {0, 1000, 0, 2000}), kInval);
  EXPECT_EQ(call("poll_oneoff", {65500, 1000, 1, 2000}), kFault);
  EXPECT_EQ(call("poll_oneoff", {0, 65520, 1, 2000}), kFault);
  EXPECT_EQ(call("poll_oneoff", {0, 1000, 0x10000000, 2000}), kFault);
  mem().ptr(8, 1)[0] = 9;  // unknown subscription tag
  EXPECT_EQ(call("poll_oneoff", {0, 1000, 1, 2000}), kInval);
}

TEST_F(WasiTest, PollOneoffSleepsBelowAMillisecondWithoutSpinning) {
  std::memset(mem().ptr(0, 48), 0, 48);
  mem().store<std::uint32_t>(16, 1);        // monotonic clock
  mem().store<std::uint64_t>(24, 400'000);  // 0.4 ms
  auto cpu0 = test::thread_cpu_time();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 25; ++i) ASSERT_EQ(call("poll_oneoff", {0, 1000, 1, 2000}), kSuccess);
  auto wall = std::chrono::steady_clock::now() - t0;
  auto cpu = test::thread_cpu_time() - cpu0;
  EXPECT_GE(wall, std::chrono::milliseconds(10));  // 25 x 0.4 ms, never early
  EXPECT_LT(cpu, wall / 2) << "sub-millisecond sleeps must block, not spin";
}

TEST_F(WasiTest, ProcExit) {
  CallOutcome r = inst->call("proc_exit", {5}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::Exited);
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(wasi->call_counts().at("proc_exit"), 1u);
}

// wasi_probe.wat instantiated over a Wasi set up by the test.
struct Probe {
  explicit Probe(Wasi& wasi) {
    engine = make_v8_engine();
    wasm = read_file(test::wat_module("wasi_probe"));
    module = engine->compile(wasm);
    Imports imports;
    wasi.add_to(imports);
    inst = engine->instantiate(*module, imports);
  }
  std::uint32_t call(const std::string& fn, std::vector<std::uint64_t> args) {
    CallOutcome r = inst->call(fn, args, {});
    EXPECT_EQ(r.kind, CallOutcome::Kind::Returned) << fn << ": " << r.message;
    return r.results.empty() ? 0xffffffffu : static_cast<std::uint32_t>(r.results[0]);
  }
  std::unique_ptr<Engine> engine;
  Bytes wasm;
  std::unique_ptr<Module> module;
  std::unique_ptr<Instance> inst;
};

// stdout is a pipe nobody reads. Non-blocking (fd_fdstat_set_flags), the guest gets EAGAIN once
// it is full; blocking, fd_write ends at the run's deadline instead of waiting in write().
TEST(WasiOutput, FullPipeAnswersEagainOrEndsAtTheDeadline) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  WasiOptions o;
  o.args = {"main.wasm"};
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  Wasi wasi(o);
  wasi.add_null();
  wasi.add_host_fd(p[1], false, true);
  Probe probe(wasi);
  probe.inst->memory().store<std::uint32_t>(0, 1024);
  probe.inst->memory().store<std::uint32_t>(4, 32768);
  ASSERT_EQ(probe.call("fd_fdstat_set_flags", {1, 4}), kSuccess);
  std::uint32_t e = kSuccess;
  for (int i = 0; i < 10000 && e == kSuccess; ++i) e = probe.call("fd_write", {1, 0, 1, 16});
  EXPECT_EQ(e, kAgain);
  ASSERT_EQ(probe.call("fd_fdstat_set_flags", {1, 0}), kSuccess);
  auto t0 = std::chrono::steady_clock::now();
  CallOutcome r = probe.inst->call("fd_write", {1, 0, 1, 16}, {});
  EXPECT_EQ(r.kind, CallOutcome::Kind::TimedOut) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  ::close(p[0]);
  ::close(p[1]);
}

// A directory of 20000 entries read one entry per call (a 40-byte buffer), as a guest with a
// small dirent buffer reads it. Each call used to copy every name of the directory first:
// 20000 x 20000 string copies.
TEST(WasiReaddir, LargeDirectoryCostsEachCallOnlyWhatItReturns) {
  AssetTree tree;
  constexpr int kFiles = 20000;
  for (int i = 0; i < kFiles; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%05d", i);
    tree.add_file(name, {});
  }
  Wasi wasi(WasiOptions{});
  wasi.add_preopen(tree.root(), "/");  // fd 0
  Probe probe(wasi);
  auto t0 = std::chrono::steady_clock::now();
  std::uint64_t cookie = 0;
  int seen = 0;
  for (;;) {
    ASSERT_EQ(probe.call("fd_readdir", {0, 100, 40, static_cast<std::uint32_t>(cookie), 8}),
              kSuccess);
    std::uint32_t used = *probe.inst->memory().load<std::uint32_t>(8);
    if (used == 0) break;
    // One whole entry, then as much of the next as fits: the caller resumes after the first.
    ASSERT_GE(used, 24 + *probe.inst->memory().load<std::uint32_t>(116));
    cookie = *probe.inst->memory().load<std::uint64_t>(100);
    if (cookie > 2) {
      char want[16];
      std::snprintf(want, sizeof want, "f%05d", seen++);
      ASSERT_EQ(std::string(reinterpret_cast<const char*>(probe.inst->memory().ptr(124, 6)), 6),
                want);
    }
  }
  EXPECT_EQ(seen, kFiles);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // Any cookie still works, in any order.
  ASSERT_EQ(probe.call("fd_readdir", {0, 100, 40, 2 + 12345, 8}), kSuccess);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(probe.inst->memory().ptr(124, 6)), 6),
            "f12345");
  ASSERT_EQ(probe.call("fd_readdir", {0, 100, 40, 1, 8}), kSuccess);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(probe.inst->memory().ptr(124, 2)), 2), "..");
}

}  // namespace
}  // namespace enarx::runtime
