#include "runtime/assets.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file.h"

namespace enarx::runtime {
namespace {

AssetTree sample() {
  AssetTree t;
  t.add_file("a.txt", to_bytes("A"));
  t.add_file("dir/b.txt", to_bytes("B"));
  t.add_file("dir/sub/c.txt", to_bytes("C"));
  t.add_directory("empty");
  return t;
}

TEST(Assets, Resolve) {
  AssetTree t = sample();
  EXPECT_EQ(resolve_path(t.root(), "a.txt").error, 0);
  EXPECT_EQ(resolve_path(t.root(), "dir/sub/c.txt").node->data->at(0), 'C');
  EXPECT_EQ(resolve_path(t.root(), "./dir//b.txt").error, 0);
  EXPECT_EQ(resolve_path(t.root(), "dir/../a.txt").error, 0);
  EXPECT_EQ(resolve_path(t.root(), ".").node, &t.root());
  EXPECT_TRUE(resolve_path(t.root(), "dir/").node->is_dir);
  EXPECT_EQ(resolve_path(t.root(), "missing").error, 44);
  EXPECT_EQ(resolve_path(t.root(), "").error, 44);
  EXPECT_EQ(resolve_path(t.root(), "a.txt/x").error, 54);
  EXPECT_EQ(resolve_path(t.root(), "a.txt/").error, 54);
}

TEST(Assets, EscapesAreNotCapable) {
  AssetTree t = sample();
  EXPECT_EQ(resolve_path(t.root(), "..").error, 76);
  EXPECT_EQ(resolve_path(t.root(), "../etc/passwd").error, 76);
  EXPECT_EQ(resolve_path(t.root(), "dir/../../a.txt").error, 76);
  EXPECT_EQ(resolve_path(t.root(), "/etc/passwd").error, 76);
  EXPECT_EQ(resolve_path(t.root(), "/a.txt").error, 76);
  // Relative to a subdirectory, climbing above it is an escape too.
  const AssetNode* dir = resolve_path(t.root(), "dir").node;
  EXPECT_EQ(resolve_path(*dir, "../a.txt").error, 76);
  EXPECT_EQ(resolve_path(*dir, "sub/../b.txt").error, 0);
}

// Over kMaxPathBytes the path is refused before it is looked at (a valid one just as much); a
// component over kMaxNameBytes where the walk reaches it. Up to the bound, depth is no problem:
// thousands of components, ".." back up through most of them.
TEST(Assets, LengthBounds) {
  AssetTree t = sample();
  std::string dots;
  for (int i = 0; i < 2043; ++i) dots += "./";
  dots += "dir//b.txt";
  ASSERT_EQ(dots.size(), kMaxPathBytes);
  EXPECT_EQ(resolve_path(t.root(), dots).error, 0);
  EXPECT_EQ(resolve_path(t.root(), "." + dots).error, 37);
  EXPECT_EQ(resolve_path(t.root(), std::string(kMaxPathBytes + 1, '/')).error, 37);
  EXPECT_EQ(resolve_path(t.root(), std::string(100u << 20, 'a')).error, 37);
  EXPECT_EQ(resolve_path(t.root(), std::string(kMaxNameBytes, 'n')).error, 44);
  EXPECT_EQ(resolve_path(t.root(), std::string(kMaxNameBytes + 1, 'n')).error, 37);
  EXPECT_EQ(resolve_path(t.root(), "dir/" + std::string(kMaxNameBytes + 1, 'n')).error, 37);
  std::string deep = "dir/sub";
  for (int i = 0; i < 280; ++i) deep += "/../../dir/sub";
  deep += "/c.txt";
  ASSERT_LE(deep.size(), kMaxPathBytes);
  EXPECT_EQ(resolve_path(t.root(), deep).node->data->at(0), 'C');
}

TEST(Assets, BadPathsRejected) {
  AssetTree t;
  for (const char* p : {"", "/abs", "a//b", "../x", "a/./b", "a/.."}) {
    try {
      t.add_file(p, {});
      ADD_FAILURE() << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "runtime.assets.bad_path") << p;
    }
  }
  t.add_file("x", {});
  EXPECT_THROW(t.add_file("x", {}), Error);
  EXPECT_THROW(t.add_file("x/y", {}), Error);
}

TEST(Assets, FromDirectory) {
  TempDir d;
  std::filesystem::create_directories(d.path() / "s");
  write_file_atomic(d.path() / "s" / "f.txt", std::string_view("hello"));
  write_file_atomic(d.path() / "g", std::string_view("x"));
  AssetTree t = AssetTree::from_directory(d.path());
  EXPECT_EQ(t.file_count(), 2u);
  EXPECT_EQ(resolve_path(t.root(), "s/f.txt").node->data->size(), 5u);
  EXPECT_THROW(AssetTree::from_directory(d.path() / "nope"), Error);
}

}  // namespace
}  // namespace enarx::runtime
