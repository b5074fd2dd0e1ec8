/* SPDX-License-Identifier: MIT */
/* stress [--err N] [--chunk C]
 * Echoes stdin to stdout exactly while writing N bytes ('E') to stderr, in
 * lock-step with blocking I/O: each round reads up to C bytes of stdin (until
 * EOF), writes them to stdout, then writes up to C bytes to stderr. A parent
 * must feed stdin and drain both outputs at once or this deadlocks. */
#include <time.h>

#include "common.h"

int main(int argc, char **argv) {
  unsigned long long err_total = 0, err_done = 0;
  size_t chunk = 65536;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--err") && i + 1 < argc)
      err_total = parse_num(argv[++i], "--err");
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
      chunk = (size_t)parse_num(argv[++i], "--chunk");
    else {
      fprintf(stderr, "usage: stress [--err N] [--chunk C]\n");
      return 2;
    }
  }
  if (chunk == 0)
    chunk = 1;
  char *buf = malloc(chunk), *ebuf = malloc(chunk);
  if (!buf || !ebuf)
    return 4;
  memset(ebuf, 'E', chunk);
  int eof = 0;
  while (!eof || err_done < err_total) {
    if (!eof) {
      ssize_t n = read(0, buf, chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return 5;
      if (n == 0)
        eof = 1;
      else
        write_all(1, buf, (size_t)n);
    }
    unsigned long long left = err_total - err_done;
    size_t n = left < chunk ? (size_t)left : chunk;
    if (n) {
      write_all(2, ebuf, n);
      err_done += n;
    }
  }
  free(buf);
  free(ebuf);
  return 0;
}
