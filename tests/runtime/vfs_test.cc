// The file systems behind preopened directories (vfs.h): the writable in-memory one (files,
// directories, rename, links, symlinks, stable readdir cookies, timestamps, the byte quota) and
// host directories (`enarx run --dir`), whose every way out — "..", absolute paths, symlinks
// planted on the host, rename and link — must be refused, with openat2 and with the component
// walk used where the kernel lacks it. Then the scratch example end to end: `enarx run` and
// run_workload agree, quota and escapes included.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file.h"
#include "runtime/vfs.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

namespace fs = std::filesystem;
using namespace vfs::err;

std::uint16_t write(vfs::Object& dir, std::string_view path, std::string_view text,
                    std::uint16_t oflags = vfs::kOCreat | vfs::kOTrunc) {
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.oflags = oflags;
  req.write = true;
  if (auto e = dir.open(path, req, &f)) return e;
  std::size_t put = 0;
  vfs::Stat st;
  f->stat(&st);
  return f->pwrite(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), st.size, &put);
}

std::string read(vfs::Object& dir, std::string_view path, std::uint16_t* err = nullptr) {
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.read = true;
  std::uint16_t e = dir.open(path, req, &f);
  if (err) *err = e;
  if (e) return "<errno " + std::to_string(e) + ">";
  std::string out(4096, '\0');
  std::size_t got = 0;
  f->pread(reinterpret_cast<std::uint8_t*>(out.data()), out.size(), 0, &got);
  out.resize(got);
  return out;
}

std::vector<std::string> names(vfs::Object& dir, std::uint64_t cookie = 0) {
  std::vector<vfs::Dirent> list;
  EXPECT_EQ(dir.readdir(cookie, 1000, &list), 0);
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.name);
  return out;
}

TEST(MemFs, FilesDirectoriesRenameUnlink) {
  auto root = vfs::make_memfs(1 << 20);
  EXPECT_EQ(write(*root, "a.txt", "hello "), 0);
  EXPECT_EQ(write(*root, "a.txt", "world", 0), 0);  // appended at the end (no TRUNC)
  EXPECT_EQ(read(*root, "a.txt"), "hello world");
  EXPECT_EQ(root->mkdir("d"), 0);
  EXPECT_EQ(root->mkdir("d"), kExist);
  EXPECT_EQ(root->mkdir("d/e/f"), kNoent);
  EXPECT_EQ(root->rename("a.txt", *root, "d/b.txt"), 0);
  EXPECT_EQ(read(*root, "a.txt"), "<errno 44>");
  EXPECT_EQ(read(*root, "d/b.txt"), "hello world");
  EXPECT_EQ(root->rmdir("d"), kNotempty);
  EXPECT_EQ(root->unlink("d"), kIsdir);
  EXPECT_EQ(root->rmdir("d/b.txt"), kNotdir);
  EXPECT_EQ(root->unlink("d/b.txt/"), kNotdir);
  EXPECT_EQ(root->rename("d", *root, "d/sub"), kInval);  // not below itself
  EXPECT_EQ(root->unlink("d/b.txt"), 0);
  EXPECT_EQ(root->rmdir("d/"), 0);
  EXPECT_EQ(names(*root), (std::vector<std::string>{".", ".."}));
  // O_EXCL, O_DIRECTORY, trailing slashes.
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.oflags = vfs::kOCreat | vfs::kOExcl;
  EXPECT_EQ(root->open("x", req, &f), 0);
  EXPECT_EQ(root->open("x", req, &f), kExist);
  req.oflags = vfs::kODirectory;
  EXPECT_EQ(root->open("x", req, &f), kNotdir);
  req.oflags = 0;
  EXPECT_EQ(root->open("x/", req, &f), kNotdir);
}

