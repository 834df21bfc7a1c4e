// poll_oneoff: clock timeouts, fd readiness; sched_yield.
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
  long long t0 = now_ms();
  CHECK(poll(NULL, 0, 30) == 0);  // a pure timeout
  CHECK(now_ms() - t0 >= 30);

  struct pollfd out = {1, POLLOUT, 0};
  CHECK(poll(&out, 1, 1000) == 1 && (out.revents & POLLOUT));
  struct pollfd in = {0, POLLIN, 0};  // stdin is a regular file in the tests: always readable
  CHECK(poll(&in, 1, 1000) == 1 && (in.revents & POLLIN));
  struct pollfd both[2] = {{0, POLLIN, 0}, {1, POLLOUT, 0}};
  CHECK(poll(both, 2, 0) == 2);
  CHECK(sched_yield() == 0);
  DONE("poll");
}
