// The preopen is the whole world: escapes and host paths resolve inside it or fail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  struct stat st;
  // Absolute host paths resolve under the preopen, where they do not exist.
  CHECK_ERRNO(open("/etc/passwd", O_RDONLY), ENOENT);
  CHECK_ERRNO(stat("/proc/self/status", &st), ENOENT);
  // Climbing above the preopen is refused, however it is spelt.
  int dfd = open("/data", O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  CHECK_ERRNO(openat(dfd, "../../etc/passwd", O_RDONLY), ENOTCAPABLE);
  CHECK_ERRNO(openat(dfd, "sub/../../../x", O_RDONLY), ENOTCAPABLE);
  int ok = openat(dfd, "sub/../numbers.txt", O_RDONLY);  // stays inside: fine
  CHECK(ok >= 0);
  close(ok);
  // An absolute path ignores the directory descriptor (POSIX), and still means the preopen.
  int abs = openat(dfd, "/greeting.txt", O_RDONLY);
  CHECK(abs >= 0);
  char c = 0;
  CHECK(read(abs, &c, 1) == 1 && c == 'h');
  close(abs);
  close(dfd);
  CHECK_ERRNO(open("/greeting.txt/x", O_RDONLY), ENOTDIR);
  CHECK_ERRNO(open("/missing", O_RDONLY), ENOENT);
  DONE("fs_sandbox");
}
