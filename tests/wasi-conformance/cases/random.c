// random_get through getentropy (the OS CSPRNG on the host side).
#include <unistd.h>

#include "check.h"

int main(void) {
  unsigned char a[256], b[256];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  CHECK(getentropy(a, sizeof a) == 0);
  CHECK(getentropy(b, sizeof b) == 0);
  CHECK(memcmp(a, b, sizeof a) != 0);
  int zeros = 0;
  for (unsigned i = 0; i < sizeof a; ++i) zeros += a[i] == 0;
  CHECK(zeros < 16);  // 256 random bytes: ~1 zero expected
  CHECK(getentropy(a, 0) == 0);
  unsigned char big[257];
  CHECK_ERRNO(getentropy(big, sizeof big), EIO);  // POSIX limit, enforced by wasi-libc
  DONE("random");
}
