// file-reader: reads the package's bundled assets from the read-only tree preopened at "/".
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cat(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) {
    printf("open %s: %s\n", path, strerror(errno));
    return 1;
  }
  char buf[256];
  size_t n;
  printf("--- %s\n", path);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}

int main(int argc, char** argv) {
  int rc = 0;
  DIR* d = opendir("/data");
  if (!d) {
    printf("opendir /data: %s\n", strerror(errno));
    return 2;
  }
  struct dirent* e;
  long sum = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    printf("entry: %s\n", e->d_name);
  }
  closedir(d);
  rc |= cat("/greeting.txt");
  FILE* f = fopen("/data/numbers.txt", "r");
  long v;
  while (f && fscanf(f, "%ld", &v) == 1) sum += v;
  if (f) fclose(f);
  printf("sum of /data/numbers.txt = %ld\n", sum);
  // The tree is read-only: creating a file must fail cleanly.
  FILE* w = fopen("/new.txt", "w");
  printf("write attempt: %s\n", w ? "succeeded (unexpected)" : strerror(errno));
  for (int i = 1; i < argc; i++) rc |= cat(argv[i]);
  return rc;
}
