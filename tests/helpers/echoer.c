/* SPDX-License-Identifier: MIT */
/* echoer: copies stdin to stdout until EOF (like cat). */
#include "common.h"

int main(void) {
  static char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return 5;
    if (n == 0)
      return 0;
    write_all(1, buf, (size_t)n);
  }
}
