/* SPDX-License-Identifier: MIT */
/* The runtime's outstream/feeder contract (src/outstream.h) over both
 * backends: capture, limits, echo by splice/tee/write, echo failures, line
 * observers, the per-call budget and stdin feeding.
 * ctest-labels: threads */
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>

#include "stream/outstream.h"
#include "stream/stream_internal.h"
#include "stream_util.h"

/* ------------------------------------------------------------- plumbing */

typedef struct src {
  int fd;
  const unsigned char *data;
  size_t len;
  size_t chunk;
  useconds_t nap;
} src;

static void *src_main(void *arg) {
  src *w = arg;
  for (size_t off = 0; off < w->len;) {
    size_t n = w->chunk && w->chunk < w->len - off ? w->chunk : w->len - off;
    st_write_all(w->fd, w->data + off, n);
    off += n;
    if (w->nap)
      usleep(w->nap);
  }
  close(w->fd);
  return NULL;
}

typedef struct lines {
  unsigned char *buf; /* "flags len bytes" records, like the fuzz target */
  size_t len, cap;
} lines;

static void lines_put(lines *l, const void *p, size_t n) {
  if (l->len + n > l->cap) {
    l->cap = (l->len + n) * 2;
    l->buf = realloc(l->buf, l->cap);
    assert_non_null(l->buf);
  }
  memcpy(l->buf + l->len, p, n);
  l->len += n;
}

static void on_line(void *ud, const char *line, size_t len, unsigned flags) {
  uint64_t hdr[2] = {flags, len};
  assert_int_equal(line[len], '\0');
  lines_put(ud, hdr, sizeof hdr);
  lines_put(ud, line, len);
}

/* The lines a fresh splitter produces for the whole payload. */
static void reference_lines(const void *p, size_t n, lines *out) {
  cu_line_splitter *s = NULL;
  assert_int_equal(cu_line_splitter_new(on_line, out, &s), 0);
  assert_int_equal(cu_line_splitter_feed(s, p, n), 0);
  cu_line_splitter_finish(s);
  cu_line_splitter_free(s);
}

/* Poll and drain until EOF, as the loop does: the pipe while the stream
 * wants input, its echo sink while that is full. Returns the number of
 * drain calls. */
static int drain_all(cu__outstream *os, int fd) {
  int calls = 0;
  bool stalled = false;
  for (;;) {
    struct pollfd p = {.fd = stalled ? cu__outstream_sink_fd(os) : fd,
                       .events = stalled ? POLLOUT : POLLIN};
    assert_true(poll(&p, 1, 10000) == 1);
    int rc = cu__outstream_drain(os, fd);
    calls++;
    assert_true(rc == 0 || rc == 1 || rc == CU__OUT_WAIT_SINK);
    assert_int_equal(cu__outstream_stalled(os), rc == CU__OUT_WAIT_SINK);
    stalled = rc == CU__OUT_WAIT_SINK;
    if (rc == 1 || cu__outstream_unwanted(os))
      break; /* EOF, or the runtime would close the pipe now */
  }
  cu__outstream_finish(os);
  return calls;
}

typedef struct run {
  cu_bytes out;
  bool overflowed;
} run;

/* Child stand-in -> non-blocking pipe -> outstream(cfg). */
static run run_stream(cu__outstream_cfg cfg, const unsigned char *data,
                      size_t len, size_t chunk) {
  int a[2];
  st_pipe(a);
  fcntl(a[0], F_SETFL, O_NONBLOCK);
  src w = {a[1], data, len, chunk, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, src_main, &w), 0);
  cu__outstream *os = NULL;
  assert_int_equal(cu__outstream_new(&cfg, &os), 0);
  drain_all(os, a[0]);
  /* A stream nobody wants stops early; take the rest so the writer ends. */
  for (char rest[65536];;) {
    struct pollfd p = {.fd = a[0], .events = POLLIN};
    assert_true(poll(&p, 1, 10000) == 1);
    if (read(a[0], rest, sizeof rest) == 0)
      break;
  }
  pthread_join(t, NULL);
  close(a[0]);
  run r = {.overflowed = cu__outstream_overflowed(os)};
  assert_int_equal(cu__outstream_take(os, &r.out), 0);
  cu__outstream_free(os);
  return r;
}

