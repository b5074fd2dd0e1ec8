/* SPDX-License-Identifier: MIT */
/* Shared by the helper programs: blocking full writes and number parsing.
 * Helpers are tiny standalone programs without libcuprum. */
#ifndef CU_HELPER_COMMON_H
#define CU_HELPER_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Write all of buf, retrying on EINTR; exits 3 on any other failure (for
 * example EPIPE when the reader went away). */
static inline void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      exit(3);
    p += n;
    len -= (size_t)n;
  }
}

/* A non-negative decimal number, or exit 2 with a usage message. */
static inline unsigned long long parse_num(const char *s, const char *what) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s ? s : "", &end, 10);
  if (!s || !*s || *end || errno || s[0] == '-') {
    fprintf(stderr, "bad %s: '%s'\n", what, s ? s : "");
    exit(2);
  }
  return v;
}

/* Sleep ms milliseconds, or forever when ms is 0. */
static inline void sleep_ms(unsigned long long ms) {
  if (ms == 0) {
    for (;;)
      pause();
  }
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                        .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

#endif