TEST(MemFs, TruncateSeekPreadPwriteTimes) {
  auto root = vfs::make_memfs(1 << 20);
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.oflags = vfs::kOCreat;
  req.read = req.write = true;
  ASSERT_EQ(root->open("f", req, &f), 0);
  std::size_t n = 0;
  EXPECT_EQ(f->pwrite(reinterpret_cast<const std::uint8_t*>("abc"), 3, 5, &n), 0);
  vfs::Stat st;
  f->stat(&st);
  EXPECT_EQ(st.size, 8u);  // a hole of zeros before
  std::uint8_t buf[8];
  EXPECT_EQ(f->pread(buf, 8, 0, &n), 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), n), std::string("\0\0\0\0\0abc", 8));
  EXPECT_EQ(f->set_size(2), 0);
  f->stat(&st);
  EXPECT_EQ(st.size, 2u);
  EXPECT_EQ(f->set_times(1000, 2000, vfs::kAtim | vfs::kMtim), 0);
  f->stat(&st);
  EXPECT_EQ(st.atim, 1000u);
  EXPECT_EQ(st.mtim, 2000u);
  EXPECT_EQ(f->set_times(0, 0, vfs::kAtim | vfs::kAtimNow), kInval);
  EXPECT_EQ(root->path_set_times("f", true, 0, 5, vfs::kMtim), 0);
  EXPECT_EQ(root->path_stat("f", true, &st), 0);
  EXPECT_EQ(st.mtim, 5u);
  EXPECT_EQ(st.type, vfs::kRegular);
}

TEST(MemFs, ReaddirCookiesSurviveChanges) {
  auto root = vfs::make_memfs(1 << 20);
  for (const char* n : {"a", "b", "c", "d"}) ASSERT_EQ(write(*root, n, "x"), 0);
  std::vector<vfs::Dirent> first;
  ASSERT_EQ(root->readdir(0, 4, &first), 0);  // ".", "..", "a", "b"
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[3].name, "b");
  // Removing an entry already returned and adding one does not move the rest.
  ASSERT_EQ(root->unlink("a"), 0);
  ASSERT_EQ(write(*root, "e", "x"), 0);
  EXPECT_EQ(names(*root, first[3].next), (std::vector<std::string>{"c", "d", "e"}));
}

TEST(MemFs, HardLinksAndSymlinks) {
  auto root = vfs::make_memfs(1 << 20);
  ASSERT_EQ(write(*root, "f", "data"), 0);
  ASSERT_EQ(root->mkdir("d"), 0);
  EXPECT_EQ(root->link("f", false, *root, "d/g"), 0);
  vfs::Stat st;
  ASSERT_EQ(root->path_stat("f", false, &st), 0);
  EXPECT_EQ(st.nlink, 2u);
  EXPECT_EQ(root->link("d", false, *root, "d2"), kPerm);
  EXPECT_EQ(root->link("f", false, *root, "d/g"), kExist);
  ASSERT_EQ(root->unlink("f"), 0);
  EXPECT_EQ(read(*root, "d/g"), "data");
  // Symlinks within the tree.
  EXPECT_EQ(root->symlink("d/g", "l"), 0);
  EXPECT_EQ(read(*root, "l"), "data");
  std::string target;
  EXPECT_EQ(root->readlink("l", &target), 0);
  EXPECT_EQ(target, "d/g");
  EXPECT_EQ(root->path_stat("l", false, &st), 0);
  EXPECT_EQ(st.type, vfs::kSymlink);
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest nofollow;
  nofollow.follow = false;
  EXPECT_EQ(root->open("l", nofollow, &f), kLoop);
  // Loops end with ELOOP; links that leave, and absolute ones, are not followed.
  EXPECT_EQ(root->symlink("loop2", "loop1"), 0);
  EXPECT_EQ(root->symlink("loop1", "loop2"), 0);
  EXPECT_EQ(read(*root, "loop1"), "<errno 32>");
  EXPECT_EQ(root->symlink("../outside", "up"), 0);
  EXPECT_EQ(read(*root, "up"), "<errno 76>");
  EXPECT_EQ(root->symlink("/etc/passwd", "abs"), kNotcapable);
  EXPECT_EQ(read(*root, "d/../../x"), "<errno 76>");
  EXPECT_EQ(read(*root, "/f"), "<errno 76>");
}