static unsigned char *payload(size_t n, uint64_t seed, bool text) {
  unsigned char *p = malloc(n ? n : 1);
  assert_non_null(p);
  st_rng r = {seed};
  if (text)
    st_fill_text(&r, p, n);
  else
    st_fill_bytes(&r, p, n);
  return p;
}

static cu__outstream_cfg base(cu_stream_backend b) {
  return (cu__outstream_cfg){.echo_fd = -1, .backend = b};
}

/* ----------------------------------------------------------------- tests */

ST_BOTH(capture_all) {
  size_t n = 5 << 20;
  unsigned char *p = payload(n, 1, false);
  cu__outstream_cfg c = base(b);
  c.capture = true;
  run r = run_stream(c, p, n, 100000);
  assert_int_equal(r.out.len, n);
  assert_int_equal(r.out.total, n);
  assert_false(r.out.truncated);
  assert_memory_equal(r.out.data, p, n);
  assert_int_equal(r.out.data[n], '\0');
  free(r.out.data);
  free(p);
}

ST_BOTH(capture_empty) {
  cu__outstream_cfg c = base(b);
  c.capture = true;
  run r = run_stream(c, (const unsigned char *)"", 0, 0);
  assert_non_null(r.out.data);
  assert_string_equal(r.out.data, "");
  assert_int_equal(r.out.total, 0);
  free(r.out.data);
  c.capture = false; /* no capture still yields "" */
  r = run_stream(c, (const unsigned char *)"abc", 3, 0);
  assert_string_equal(r.out.data, "");
  assert_int_equal(r.out.total, 3);
  free(r.out.data);
}

ST_BOTH(capture_limit_truncate_and_fail) {
  size_t n = 1 << 20;
  unsigned char *p = payload(n, 2, false);
  cu__outstream_cfg c = base(b);
  c.capture = true;
  c.max_capture = 70001;
  run r = run_stream(c, p, n, 4096);
  assert_int_equal(r.out.len, 70001);
  assert_int_equal(r.out.total, n);
  assert_true(r.out.truncated);
  assert_false(r.overflowed);
  assert_memory_equal(r.out.data, p, 70001);
  free(r.out.data);
  c.overflow = CU_OVERFLOW_FAIL;
  r = run_stream(c, p, n, 0);
  assert_true(r.overflowed);
  assert_int_equal(r.out.len, 70001);
  free(r.out.data);
  c.max_capture = n; /* exactly at the limit is not an overflow */
  r = run_stream(c, p, n, 0);
  assert_false(r.overflowed);
  assert_false(r.out.truncated);
  assert_int_equal(r.out.len, n);
  free(r.out.data);
  free(p);
}

/* Echo to a pipe: capture on/off (tee path / splice path / write path). */
static void echo_to_pipe(cu_stream_backend b, bool capture, bool nonblock,
                         useconds_t nap) {
  size_t n = 3 << 20;
  unsigned char *p = payload(n, 3, true);
  int e[2];
  st_pipe(e);
  if (nonblock)
    fcntl(e[1], F_SETFL, O_NONBLOCK);
  st_sink k = {.fd = e[0], .nap = nap};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, st_sink_main, &k), 0);
  cu__outstream_cfg c = base(b);
  c.capture = capture;
  c.echo_fd = e[1];
  run r = run_stream(c, p, n, 50000);
  close(e[1]);
  pthread_join(t, NULL);
  assert_int_equal(k.len, n);
  assert_memory_equal(k.buf, p, n);
  assert_int_equal(r.out.total, n);
  assert_int_equal(r.out.len, capture ? n : 0);
  if (capture)
    assert_memory_equal(r.out.data, p, n);
  free(r.out.data);
  free(k.buf);
  free(p);
}

ST_BOTH(echo_only_pipe) { echo_to_pipe(b, false, false, 0); }
ST_BOTH(echo_only_nonblocking_slow_pipe) { echo_to_pipe(b, false, true, 300); }
ST_BOTH(tee_capture_and_echo_pipe) { echo_to_pipe(b, true, false, 0); }
ST_BOTH(tee_nonblocking_slow_pipe) { echo_to_pipe(b, true, true, 300); }

