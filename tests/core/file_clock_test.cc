#include <sys/stat.h>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"

namespace enarx {
namespace {

TEST(AtomicWrite, ReplacesContentAndSetsMode) {
  TempDir dir;
  auto p = dir.path() / "key.pem";
  write_file_atomic(p, std::string_view("first"), 0600);
  write_file_atomic(p, std::string_view("second"), 0600);
  EXPECT_EQ(read_text_file(p), "second");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temp files left behind.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(ReadFile, MissingAndTooLarge) {
  TempDir dir;
  EXPECT_THROW(read_file(dir.path() / "nope"), Error);
  write_file_atomic(dir.path() / "big", std::string(100, 'x'));
  try {
    read_file(dir.path() / "big", 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "io.too_large");
  }
}

TEST(Rfc3339, ParseAndFormat) {
  auto t = parse_rfc3339("2025-10-20T12:00:00Z");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(),
            1760961600);
  EXPECT_EQ(format_rfc3339(t), "2025-10-20T12:00:00Z");
  EXPECT_EQ(parse_rfc3339("2025-10-20T14:00:00+02:00"), t);
  EXPECT_EQ(format_rfc3339(parse_rfc3339("2025-10-20T12:00:00.750Z")), "2025-10-20T12:00:00Z");
  EXPECT_THROW(parse_rfc3339("2025-10-20"), Error);
  EXPECT_THROW(parse_rfc3339("2025-02-30T00:00:00Z"), Error);
  EXPECT_THROW(parse_rfc3339("2025-10-20T12:00:00Zjunk"), Error);
}

}  // namespace
}  // namespace enarx
