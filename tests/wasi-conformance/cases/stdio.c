// fd_read on stdin, fd_write on stdout/stderr, fd_fdstat_get, fd_seek on a stream.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  char line[128];
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  CHECK(strcmp(line, "line one from stdin\n") == 0);
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  CHECK(strcmp(line, "line two\n") == 0);
  CHECK(fgets(line, sizeof line, stdin) == NULL && feof(stdin));

  const char msg[] = "written with write(1)\n";
  CHECK(write(1, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1));
  CHECK(fprintf(stderr, "to stderr\n") == 10);
  CHECK(write(1, msg, 0) == 0);

  struct stat st;
  CHECK(fstat(1, &st) == 0);
  CHECK((fcntl(1, F_GETFL) & O_ACCMODE) != O_RDONLY);
  CHECK((fcntl(0, F_GETFL) & O_ACCMODE) != O_WRONLY);
  CHECK_ERRNO(write(99, msg, 1), EBADF);
  CHECK_ERRNO(read(99, line, 1), EBADF);
  CHECK_ERRNO(close(99), EBADF);
  DONE("stdio");
}
