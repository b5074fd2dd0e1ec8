/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the stream-engine tests: the seeded PRNG (seed printed,
 * CU_TEST_SEED overrides), backend parametrisation and fd utilities.
 * Header-only: each test executable includes it once.
 */
#ifndef CU_TEST_STREAM_UTIL_H
#define CU_TEST_STREAM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#include <cuprum/stream.h>

/* ------------------------------------------------------------------ PRNG */

typedef struct st_rng {
  uint64_t s;
} st_rng;

/* The run's seed: CU_TEST_SEED if set, else the clock; printed so a failure
 * can be replayed. */
static inline uint64_t st_seed(const char *what) {
  const char *env = getenv("CU_TEST_SEED");
  uint64_t seed;
  if (env && *env) {
    seed = strtoull(env, NULL, 0);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
  }
  printf("[ SEED     ] %s: CU_TEST_SEED=%" PRIu64 "\n", what, seed);
  fflush(stdout);
  return seed;
}

static inline uint64_t st_next(st_rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t st_range(st_rng *r, size_t lo, size_t hi) {
  return lo + (size_t)(st_next(r) % (uint64_t)(hi - lo + 1));
}

/* Random bytes biased towards UTF-8 edge cases: ASCII, newlines, CR,
 * continuation bytes, lead bytes and whole valid sequences. */
static inline void st_fill_text(st_rng *r, unsigned char *p, size_t n) {
  static const unsigned char pool[] = {'a', 'b', '\n', '\r', 0x80, 0xBF,
                                       0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0,
                                       0xF4, 0xF5, 0xC0, 0xFF, 0xA0, 0x90};
  for (size_t i = 0; i < n; i++) {
    uint64_t x = st_next(r);
    p[i] = (x & 3) ? pool[(x >> 8) % sizeof pool] : (unsigned char)(x >> 16);
  }
}

static inline void st_fill_bytes(st_rng *r, unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)st_next(r);
}

/* ------------------------------------------------------------- backends */

static const cu_stream_backend st_backends[] = {CU_BACKEND_SPLICE,
                                                CU_BACKEND_READWRITE};

/* Skip the current test (with a reason) when `b` cannot be used here. */
static inline void st_require(cu_stream_backend b) {
  cu_stream_backend got;
  if (cu_stream_backend_resolve(b, &got) != 0) {
    printf("[ SKIPPED  ] backend %s unavailable: %s\n",
           cu_stream_backend_name(b), cu_last_error());
    skip();
  }
}

/* Declare a test body `static void name##_body(cu_stream_backend b)` and
 * two cmocka tests name_splice / name_readwrite running it. */
#define ST_BOTH(name)                                                          \
  static void name##_body(cu_stream_backend b);                                \
  static void name##_splice(void **state) {                                    \
    (void)state;                                                               \
    st_require(CU_BACKEND_SPLICE);                                             \
    name##_body(CU_BACKEND_SPLICE);                                            \
  }                                                                            \
  static void name##_readwrite(void **state) {                                 \
    (void)state;                                                               \
    name##_body(CU_BACKEND_READWRITE);                                         \
  }                                                                            \
  static void name##_body(cu_stream_backend b)

/* Register both in the tests array literally, cmocka_unit_test(x_splice)
 * and cmocka_unit_test(x_readwrite): the ctest scanner needs the names. */

/* ------------------------------------------------------------------- fds */

static inline void st_pipe(int p[2]) {
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

static inline void st_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/* write() everything or fail the test. */
static inline void st_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    assert_true(w > 0);
    c += w;
    n -= (size_t)w;
  }
}

/* A thread that reads fd to EOF (or stop_after bytes) into buf, reading
 * `chunk` bytes at a time (0 = 64 KiB) and napping between reads. */
typedef struct st_sink {
  int fd;
  unsigned char *buf;
  size_t len, cap;
  size_t chunk;
  useconds_t nap;
  size_t stop_after; /* close early after this many bytes (0 = never) */
} st_sink;

static inline void *st_sink_main(void *arg) {
  st_sink *r = arg;
  size_t chunk = r->chunk ? r->chunk : 65536;
  for (;;) {
    if (r->len + chunk > r->cap) {
      r->cap = (r->cap + chunk) * 2;
      r->buf = realloc(r->buf, r->cap);
      assert_non_null(r->buf);
    }
    ssize_t n = read(r->fd, r->buf + r->len, chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    r->len += (size_t)n;
    if (r->stop_after && r->len >= r->stop_after)
      break;
    if (r->nap)
      usleep(r->nap);
  }
  close(r->fd);
  return NULL;
}

#endif
