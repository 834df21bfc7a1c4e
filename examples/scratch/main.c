// scratch: writes, re-reads, appends to and renames files in the writable in-memory /tmp
// ([[dirs]] kind = "tmpfs" in Enarx.toml), reads an asset from the read-only "/", fills /tmp's
// quota until ENOSPC and shows the space comes back once the file is gone. Its output is the
// same under `enarx run` and `enarx deploy` (tests/runtime/vfs_test.cc, tests/client).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      printf("FAIL: " __VA_ARGS__);       \
      printf(" (errno %d)\n", errno);     \
      ++failures;                         \
    }                                     \
  } while (0)

static void put(const char* path, const char* text, const char* mode) {
  FILE* f = fopen(path, mode);
  CHECK(f != NULL, "fopen %s", path);
  if (!f) return;
  fputs(text, f);
  CHECK(fclose(f) == 0, "fclose %s", path);
}

static void show(const char* path) {
  char buf[256] = {0};
  FILE* f = fopen(path, "r");
  CHECK(f != NULL, "fopen %s", path);
  if (!f) return;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  printf("%s: %zu bytes: %s", path, n, buf);
}

static void list(const char* dir) {
  // Sorted, so the output does not depend on the order readdir gives.
  char names[16][64];
  int n = 0;
  DIR* d = opendir(dir);
  CHECK(d != NULL, "opendir %s", dir);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < 16)
    if (e->d_name[0] != '.') snprintf(names[n++], 64, "%s", e->d_name);
  closedir(d);
  qsort(names, n, 64, (int (*)(const void*, const void*))strcmp);
  printf("%s:", dir);
  for (int i = 0; i < n; ++i) printf(" %s", names[i]);
  printf("\n");
}

int main(int argc, char** argv) {
  // --no-fill: skip filling /tmp (when /tmp is a host directory: its quota is the host disk).
  int fill = !(argc > 1 && strcmp(argv[1], "--no-fill") == 0);
  show("/readme.txt");
  put("/tmp/notes.txt", "first line\n", "w");
  put("/tmp/notes.txt", "second line\n", "a");
  show("/tmp/notes.txt");
  CHECK(mkdir("/tmp/archive", 0755) == 0, "mkdir /tmp/archive");
  CHECK(rename("/tmp/notes.txt", "/tmp/archive/notes.txt") == 0, "rename");
  CHECK(access("/tmp/notes.txt", F_OK) != 0 && errno == ENOENT, "old name gone");
  show("/tmp/archive/notes.txt");
  list("/tmp");
  list("/tmp/archive");

  // The assets stay read-only.
  errno = 0;
  CHECK(open("/readme.txt", O_WRONLY) < 0 && errno == EROFS, "write to an asset");

  if (!fill) {
    printf("scratch: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
  }
  // Fill the quota: the write that does not fit fails with ENOSPC, nothing else.
  int fd = open("/tmp/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open /tmp/big");
  static char block[4096];
  memset(block, 'x', sizeof block);
  long total = 0;
  ssize_t w;
  errno = 0;
  while ((w = write(fd, block, sizeof block)) > 0) total += w;
  int err = errno;
  close(fd);
  printf("/tmp full after %ld KiB: %s\n", total / 1024, err == ENOSPC ? "ENOSPC" : strerror(err));
  CHECK(err == ENOSPC, "write past the quota");
  CHECK(unlink("/tmp/big") == 0, "unlink /tmp/big");
  put("/tmp/after.txt", "space is back\n", "w");
  show("/tmp/after.txt");
  printf("scratch: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
