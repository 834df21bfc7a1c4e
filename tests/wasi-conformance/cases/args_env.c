// args_get / args_sizes_get / environ_get / environ_sizes_get through wasi-libc.
#include <stdlib.h>
#include <string.h>

#include "check.h"

extern char** environ;

int main(int argc, char** argv) {
  CHECK(argc == 3);
  CHECK(argc > 1 && strcmp(argv[1], "alpha") == 0);
  CHECK(argc > 2 && strcmp(argv[2], "beta gamma") == 0);  // one argument, space kept
  CHECK(argv[argc] == NULL);
  const char* greeting = getenv("GREETING");
  CHECK(greeting && strcmp(greeting, "hello") == 0);
  const char* empty = getenv("EMPTY");
  CHECK(empty && strcmp(empty, "") == 0);
  CHECK(getenv("NOT_SET_ANYWHERE") == NULL);
  int n = 0;
  for (char** e = environ; *e; ++e) {
    CHECK(strchr(*e, '=') != NULL);
    ++n;
  }
  CHECK(n >= 2);
  DONE("args_env");
}
