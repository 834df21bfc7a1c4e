// fd_readdir through opendir/readdir/rewinddir, and directory descriptors.
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

// Names in `path` other than "." and "..", joined sorted-insensitively into `out` as "a,b,".
static int list(const char* path, char* out, size_t cap) {
  DIR* d = opendir(path);
  if (!d) return -1;
  const char* names[16];
  int n = 0;
  char store[16][64];
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < 16) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    strncpy(store[n], e->d_name, 63);
    store[n][63] = 0;
    names[n] = store[n];
    ++n;
  }
  closedir(d);
  for (int i = 0; i < n; ++i)  // insertion sort: readdir order is unspecified
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; --j) {
      const char* t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  out[0] = 0;
  for (int i = 0; i < n; ++i) {
    strncat(out, names[i], cap - strlen(out) - 1);
    strncat(out, ",", cap - strlen(out) - 1);
  }
  return n;
}

int main(void) {
  char names[512];
  CHECK(list("/", names, sizeof names) == 2 && strcmp(names, "data,greeting.txt,") == 0);
  CHECK(list("/data", names, sizeof names) == 2 && strcmp(names, "numbers.txt,sub,") == 0);
  CHECK(list("/data/sub", names, sizeof names) == 1 && strcmp(names, "leaf.txt,") == 0);
  CHECK(list(".", names, sizeof names) == 2);

  DIR* d = opendir("/data");
  CHECK(d != NULL);
  if (d) {
    int first = 0, second = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) ++first;
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
      ++second;
      if (strcmp(e->d_name, "sub") == 0) CHECK(e->d_type == DT_DIR);
      if (strcmp(e->d_name, "numbers.txt") == 0) CHECK(e->d_type == DT_REG);
    }
    CHECK(first == second && first >= 2);
    closedir(d);
  }

  CHECK(opendir("/greeting.txt") == NULL && errno == ENOTDIR);
  CHECK(opendir("/no-such-dir") == NULL && errno == ENOENT);
  int dfd = open("/data", O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  char buf[8];
  CHECK_ERRNO(read(dfd, buf, sizeof buf), EISDIR);
  int leaf = openat(dfd, "sub/leaf.txt", O_RDONLY);
  CHECK(leaf >= 0);
  CHECK(read(leaf, buf, 5) == 5 && memcmp(buf, "deep\n", 5) == 0);
  close(leaf);
  close(dfd);
  CHECK_ERRNO(open("/greeting.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
  DONE("fs_dirs");
}
