/* SPDX-License-Identifier: MIT */
/* writer [--out N] [--err N] [--chunk C] [--text]
 * Writes N bytes to stdout and N bytes to stderr, alternating chunks with
 * blocking writes, so a parent that does not drain both streams at once
 * deadlocks. Content is deterministic: byte i of a stream is 'a' + i % 26
 * (stdout) or 'A' + i % 26 (stderr); with --text, lines "out NNNNNNNN\n"
 * / "err NNNNNNNN\n" (13 bytes each, the last one cut to fit N). */
#include <time.h>

#include "common.h"

struct stream {
  int fd;
  unsigned long long total, done;
  char base;
  const char *tag;
};

static void fill(struct stream *s, char *buf, size_t n, int text) {
  for (size_t i = 0; i < n; i++) {
    unsigned long long pos = s->done + i;
    if (!text) {
      buf[i] = (char)(s->base + (char)(pos % 26));
      continue;
    }
    char line[32];
    snprintf(line, sizeof line, "%s %08llu\n", s->tag, pos / 13);
    buf[i] = line[pos % 13];
  }
}

int main(int argc, char **argv) {
  struct stream out = {1, 0, 0, 'a', "out"}, err = {2, 0, 0, 'A', "err"};
  size_t chunk = 65536;
  int text = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc)
      out.total = parse_num(argv[++i], "--out");
    else if (!strcmp(argv[i], "--err") && i + 1 < argc)
      err.total = parse_num(argv[++i], "--err");
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
      chunk = (size_t)parse_num(argv[++i], "--chunk");
    else if (!strcmp(argv[i], "--text"))
      text = 1;
    else {
      fprintf(stderr, "usage: writer [--out N] [--err N] [--chunk C] "
                      "[--text]\n");
      return 2;
    }
  }
  if (chunk == 0)
    chunk = 1;
  char *buf = malloc(chunk);
  if (!buf)
    return 4;
  while (out.done < out.total || err.done < err.total) {
    struct stream *both[2] = {&out, &err};
    for (int k = 0; k < 2; k++) {
      struct stream *s = both[k];
      unsigned long long left = s->total - s->done;
      size_t n = left < chunk ? (size_t)left : chunk;
      if (n == 0)
        continue;
      fill(s, buf, n, text);
      write_all(s->fd, buf, n);
      s->done += n;
    }
  }
  free(buf);
  return 0;
}
