// The asset tree is read-only: every mutation fails with EROFS (or EBADF for a read-only fd),
// and nothing a failed call did is visible afterwards.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  struct stat st;
  CHECK_ERRNO(open("/new.txt", O_WRONLY | O_CREAT, 0644), EROFS);
  CHECK_ERRNO(open("/greeting.txt", O_WRONLY), EROFS);
  CHECK_ERRNO(open("/greeting.txt", O_RDWR), EROFS);
  CHECK_ERRNO(open("/greeting.txt", O_RDONLY | O_TRUNC), EROFS);
  CHECK_ERRNO(open("/greeting.txt", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
  CHECK_ERRNO(mkdir("/newdir", 0755), EROFS);
  CHECK_ERRNO(rmdir("/data/sub"), EROFS);
  CHECK_ERRNO(unlink("/greeting.txt"), EROFS);
  CHECK_ERRNO(rename("/greeting.txt", "/renamed.txt"), EROFS);
  CHECK_ERRNO(symlink("/greeting.txt", "/link"), EROFS);
  CHECK(fopen("/greeting.txt", "a") == NULL && errno == EROFS);

  int fd = open("/greeting.txt", O_RDONLY);
  CHECK(fd >= 0);
  CHECK(write(fd, "x", 1) == -1);  // no write right on this descriptor
  CHECK(ftruncate(fd, 0) == -1);
  close(fd);

  CHECK(stat("/greeting.txt", &st) == 0 && st.st_size == 22);
  CHECK_ERRNO(stat("/new.txt", &st), ENOENT);
  CHECK_ERRNO(stat("/newdir", &st), ENOENT);
  CHECK(stat("/data/sub", &st) == 0 && S_ISDIR(st.st_mode));
  DONE("fs_readonly");
}