/* Echo to a regular file and /dev/null (splice may refuse some types). */
ST_BOTH(echo_to_file_and_dev_null) {
  size_t n = 2 << 20;
  unsigned char *p = payload(n, 4, false);
  char path[] = "/tmp/cuprum-echo-XXXXXX";
  int f = mkostemp(path, O_CLOEXEC);
  assert_true(f >= 0);
  unlink(path);
  for (int capture = 0; capture < 2; capture++) {
    assert_int_equal(ftruncate(f, 0), 0);
    assert_int_equal(lseek(f, 0, SEEK_SET), 0);
    cu__outstream_cfg c = base(b);
    c.capture = capture;
    c.echo_fd = f;
    run r = run_stream(c, p, n, 65536);
    struct stat st;
    assert_int_equal(fstat(f, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    unsigned char *got = malloc(n);
    assert_non_null(got);
    assert_int_equal(pread(f, got, n, 0), (ssize_t)n);
    assert_memory_equal(got, p, n);
    free(got);
    free(r.out.data);
  }
  close(f);
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  cu__outstream_cfg c = base(b);
  c.echo_fd = null_fd;
  run r = run_stream(c, p, n, 0);
  assert_int_equal(r.out.total, n);
  free(r.out.data);
  close(null_fd);
  free(p);
}

/* The echo reader leaves early: echo stops, and no SIGPIPE kills the
 * process. With capture, draining and capture go on; echo-only, the stream
 * says nobody wants the bytes (the runtime closes the child's pipe, which
 * then gets SIGPIPE) and stops reading within one call. */
ST_BOTH(echo_epipe_keeps_draining) {
  signal(SIGPIPE, SIG_DFL);
  size_t n = 2 << 20;
  unsigned char *p = payload(n, 5, false);
  for (int capture = 0; capture < 2; capture++) {
    int e[2];
    st_pipe(e);
    st_sink k = {.fd = e[0], .stop_after = 1000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, st_sink_main, &k), 0);
    cu__outstream_cfg c = base(b);
    c.capture = capture;
    c.echo_fd = e[1];
    run r = run_stream(c, p, n, 8192);
    pthread_join(t, NULL);
    close(e[1]);
    if (!capture)
      assert_true(r.out.total < n);
    else
      assert_int_equal(r.out.total, n);
    if (capture) {
      assert_int_equal(r.out.len, n);
      assert_memory_equal(r.out.data, p, n);
    }
    free(r.out.data);
    free(k.buf);
  }
  free(p);
}

typedef struct cb_state {
  size_t seen;
  size_t refuse_after;
} cb_state;

static int echo_cb(void *ud, const void *data, size_t len) {
  cb_state *s = ud;
  (void)data;
  s->seen += len;
  return s->refuse_after && s->seen >= s->refuse_after ? -1 : 0;
}

ST_BOTH(echo_callback) {
  size_t n = 1 << 20;
  unsigned char *p = payload(n, 6, false);
  cb_state st = {0};
  cu__outstream_cfg c = base(b);
  c.capture = true;
  c.echo_cb = echo_cb;
  c.echo_data = &st;
  c.echo_fd = 1; /* the callback overrides the fd */
  run r = run_stream(c, p, n, 10000);
  assert_int_equal(st.seen, n);
  free(r.out.data);
  st = (cb_state){.refuse_after = 1};
  r = run_stream(c, p, n, 10000);
  assert_true(st.seen < n);
  assert_int_equal(r.out.len, n); /* capture unaffected */
  free(r.out.data);
  free(p);
}

ST_BOTH(lines_match_splitter) {
  size_t n = 400000;
  unsigned char *p = payload(n, 7, true);
  lines got = {0}, want = {0};
  reference_lines(p, n, &want);
  cu__outstream_cfg c = base(b);
  c.on_line = on_line;
  c.line_data = &got;
  run r = run_stream(c, p, n, 777);
  assert_int_equal(got.len, want.len);
  assert_memory_equal(got.buf, want.buf, want.len);
  free(r.out.data);
  free(got.buf);
  free(want.buf);
  free(p);
}

/* Property: random payloads, chunkings and sink combinations. */
ST_BOTH(random_combinations) {
  st_rng g = {st_seed("random_combinations")};
  for (int iter = 0; iter < 30; iter++) {
    size_t n = st_range(&g, 0, 300000);
    unsigned char *p = payload(n, st_next(&g), true);
    lines got = {0}, want = {0};
    cu__outstream_cfg c = base(b);
    c.capture = st_range(&g, 0, 1);
    c.max_capture = st_range(&g, 0, 1) ? 0 : st_range(&g, 1, 200000);
    bool observe = st_range(&g, 0, 1);
    c.on_line = observe ? on_line : NULL;
    c.line_data = &got;
    int e[2];
    st_pipe(e);
    st_sink k = {.fd = e[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, st_sink_main, &k), 0);
    c.echo_fd = e[1];
    run r = run_stream(c, p, n, st_range(&g, 1, 100000));
    close(e[1]);
    pthread_join(t, NULL);
    size_t kept = c.capture ? (c.max_capture && c.max_capture < n
                                   ? c.max_capture : n) : 0;
    assert_int_equal(r.out.total, n);
    assert_int_equal(r.out.len, kept);
    if (kept)
      assert_memory_equal(r.out.data, p, kept);
    assert_int_equal(k.len, n);
    if (n)
      assert_memory_equal(k.buf, p, n);
    if (observe) {
      reference_lines(p, n, &want);
      assert_int_equal(got.len, want.len);
      if (want.len)
        assert_memory_equal(got.buf, want.buf, want.len);
    }
    free(r.out.data);
    free(k.buf);
    free(got.buf);
    free(want.buf);
    free(p);
  }
}

/* One drain call moves at most about 1 MiB even when more is ready. */
ST_BOTH(drain_budget) {
  int a[2];
  st_pipe(a);
  if (fcntl(a[1], F_SETPIPE_SZ, 1 << 20) < (1 << 20)) {
    printf("[ SKIPPED  ] cannot raise the pipe to 1 MiB\n");
    skip();
  }
  fcntl(a[0], F_SETFL, O_NONBLOCK);
  size_t n = 1 << 20;
  unsigned char *p = payload(n, 8, false);
  st_write_all(a[1], p, n);
  close(a[1]);
  cu__outstream_cfg c = base(b);
  c.capture = true;
  cu__outstream *os = NULL;
  assert_int_equal(cu__outstream_new(&c, &os), 0);
  assert_int_equal(cu__outstream_drain(os, a[0]), 0); /* budget, not EOF */
  assert_int_equal(cu__outstream_drain(os, a[0]), 1);
  cu_bytes out;
  assert_int_equal(cu__outstream_take(os, &out), 0);
  assert_int_equal(out.len, n);
  free(out.data);
  cu__outstream_free(os);
  close(a[0]);
  free(p);
}

ST_BOTH(drain_errors) {
  cu__outstream_cfg c = base(b);
  cu__outstream *os = NULL;
  assert_int_equal(cu__outstream_new(&c, &os), 0);
  int a[2];
  st_pipe(a);
  assert_int_equal(cu__outstream_drain(os, a[1]), CU_EIO); /* write end */
  assert_int_equal(cu__outstream_drain(os, -1), CU_EINVAL);
  cu__outstream_free(os);
  cu__outstream_free(NULL);
  c.backend = (cu_stream_backend)42;
  assert_int_equal(cu__outstream_new(&c, &os), CU_EINVAL);
  c.backend = CU_BACKEND_AUTO; /* resolved on the caller's behalf */
  assert_int_equal(cu__outstream_new(&c, &os), 0);
  cu__outstream_free(os);
  close(a[0]);
  close(a[1]);
}

/* ----------------------------------------------------------------- feeder */

ST_BOTH(feeder_writes_everything) {
  size_t n = 3 << 20;
  unsigned char *p = payload(n, 9, false);
  int a[2];
  st_pipe(a);
  fcntl(a[1], F_SETFL, O_NONBLOCK);
  st_sink k = {.fd = a[0], .nap = 100};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, st_sink_main, &k), 0);
  cu__feeder f = {.data = p, .len = n, .backend = b};
  int rc, err = 0;
  while ((rc = cu__feeder_pump(&f, a[1], &err)) == 0) {
    struct pollfd pf = {.fd = a[1], .events = POLLOUT};
    assert_true(poll(&pf, 1, 10000) == 1);
  }
  assert_int_equal(rc, 1);
  close(a[1]);
  pthread_join(t, NULL);
  assert_int_equal(k.len, n);
  assert_memory_equal(k.buf, p, n);
  free(k.buf);
  free(p);
}

