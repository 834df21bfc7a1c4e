// client: sends an HTTP GET over the `connect` file (fd 3) and prints the reply. With
// prot = "tls" the runtime verifies the server and encrypts; this code sees plaintext.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  const char* names = getenv("FD_NAMES");
  printf("FD_NAMES=%s\n", names ? names : "(unset)");
  const char* req = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(3, req, strlen(req)) < 0) {
    perror("write");
    return 1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(3, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
  if (n < 0) {
    perror("read");
    return 1;
  }
  return 0;
}