TEST(MemFs, QuotaGivesEnospcAndComesBack) {
  auto root = vfs::make_memfs(64 << 10);
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.oflags = vfs::kOCreat;
  req.write = true;
  ASSERT_EQ(root->open("big", req, &f), 0);
  std::string block(4096, 'x');
  std::uint64_t total = 0;
  std::uint16_t e = 0;
  for (int i = 0; i < 100 && !e; ++i) {
    std::size_t put = 0;
    e = f->pwrite(reinterpret_cast<const std::uint8_t*>(block.data()), block.size(), total, &put);
    total += put;
  }
  EXPECT_EQ(e, kNospc);
  EXPECT_LE(total, 64u << 10);
  EXPECT_GT(total, 60u << 10);
  EXPECT_EQ(f->set_size(1 << 20), kNospc);
  EXPECT_EQ(f->allocate(0, 1 << 20), kNospc);
  // Names cost quota too: a flood of empty files or directories ends with ENOSPC.
  int made = 0;
  while (root->mkdir("dir" + std::to_string(made)) == 0) ++made;
  EXPECT_EQ(root->mkdir("one-more"), kNospc);
  ASSERT_EQ(root->unlink("big"), 0);
  f.reset();
  EXPECT_EQ(root->mkdir("one-more"), 0);
  EXPECT_EQ(write(*root, "small", "fits again"), 0);
}

// An unlinked file still open keeps its bytes (as on a disk) until the last descriptor goes;
// then they are back in the quota.
TEST(MemFs, UnlinkedOpenFileHoldsQuotaUntilClosed) {
  auto root = vfs::make_memfs(64 << 10);
  std::unique_ptr<vfs::Object> f;
  vfs::OpenRequest req;
  req.oflags = vfs::kOCreat;
  req.read = req.write = true;
  ASSERT_EQ(root->open("tmp", req, &f), 0);
  ASSERT_EQ(root->unlink("tmp"), 0);
  std::string block(40 << 10, 'x');
  std::size_t put = 0;
  ASSERT_EQ(f->pwrite(reinterpret_cast<const std::uint8_t*>(block.data()), block.size(), 0, &put), 0);
  // 40 KiB more does not fit beside it: a short write (what fits), as a full disk gives.
  vfs::Stat st;
  EXPECT_EQ(write(*root, "other", block), 0);
  ASSERT_EQ(root->path_stat("other", false, &st), 0);
  EXPECT_LT(st.size, block.size());
  f.reset();
  EXPECT_EQ(write(*root, "other", block), 0);
  ASSERT_EQ(root->path_stat("other", false, &st), 0);
  EXPECT_EQ(st.size, block.size());
}

// Directories nested deeper than any path (each level created relative to a descriptor on the
// one above) are freed without recursing once per level on the host's stack.
TEST(MemFs, DeepNestingIsFreedWithoutRecursion) {
  auto root = vfs::make_memfs(64 << 20);
  std::unique_ptr<vfs::Object> cur;
  vfs::OpenRequest req;
  req.oflags = vfs::kODirectory;
  ASSERT_EQ(root->mkdir("a"), 0);
  ASSERT_EQ(root->open("a", req, &cur), 0);
  for (int i = 0; i < 200000; ++i) {
    ASSERT_EQ(cur->mkdir("a"), 0) << i;
    std::unique_ptr<vfs::Object> next;
    ASSERT_EQ(cur->open("a", req, &next), 0);
    cur = std::move(next);
  }
  EXPECT_EQ(cur->mkdir("x"), 0);
  cur.reset();
  root.reset();  // would overflow the stack with a recursive teardown
}

TEST(MemFs, AssetsAreReadOnly) {
  AssetTree t;
  t.add_file("a.txt", Bytes{'h', 'i'});
  auto root = vfs::open_assets(t.root());
  EXPECT_EQ(read(*root, "a.txt"), "hi");
  EXPECT_EQ(write(*root, "a.txt", "x", 0), kRofs);
  EXPECT_EQ(write(*root, "new.txt", "x"), kRofs);
  EXPECT_EQ(root->mkdir("d"), kRofs);
  EXPECT_EQ(root->unlink("a.txt"), kRofs);
  EXPECT_EQ(root->rename("a.txt", *root, "b.txt"), kRofs);
}