/* Not a pipe: vmsplice refuses, the feeder falls back to write(). */
ST_BOTH(feeder_to_regular_file) {
  char path[] = "/tmp/cuprum-feed-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  assert_true(fd >= 0);
  unlink(path);
  size_t n = 100000;
  unsigned char *p = payload(n, 13, false);
  cu__feeder f = {.data = p, .len = n, .backend = b};
  int err = 0;
  assert_int_equal(cu__feeder_pump(&f, fd, &err), 1);
  unsigned char *got = malloc(n);
  assert_non_null(got);
  assert_int_equal(pread(fd, got, n, 0), (ssize_t)n);
  assert_memory_equal(got, p, n);
  free(got);
  free(p);
  close(fd);
}

ST_BOTH(feeder_epipe) {
  signal(SIGPIPE, SIG_DFL);
  int a[2];
  st_pipe(a);
  fcntl(a[1], F_SETFL, O_NONBLOCK);
  close(a[0]);
  cu__feeder f = {.data = (const unsigned char *)"hello", .len = 5,
                  .backend = b};
  int err = 0;
  assert_int_equal(cu__feeder_pump(&f, a[1], &err), CU_EIO);
  assert_int_equal(err, EPIPE);
  cu__feeder empty = {.data = NULL, .len = 0, .backend = b};
  assert_int_equal(cu__feeder_pump(&empty, a[1], &err), 1);
  close(a[1]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(capture_all_splice),
    cmocka_unit_test(capture_all_readwrite),
    cmocka_unit_test(capture_empty_splice),
    cmocka_unit_test(capture_empty_readwrite),
    cmocka_unit_test(capture_limit_truncate_and_fail_splice),
    cmocka_unit_test(capture_limit_truncate_and_fail_readwrite),
    cmocka_unit_test(echo_only_pipe_splice),
    cmocka_unit_test(echo_only_pipe_readwrite),
    cmocka_unit_test(echo_only_nonblocking_slow_pipe_splice),
    cmocka_unit_test(echo_only_nonblocking_slow_pipe_readwrite),
    cmocka_unit_test(tee_capture_and_echo_pipe_splice),
    cmocka_unit_test(tee_capture_and_echo_pipe_readwrite),
    cmocka_unit_test(tee_nonblocking_slow_pipe_splice),
    cmocka_unit_test(tee_nonblocking_slow_pipe_readwrite),
    cmocka_unit_test(echo_to_file_and_dev_null_splice),
    cmocka_unit_test(echo_to_file_and_dev_null_readwrite),
    cmocka_unit_test(echo_epipe_keeps_draining_splice),
    cmocka_unit_test(echo_epipe_keeps_draining_readwrite),
    cmocka_unit_test(echo_callback_splice),
    cmocka_unit_test(echo_callback_readwrite),
    cmocka_unit_test(lines_match_splitter_splice),
    cmocka_unit_test(lines_match_splitter_readwrite),
    cmocka_unit_test(random_combinations_splice),
    cmocka_unit_test(random_combinations_readwrite),
    cmocka_unit_test(drain_budget_splice),
    cmocka_unit_test(drain_budget_readwrite),
    cmocka_unit_test(drain_errors_splice),
    cmocka_unit_test(drain_errors_readwrite),
    cmocka_unit_test(feeder_writes_everything_splice),
    cmocka_unit_test(feeder_writes_everything_readwrite),
    cmocka_unit_test(feeder_to_regular_file_splice),
    cmocka_unit_test(feeder_to_regular_file_readwrite),
    cmocka_unit_test(feeder_epipe_splice),
    cmocka_unit_test(feeder_epipe_readwrite),
};

CU_TEST_MAIN(tests)
