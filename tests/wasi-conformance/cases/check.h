// Tiny assertion kit for the WASI conformance programs: every CHECK is counted, a failure prints
// where and what (with errno), and DONE() prints the line the driver looks for and sets the
// exit status. No abort(): one failed check must not hide the others.
#pragma once
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int checks_run, checks_failed;

#define CHECK(expr)                                                                            \
  do {                                                                                         \
    ++checks_run;                                                                              \
    errno = 0;                                                                                 \
    if (!(expr)) {                                                                             \
      ++checks_failed;                                                                         \
      printf("FAIL %s:%d: %s (errno %d: %s)\n", __FILE__, __LINE__, #expr, errno, strerror(errno)); \
    }                                                                                          \
  } while (0)

// `call` must fail with exactly errno `want`.
#define CHECK_ERRNO(call, want)                                                                \
  do {                                                                                         \
    ++checks_run;                                                                              \
    errno = 0;                                                                                 \
    long r_ = (long)(call);                                                                    \
    int e_ = errno;                                                                            \
    if (r_ != -1 || e_ != (want)) {                                                            \
      ++checks_failed;                                                                         \
      printf("FAIL %s:%d: %s returned %ld errno %d (%s), want -1 errno %d (%s)\n", __FILE__,   \
             __LINE__, #call, r_, e_, strerror(e_), (want), strerror(want));                   \
    }                                                                                          \
  } while (0)

#define DONE(name)                                                                             \
  do {                                                                                         \
    printf("wasi-conformance %s: %d checks, %d failed\n", name, checks_run, checks_failed);     \
    fflush(stdout);                                                                            \
    return checks_failed ? 1 : 0;                                                              \
  } while (0)