// A host directory with an "outside" sibling the guest must never reach, and symlinks planted
// on the host that point there.
class HostDir : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    vfs::force_component_walk_for_testing(GetParam());
    fs::create_directories(tmp_.path() / "inside" / "sub");
    write_file_atomic(tmp_.path() / "outside.txt", std::string_view("secret"));
    write_file_atomic(tmp_.path() / "inside" / "in.txt", std::string_view("inside"));
    fs::create_symlink("../outside.txt", tmp_.path() / "inside" / "up");
    fs::create_symlink((tmp_.path() / "outside.txt").string(), tmp_.path() / "inside" / "abs");
    fs::create_symlink("..", tmp_.path() / "inside" / "sub" / "parent");
    fs::create_symlink("../..", tmp_.path() / "inside" / "sub" / "grandparent");
    fs::create_symlink("/", tmp_.path() / "inside" / "root");
    dir_ = vfs::open_host_dir(tmp_.path() / "inside");
  }
  void TearDown() override { vfs::force_component_walk_for_testing(false); }
  bool outside_intact() {
    return read_text_file(tmp_.path() / "outside.txt") == "secret" &&
           std::distance(fs::directory_iterator(tmp_.path()), fs::directory_iterator()) == 2;
  }
  TempDir tmp_{"vfs-host"};
  std::unique_ptr<vfs::Object> dir_;
};

TEST_P(HostDir, EscapesAreRefused) {
  vfs::Object& d = *dir_;
  EXPECT_EQ(read(d, "in.txt"), "inside");
  EXPECT_EQ(read(d, "sub/../in.txt"), "inside");
  EXPECT_EQ(read(d, "sub/parent/in.txt"), "inside");  // a symlink that stays inside
  for (const char* p : {"../outside.txt", "/etc/passwd", "sub/../../outside.txt", "up", "abs",
                        "sub/grandparent/outside.txt", "root/etc/passwd"}) {
    std::uint16_t e = 0;
    read(d, p, &e);
    EXPECT_TRUE(e == kNotcapable || e == kLoop) << p << ": " << e;
  }
  vfs::Stat st;
  EXPECT_EQ(d.path_stat("up", true, &st), kNotcapable);
  EXPECT_EQ(d.path_stat("up", false, &st), 0);  // the link itself is inside
  // Creating, renaming and linking out of it.
  EXPECT_EQ(write(d, "../new.txt", "x"), kNotcapable);
  EXPECT_EQ(write(d, "up", "x", 0), kNotcapable);  // writing through a link that leaves
  EXPECT_EQ(d.mkdir("../newdir"), kNotcapable);
  EXPECT_EQ(d.rename("in.txt", d, "../moved.txt"), kNotcapable);
  EXPECT_EQ(d.rename("in.txt", d, "sub/grandparent/moved.txt"), kNotcapable);
  EXPECT_EQ(d.link("in.txt", false, d, "../linked.txt"), kNotcapable);
  EXPECT_EQ(d.link("up", true, d, "stolen"), kNotcapable);
  EXPECT_EQ(d.symlink("/etc/passwd", "newabs"), kNotcapable);
  EXPECT_EQ(d.unlink("../outside.txt"), kNotcapable);
  EXPECT_EQ(d.path_set_times("up", true, 0, 0, vfs::kMtim), kNotcapable);
  std::string t;
  EXPECT_EQ(d.readlink("../up", &t), kNotcapable);
  EXPECT_TRUE(outside_intact());
  // What stays inside works, and reaches the host directory.
  EXPECT_EQ(write(d, "sub/new.txt", "made inside"), 0);
  EXPECT_EQ(read_text_file(tmp_.path() / "inside" / "sub" / "new.txt"), "made inside");
  EXPECT_EQ(d.rename("sub/new.txt", d, "renamed.txt"), 0);
  EXPECT_TRUE(fs::exists(tmp_.path() / "inside" / "renamed.txt"));
}

