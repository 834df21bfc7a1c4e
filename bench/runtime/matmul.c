// CPU kernel for the runtime benchmark: a 512×512 double-precision matrix multiply (i-k-j loop
// order: streaming loads and stores through linear memory), repeated 8 times. Same source built
// natively (gcc -O2) and for wasm32-wasi (clang -O2); see sha256.c for the timing lines.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 512

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void matmul(const double* a, const double* b, double* c) {
  for (int i = 0; i < N * N; i++) c[i] = 0;
  for (int i = 0; i < N; i++)
    for (int k = 0; k < N; k++) {
      double aik = a[i * N + k];
      for (int j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
    }
}

int main(void) {
  double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  double* a = malloc(sizeof(double) * N * N);
  double* b = malloc(sizeof(double) * N * N);
  double* c = malloc(sizeof(double) * N * N);
  uint32_t x = 12345;
  for (int i = 0; i < N * N; i++) {  // xorshift: deterministic input in [0, 1)
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    a[i] = (double)(x >> 8) / (1 << 24);
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    b[i] = (double)(x >> 8) / (1 << 24);
  }
  double sum = 0;
  for (int r = 0; r < 8; r++) {
    matmul(a, b, c);
    for (int i = 0; i < N * N; i += N + 1) sum += c[i];
    a[r] += 1.0;  // each round multiplies a different matrix
  }
  printf("%.6f  (trace sum of 8 products of 512x512 matrices)\n", sum);
  fprintf(stderr, "kernel_s=%.6f\n", clock_s(CLOCK_MONOTONIC) - t0);
  fprintf(stderr, "kernel_cpu_s=%.6f\n", clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
  free(a);
  free(b);
  free(c);
  return 0;
}
