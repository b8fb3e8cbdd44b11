// lifeline-line-echo: the peer worker of `lifeline-bench --peers`, run by websocketd
// once per connection. It echoes each line it reads, with no allocation and no stdio
// buffering: the cheapest process a gateway can spawn per connection, so that the
// comparison measures the gateways, not the workers.
#include <unistd.h>

int main() {
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) return 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return 1;
      off += w;
    }
  }
}
