// CPU kernel for the runtime benchmark: sorts 1M 8-byte records (key, payload) four times with a
// hand-written quicksort whose comparator is called through a function pointer (a call_indirect
// in wasm: table load, signature check, indirect call on every comparison). The comparator is
// picked at run time so that neither compiler can inline it. Same source built natively
// (gcc -O2) and for wasm32-wasi (clang -O2); see sha256.c for the timing lines.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  uint32_t key, payload;
} item;
typedef int (*cmp_fn)(const item*, const item*);

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_key(const item* a, const item* b) { return (a->key > b->key) - (a->key < b->key); }
static int by_key_desc(const item* a, const item* b) { return by_key(b, a); }
static int by_payload(const item* a, const item* b) {
  return (a->payload > b->payload) - (a->payload < b->payload);
}

static void insertion(item* a, size_t n, cmp_fn cmp) {
  for (size_t i = 1; i < n; i++) {
    item v = a[i];
    size_t j = i;
    for (; j > 0 && cmp(&v, &a[j - 1]) < 0; j--) a[j] = a[j - 1];
    a[j] = v;
  }
}

static void quicksort(item* a, size_t n, cmp_fn cmp) {
  while (n > 16) {
    item* m = &a[n / 2];  // median of three as the pivot
    item* lo = &a[0];
    item* hi = &a[n - 1];
    if (cmp(m, lo) < 0) { item t = *m; *m = *lo; *lo = t; }
    if (cmp(hi, m) < 0) { item t = *hi; *hi = *m; *m = t; }
    if (cmp(m, lo) < 0) { item t = *m; *m = *lo; *lo = t; }
    item p = *m;
    size_t i = 0, j = n - 1;
    for (;;) {
      while (cmp(&a[i], &p) < 0) i++;
      while (cmp(&p, &a[j]) < 0) j--;
      if (i >= j) break;
      item t = a[i]; a[i] = a[j]; a[j] = t;
      i++;
      j--;
    }
    // Recurse into the smaller half, loop on the larger: bounded stack.
    if (j + 1 < n - j - 1) {
      quicksort(a, j + 1, cmp);
      a += j + 1;
      n -= j + 1;
    } else {
      quicksort(a + j + 1, n - j - 1, cmp);
      n = j + 1;
    }
  }
  insertion(a, n, cmp);
}

int main(int argc, char** argv) {
  (void)argv;
  double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  const size_t n = (size_t)1 << 20;
  item* a = malloc(n * sizeof(item));
  uint32_t x = 12345;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    a[i].key = x;
    a[i].payload = (uint32_t)i * 2654435761u;
  }
  cmp_fn order[3] = {by_key, by_payload, by_key_desc};
  uint64_t check = 0;
  for (int r = 0; r < 4; r++) {
    cmp_fn cmp = order[(r + argc - 1) % 3];  // argc is 1: by_key, by_payload, by_key_desc, by_key
    quicksort(a, n, cmp);
    for (size_t i = 1; i < n; i++)
      if (cmp(&a[i - 1], &a[i]) > 0) {
        fprintf(stderr, "not sorted at %zu\n", i);
        return 1;
      }
    check = check * 31 + a[0].key + a[n / 2].payload + a[n - 1].key;
  }
  printf("%016llx  (4 sorts of 1M records through an indirect comparator)\n",
         (unsigned long long)check);
  fprintf(stderr, "kernel_s=%.6f\n", clock_s(CLOCK_MONOTONIC) - t0);
  fprintf(stderr, "kernel_cpu_s=%.6f\n", clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
  free(a);
  return 0;
}
