// path_open / fd_read / fd_pread / fd_seek / fd_tell / fd_filestat_get / path_filestat_get over
// the read-only asset tree preopened at "/".
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"

static const char kGreeting[] = "hello from the assets\n";

int main(void) {
  char buf[128];
  FILE* f = fopen("/greeting.txt", "r");
  CHECK(f != NULL);
  if (f) {
    CHECK(fgets(buf, sizeof buf, f) && strcmp(buf, kGreeting) == 0);
    CHECK(fgetc(f) == EOF && feof(f));
    fclose(f);
  }
  // Relative paths resolve against the working directory "/".
  f = fopen("data/numbers.txt", "r");
  CHECK(f != NULL);
  if (f) {
    long sum = 0, v;
    while (fscanf(f, "%ld", &v) == 1) sum += v;
    CHECK(sum == 55);
    fclose(f);
  }

  int fd = open("/greeting.txt", O_RDONLY);
  CHECK(fd >= 0);
  const off_t size = (off_t)strlen(kGreeting);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size);
  CHECK(lseek(fd, 0, SEEK_END) == size);
  CHECK(read(fd, buf, sizeof buf) == 0);  // at end of file
  CHECK(lseek(fd, 6, SEEK_SET) == 6);
  CHECK(read(fd, buf, 4) == 4 && memcmp(buf, "from", 4) == 0);
  CHECK(lseek(fd, 0, SEEK_CUR) == 10);
  CHECK(lseek(fd, -5, SEEK_CUR) == 5);
  CHECK_ERRNO(lseek(fd, -100, SEEK_SET), EINVAL);
  // pread leaves the position alone.
  CHECK(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK(lseek(fd, 0, SEEK_CUR) == 5);
  CHECK(pread(fd, buf, sizeof buf, 1000) == 0);
  // readv fills iovecs in order.
  char a[6], b[5];
  struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  CHECK(readv(fd, iov, 2) == 11);
  CHECK(memcmp(a, "hello ", 6) == 0 && memcmp(b, "from ", 5) == 0);
  CHECK(close(fd) == 0);
  CHECK_ERRNO(close(fd), EBADF);

  CHECK(stat("/data", &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(stat("/data/sub/leaf.txt", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5);
  CHECK(stat("/data/sub/../numbers.txt", &st) == 0 && S_ISREG(st.st_mode));
  CHECK(access("/greeting.txt", R_OK) == 0);
  DONE("fs_read");
}