INSTANTIATE_TEST_SUITE_P(Openat2AndComponentWalk, HostDir, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ComponentWalk" : "Openat2"; });

// The scratch example (writes, re-reads, renames in an in-memory /tmp, fills its quota) through
// `enarx run` exactly as through run_workload; tests/client runs it through `enarx deploy`.
const char* kScratchOutput =
    "/readme.txt: 48 bytes: scratch example: an asset next to writable /tmp\n"
    "/tmp/notes.txt: 23 bytes: first line\nsecond line\n"
    "/tmp/archive/notes.txt: 23 bytes: first line\nsecond line\n"
    "/tmp: archive\n"
    "/tmp/archive: notes.txt\n"
    "/tmp full after 63 KiB: ENOSPC\n"
    "/tmp/after.txt: 14 bytes: space is back\n"
    "scratch: ok\n";

TEST(Scratch, RunWorkloadAndEnarxRunAgree) {
  AssetTree assets = AssetTree::from_directory(test::source_path("examples/scratch/assets"));
  Config c = read_config_file(test::source_path("examples/scratch/Enarx.toml"));
  test::Outcome r = test::run_captured(test::example_module("scratch"), c, {}, &assets);
  EXPECT_EQ(r.result.exit_code, 0) << r.result.message << r.err;
  EXPECT_EQ(r.out, kScratchOutput);

  test::CliResult cli = test::run_enarx_cli(
      "run --no-code-cache --wasmcfgfile " + test::source_path("examples/scratch/Enarx.toml") +
          " --assets " + test::source_path("examples/scratch/assets") + " " +
          test::example_module("scratch"),
      false);
  EXPECT_EQ(cli.code, 0) << cli.output;
  EXPECT_EQ(cli.output, kScratchOutput);
}

// The quota never exceeds the memory limit: with --max-memory 1 (MiB) a 4 GiB tmpfs still ends
// in ENOSPC for the guest, never a host failure.
TEST(Scratch, QuotaIsBoundedByTheMemoryLimit) {
  Config c = read_config_file(test::source_path("examples/scratch/Enarx.toml"));
  (*c.dirs)[1].size = kMaxTmpfsBytes;
  AssetTree assets = AssetTree::from_directory(test::source_path("examples/scratch/assets"));
  RunOptions o;
  o.max_memory = 1 << 20;
  test::Outcome r = test::run_captured(test::example_module("scratch"), c, o, &assets);
  EXPECT_EQ(r.result.exit_code, 0) << r.result.message << r.err;
  EXPECT_NE(r.out.find("/tmp full after 1023 KiB: ENOSPC"), std::string::npos) << r.out;
}

TEST(Scratch, DevFlagsAndStrictLinking) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "host");
  // --tmpfs with a size, --env: the same program, its /tmp from the command line.
  test::CliResult r = test::run_enarx_cli(
      "run --no-code-cache --assets " + test::source_path("examples/scratch/assets") +
          " --tmpfs /tmp:32K --env A=B " + test::example_module("scratch"),
      false);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("/tmp full after 31 KiB: ENOSPC"), std::string::npos) << r.output;
  // --dir: /tmp is a host directory; the guest's files land there.
  r = test::run_enarx_cli("run --no-code-cache --assets " +
                              test::source_path("examples/scratch/assets") + " --dir " +
                              (tmp.path() / "host").string() + "::/tmp --time-limit 20 " +
                              test::example_module("scratch") + " -- --no-fill",
                          false);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("/tmp/archive/notes.txt: 23 bytes"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp.path() / "host" / "archive" / "notes.txt"));
  EXPECT_EQ(test::run_enarx_cli("run --tmpfs /t:0 " + test::example_module("scratch"), true).code, 2);
  EXPECT_EQ(test::run_enarx_cli("run --env NOEQUALS " + test::example_module("scratch"), true).code, 2);
  EXPECT_EQ(test::run_enarx_cli("run --dir /nonexistent-dir " + test::example_module("scratch"), true).code, 2);
  // A WASI import with the wrong type is refused before the module runs.
  r = test::run_enarx_cli("run --no-code-cache " + test::wat_module("wasi_bad_signature"), true);
  EXPECT_EQ(r.code, 78) << r.output;
  EXPECT_NE(r.output.find("runtime.module.invalid"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fd_write"), std::string::npos) << r.output;
  // A symlink loop in --assets is an input error that names it.
  fs::create_directories(tmp.path() / "assets");
  fs::create_symlink("loop", tmp.path() / "assets" / "loop");
  r = test::run_enarx_cli("run --assets " + (tmp.path() / "assets").string() + " " +
                              test::example_module("scratch"),
                          true);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("runtime.assets.symlink_loop"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loop"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace enarx::runtime
