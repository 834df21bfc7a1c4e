// clock_time_get / clock_res_get and poll_oneoff on a clock (nanosleep).
#include <time.h>

#include "check.h"

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
  struct timespec rt, res, a, b;
  CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
  CHECK(rt.tv_sec > 1577836800);  // after 2020-01-01
  CHECK(rt.tv_nsec >= 0 && rt.tv_nsec < 1000000000);
  CHECK(time(NULL) >= rt.tv_sec && time(NULL) - rt.tv_sec < 5);
  CHECK(clock_getres(CLOCK_REALTIME, &res) == 0);
  CHECK(ns(res) > 0 && ns(res) <= 1000000000LL);
  CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0);
  CHECK(ns(res) > 0 && ns(res) <= 1000000000LL);

  CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
  int monotonic = 1;
  for (int i = 0; i < 1000; ++i) {
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
    if (ns(b) < ns(a)) monotonic = 0;
    a = b;
  }
  CHECK(monotonic);

  struct timespec nap = {0, 20 * 1000 * 1000};
  CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
  CHECK(nanosleep(&nap, NULL) == 0);
  CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
  // WASI leaves timer precision open. The node reference (libuv) sleeps on a millisecond loop
  // clock cached before the call, so it may wake up to 1 ms early; enarx's own strict 20 ms
  // bound is asserted in tests/runtime/wasi_test.cc (WasiTest.PollOneoff).
  CHECK(ns(b) - ns(a) >= 19 * 1000 * 1000);
  CHECK(ns(b) - ns(a) < 5LL * 1000 * 1000 * 1000);

  struct timespec bad = {0, 2000000000};  // tv_nsec out of range
  CHECK_ERRNO(nanosleep(&bad, NULL), EINVAL);
  DONE("clocks");
}
