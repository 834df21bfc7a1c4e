// proc_exit: the status reaches the host; atexit handlers and stdio buffers run first.
#include <stdio.h>
#include <stdlib.h>

static void goodbye(void) { printf("wasi-conformance exit_code: atexit ran\n"); }

int main(void) {
  atexit(goodbye);
  printf("exiting with 42\n");  // buffered: must be flushed by exit()
  exit(42);
}
