// Linear memory growth through malloc, and clean failure instead of a trap.
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

int main(void) {
  size_t pages_before = __builtin_wasm_memory_size(0);
  size_t n = 16u << 20;
  unsigned char* p = malloc(n);
  CHECK(p != NULL);
  if (p) {
    for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)(i / 4096);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 4096) sum += p[i];
    CHECK(sum == 16u * (255u * 256u / 2u));  // 4096 pages hold 0..255 sixteen times
    p = realloc(p, 2 * n);
    CHECK(p != NULL);
    free(p);
  }
  CHECK(__builtin_wasm_memory_size(0) > pages_before);
  // volatile: a compiler may otherwise elide an allocation whose only use is a NULL test.
  void* volatile huge = malloc(SIZE_MAX - 64);
  CHECK(huge == NULL);
  huge = calloc(SIZE_MAX / 2, 4);
  CHECK(huge == NULL);
  huge = malloc((size_t)3 << 30);  // more than wasm32's 4 GiB limit allows after the heap
  CHECK(huge == NULL);
  DONE("memory");
}
