// tls-server: an echo / HTTP server on the `listen` file named "ingest". The runtime
// terminates TLS with the workload identity, so this code only sees plaintext.
// Serves `max` connections (argv[1], default: forever), then exits 0.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

// The fd of the named entry: Enarx lists the names in FD_NAMES, in fd order.
static int fd_named(const char* want) {
  const char* names = getenv("FD_NAMES");
  int fd = 0;
  for (const char* p = names; p && *p; fd++) {
    const char* end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == strlen(want) && strncmp(p, want, len) == 0) return fd;
    if (!end) break;
    p = end + 1;
  }
  return -1;
}

static void serve(int c) {
  char buf[4096];
  ssize_t n = read(c, buf, sizeof buf - 1);
  if (n <= 0) return;
  buf[n] = 0;
  if (strncmp(buf, "GET ", 4) == 0) {
    const char* body = "Hello from an Enarx workload over TLS!\n";
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strlen(body));
    write(c, head, (size_t)h);
    write(c, body, strlen(body));
    return;
  }
  do {  // echo until the peer closes
    write(c, "echo: ", 6);
    write(c, buf, (size_t)n);
  } while ((n = read(c, buf, sizeof buf)) > 0);
}

int main(int argc, char** argv) {
  int max = argc > 1 ? atoi(argv[1]) : 0;
  int l = fd_named("ingest");
  if (l < 0) {
    fprintf(stderr, "no listen file named 'ingest' in FD_NAMES\n");
    return 2;
  }
  for (int served = 0; max == 0 || served < max; served++) {
    __wasi_fd_t c;
    __wasi_errno_t e = __wasi_sock_accept((__wasi_fd_t)l, 0, &c);
    if (e != 0) {
      fprintf(stderr, "sock_accept: errno %d\n", e);
      return 1;
    }
    serve((int)c);
    (void)__wasi_sock_shutdown(c, __WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR);
    close((int)c);
    fprintf(stderr, "served connection %d\n", served + 1);
  }
  return 0;
}
