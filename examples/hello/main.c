// hello: arguments, environment and stdout. Exits with the code given by --exit=N.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  int code = 0;
  printf("Hello, world! (from a wasm32-wasi workload)\n");
  for (int i = 0; i < argc; i++) {
    printf("argv[%d]=%s\n", i, argv[i]);
    if (strncmp(argv[i], "--exit=", 7) == 0) code = atoi(argv[i] + 7);
  }
  const char* vars[] = {"GREETING", "FD_COUNT", "FD_NAMES"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
    const char* v = getenv(vars[i]);
    printf("%s=%s\n", vars[i], v ? v : "(unset)");
  }
  fprintf(stderr, "hello: exiting with %d\n", code);
  return code;
}
