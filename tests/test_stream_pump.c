/* SPDX-License-Identifier: MIT */
/* cu_pump and cu_consume over both backends: pipes, files, /dev/null,
 * empty streams, broken pipes, backpressure, non-blocking fds and random
 * payloads with random chunking.
 * ctest-labels: threads */
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "stream/stream_internal.h"
#include "stream_util.h"

/* ------------------------------------------------------------ endpoints */

typedef struct writer {
  int fd;
  const unsigned char *data;
  size_t len;
  size_t chunk_max; /* 0 = all at once */
  uint64_t seed;
} writer;

static void *writer_main(void *arg) {
  writer *w = arg;
  st_rng r = {w->seed};
  for (size_t off = 0; off < w->len;) {
    size_t n = w->chunk_max ? st_range(&r, 1, w->chunk_max) : w->len;
    n = n > w->len - off ? w->len - off : n;
    st_write_all(w->fd, w->data + off, n);
    off += n;
  }
  close(w->fd);
  return NULL;
}

typedef struct pump_case {
  cu_stream_backend backend;
  const unsigned char *data;
  size_t len;
  size_t write_chunk;
  size_t read_chunk;
  useconds_t nap;
  size_t buffer_size;
  size_t pipe_size;
  bool nonblock_in;
  bool nonblock_out; /* short writes and EAGAIN on the output */
  bool keep_pipe_size;
  int want_pipe_size; /* >0: F_GETPIPE_SZ of the output afterwards */
} pump_case;

/* writer -> pipe A -> cu_pump -> pipe B -> reader; checks the bytes. */
static void run_pipe_case(const pump_case *c) {
  int a[2], b[2];
  st_pipe(a);
  st_pipe(b);
  if (c->nonblock_in)
    fcntl(a[0], F_SETFL, fcntl(a[0], F_GETFL) | O_NONBLOCK);
  if (c->nonblock_out)
    fcntl(b[1], F_SETFL, fcntl(b[1], F_GETFL) | O_NONBLOCK);
  writer w = {a[1], c->data, c->len, c->write_chunk, 7};
  st_sink r = {.fd = b[0], .chunk = c->read_chunk ? c->read_chunk : 65536,
              .nap = c->nap};
  pthread_t tw, tr;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  assert_int_equal(pthread_create(&tr, NULL, st_sink_main, &r), 0);
  cu_pump_opts o = {.size = sizeof(cu_pump_opts),
                    .backend = c->backend,
                    .buffer_size = c->buffer_size,
                    .pipe_size = c->pipe_size,
                    .keep_pipe_size = c->keep_pipe_size};
  uint64_t moved = 0;
  int rc = cu_pump(a[0], b[1], &o, &moved);
  if (c->pipe_size)
    assert_true(fcntl(b[1], F_GETPIPE_SZ) >= (int)c->pipe_size);
  if (c->want_pipe_size)
    assert_int_equal(fcntl(b[1], F_GETPIPE_SZ), c->want_pipe_size);
  close(a[0]);
  close(b[1]);
  pthread_join(tw, NULL);
  pthread_join(tr, NULL);
  assert_int_equal(rc, 0);
  assert_int_equal(moved, c->len);
  assert_int_equal(r.len, c->len);
  if (c->len)
    assert_memory_equal(r.buf, c->data, c->len);
  free(r.buf);
}

static unsigned char *random_payload(size_t n, uint64_t seed) {
  unsigned char *p = malloc(n ? n : 1);
  assert_non_null(p);
  st_rng r = {seed};
  st_fill_bytes(&r, p, n);
  return p;
}

/* ----------------------------------------------------------------- tests */

ST_BOTH(pipe_to_pipe) {
  unsigned char *p = random_payload(3 << 20, 1);
  pump_case c = {.backend = b, .data = p, .len = 3 << 20, .write_chunk = 70000};
  run_pipe_case(&c);
  free(p);
}

ST_BOTH(empty_stream) {
  pump_case c = {.backend = b, .data = (const unsigned char *)"", .len = 0};
  run_pipe_case(&c);
}

ST_BOTH(slow_reader_backpressure) {
  unsigned char *p = random_payload(1 << 20, 2);
  pump_case c = {.backend = b, .data = p, .len = 1 << 20, .read_chunk = 4096,
                 .nap = 200};
  run_pipe_case(&c);
  free(p);
}

ST_BOTH(slow_writer_nonblocking_input) {
  unsigned char *p = random_payload(200000, 3);
  pump_case c = {.backend = b, .data = p, .len = 200000, .write_chunk = 333,
                 .nonblock_in = true};
  run_pipe_case(&c);
  free(p);
}

/* A full non-blocking output: partial writes and EAGAIN, polled, while a
 * slow reader drains it in odd-sized pieces. */
ST_BOTH(nonblocking_output_short_writes) {
  unsigned char *p = random_payload(700000, 15);
  pump_case c = {.backend = b, .data = p, .len = 700000, .read_chunk = 1000,
                 .nap = 50, .nonblock_out = true, .nonblock_in = true,
                 .buffer_size = 100000};
  run_pipe_case(&c);
  free(p);
}

ST_BOTH(tiny_buffer_and_big_pipes) {
  unsigned char *p = random_payload(300000, 4);
  pump_case c = {.backend = b, .data = p, .len = 300000, .write_chunk = 5000,
                 .buffer_size = 7, .pipe_size = 1 << 20};
  run_pipe_case(&c);
  free(p);
}

/* Bulk pumps raise the pipes to 1 MiB; keep_pipe_size and short pumps
 * leave them alone. */
ST_BOTH(auto_pipe_raise) {
  int probe[2];
  st_pipe(probe);
  int raised = fcntl(probe[1], F_SETPIPE_SZ, 1 << 20);
  int dflt = 65536;
  close(probe[0]);
  close(probe[1]);
  if (raised < (1 << 20)) {
    printf("[ SKIPPED  ] cannot raise a pipe to 1 MiB here\n");
    skip();
  }
  unsigned char *p = random_payload(3 << 20, 12);
  pump_case c = {.backend = b, .data = p, .len = 3 << 20,
                 .want_pipe_size = 1 << 20};
  run_pipe_case(&c);
  c.keep_pipe_size = true;
  c.want_pipe_size = dflt;
  run_pipe_case(&c);
  c = (pump_case){.backend = b, .data = p, .len = 1000,
                  .want_pipe_size = dflt};
  run_pipe_case(&c);
  free(p);
}

/* Property: random sizes and chunkings, both directions of slowness. */
ST_BOTH(random_payloads) {
  st_rng g = {st_seed("random_payloads")};
  for (int iter = 0; iter < 40; iter++) {
    size_t n = st_range(&g, 0, 1) ? st_range(&g, 0, 4096)
                                   : st_range(&g, 0, 600000);
    unsigned char *p = random_payload(n, st_next(&g));
    pump_case c = {.backend = b, .data = p, .len = n,
                   .write_chunk = st_range(&g, 1, 100000),
                   .read_chunk = st_range(&g, 1, 70000),
                   .buffer_size = st_range(&g, 0, 1) ? 0 : st_range(&g, 1, 9000),
                   .nonblock_in = st_range(&g, 0, 3) == 0,
                   .nonblock_out = st_range(&g, 0, 3) == 0};
    run_pipe_case(&c);
    free(p);
  }
}

/* A temporary regular file holding `data`, positioned at 0. */
static int temp_file(const void *data, size_t n) {
  char path[] = "/tmp/cuprum-pump-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  assert_true(fd >= 0);
  unlink(path);
  st_write_all(fd, data, n);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static void assert_file_holds(int fd, const unsigned char *data, size_t n) {
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal((size_t)st.st_size, n);
  unsigned char *got = malloc(n + 1);
  assert_non_null(got);
  assert_int_equal(pread(fd, got, n + 1, 0), (ssize_t)n);
  assert_memory_equal(got, data, n);
  free(got);
}

/* Regular file to regular file: splice refuses (no pipe), so the splice
 * backend must fall back without losing or duplicating a byte. */
ST_BOTH(file_to_file_fallback) {
  size_t n = 777777;
  unsigned char *p = random_payload(n, 5);
  int in = temp_file(p, n), out = temp_file("", 0);
  uint64_t moved = 0;
  assert_int_equal(
      cu_pump(in, out,
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  assert_int_equal(moved, n);
  assert_file_holds(out, p, n);
  close(in);
  close(out);
  free(p);
}

ST_BOTH(file_to_pipe_and_pipe_to_file) {
  size_t n = 500001;
  unsigned char *p = random_payload(n, 6);
  int in = temp_file(p, n), out = temp_file("", 0);
  int a[2];
  st_pipe(a);
  st_sink r = {.fd = a[0], .chunk = 65536};
  pthread_t tr;
  assert_int_equal(pthread_create(&tr, NULL, st_sink_main, &r), 0);
  uint64_t moved = 0;
  assert_int_equal(
      cu_pump(in, a[1],
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  close(a[1]);
  pthread_join(tr, NULL);
  assert_int_equal(moved, n);
  assert_int_equal(r.len, n);
  assert_memory_equal(r.buf, p, n);
  /* and back: pipe -> file */
  int c[2];
  st_pipe(c);
  writer w = {c[1], r.buf, r.len, 12345, 9};
  pthread_t tw;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  assert_int_equal(
      cu_pump(c[0], out,
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  pthread_join(tw, NULL);
  close(c[0]);
  assert_file_holds(out, p, n);
  free(r.buf);
  close(in);
  close(out);
  free(p);
}

ST_BOTH(dev_null_both_ways) {
  int null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int null_r = open("/dev/null", O_RDONLY | O_CLOEXEC);
  assert_true(null_w >= 0 && null_r >= 0);
  size_t n = 1 << 20;
  unsigned char *p = random_payload(n, 8);
  int a[2];
  st_pipe(a);
  writer w = {a[1], p, n, 50000, 1};
  pthread_t tw;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  uint64_t moved = 0;
  assert_int_equal(
      cu_pump(a[0], null_w,
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  pthread_join(tw, NULL);
  assert_int_equal(moved, n);
  int c[2];
  st_pipe(c);
  assert_int_equal(
      cu_pump(null_r, c[1],
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  assert_int_equal(moved, 0);
  for (int i = 0; i < 2; i++) {
    close(a[i]);
    close(c[i]);
  }
  close(null_w);
  close(null_r);
  free(p);
}

/* Socket to socket: no pipe on either side, so splice refuses and the
 * pair falls back to read/write without losing a byte. */
ST_BOTH(sockets) {
  size_t n = 1 << 20;
  unsigned char *p = random_payload(n, 14);
  int s1[2], s2[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2), 0);
  writer w = {s1[1], p, n, 40000, 2};
  st_sink r = {.fd = s2[1]};
  pthread_t tw, tr;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  assert_int_equal(pthread_create(&tr, NULL, st_sink_main, &r), 0);
  uint64_t moved = 0;
  assert_int_equal(
      cu_pump(s1[0], s2[0],
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              &moved),
      0);
  shutdown(s2[0], SHUT_WR);
  pthread_join(tw, NULL);
  pthread_join(tr, NULL);
  assert_int_equal(moved, n);
  assert_int_equal(r.len, n);
  assert_memory_equal(r.buf, p, n);
  close(s1[0]);
  close(s2[0]);
  free(r.buf);
  free(p);
}

/* The reader goes away: CU_EIO naming EPIPE, and no SIGPIPE kills us (the
 * default disposition is kept on purpose). */
ST_BOTH(broken_pipe) {
  signal(SIGPIPE, SIG_DFL);
  int a[2], c[2];
  st_pipe(a);
  st_pipe(c);
  close(c[0]);
  unsigned char *p = random_payload(100000, 10);
  writer w = {a[1], p, 100000, 0, 1};
  pthread_t tw;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  /* drain the writer so it can finish whatever the pump does */
  int rc = cu_pump(a[0], c[1],
                   &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
                   NULL);
  assert_int_equal(rc, CU_EIO);
  assert_non_null(strstr(cu_last_error(), strerror(EPIPE)));
  char sink[65536];
  while (read(a[0], sink, sizeof sink) > 0) {
  }
  pthread_join(tw, NULL);
  sigset_t pending;
  sigpending(&pending);
  assert_false(sigismember(&pending, SIGPIPE));
  close(a[0]);
  close(c[1]);
  free(p);
}

ST_BOTH(bad_fds) {
  assert_int_equal(
      cu_pump(-1, 1,
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              NULL),
      CU_EINVAL);
  int a[2];
  st_pipe(a);
  /* reading from a write end fails: an error, not a silent success */
  assert_int_equal(
      cu_pump(a[1], a[1],
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = b},
              NULL),
      CU_EIO);
  close(a[0]);
  close(a[1]);
}

static void pump_unavailable_backend(void **state) {
  (void)state;
  cu__splice_force_unavailable("forced off by the test");
  int a[2];
  st_pipe(a);
  assert_int_equal(cu_pump(a[0], a[1],
                           &(cu_pump_opts){.size = sizeof(cu_pump_opts),
                                           .backend = CU_BACKEND_SPLICE},
                           NULL),
                   CU_EBACKEND);
  assert_non_null(strstr(cu_last_error(), "forced off by the test"));
  cu__splice_force_unavailable(NULL);
  close(a[0]);
  close(a[1]);
}

/* ---------------------------------------------------------------- consume */

static void consume_pipe(size_t n, const cu_consume_opts *o, char **ret,
                         size_t *ret_len, uint64_t *total,
                         const unsigned char *p) {
  int a[2];
  st_pipe(a);
  writer w = {a[1], p, n, 30000, 3};
  pthread_t tw;
  assert_int_equal(pthread_create(&tw, NULL, writer_main, &w), 0);
  assert_int_equal(cu_consume(a[0], o, ret, ret_len, total), 0);
  pthread_join(tw, NULL);
  close(a[0]);
}

static void consume_bytes_and_limit(void **state) {
  (void)state;
  size_t n = 3000000, len = 0;
  uint64_t total = 0;
  unsigned char *p = random_payload(n, 11);
  char *out = NULL;
  consume_pipe(n, NULL, &out, &len, &total, p);
  assert_int_equal(len, n);
  assert_int_equal(total, n);
  assert_memory_equal(out, p, n);
  assert_int_equal(out[n], '\0');
  free(out);
  consume_pipe(
      n,
      &(cu_consume_opts){.size = sizeof(cu_consume_opts), .max_bytes = 100000},
      &out, &len, &total, p);
  assert_int_equal(len, 100000);
  assert_int_equal(total, n);
  assert_memory_equal(out, p, 100000);
  free(out);
  free(p);
}

static void consume_decodes(void **state) {
  (void)state;
  const char *in = "ok\xe2\x82\xac\xff\xe2\x82";
  char *out = NULL;
  size_t len = 0;
  consume_pipe(
      strlen(in),
      &(cu_consume_opts){.size = sizeof(cu_consume_opts), .decode_utf8 = true},
      &out, &len, NULL, (const unsigned char *)in);
  assert_string_equal(out, "ok\xe2\x82\xac\xEF\xBF\xBD\xEF\xBF\xBD");
  assert_int_equal(len, strlen(out));
  free(out);
  int a[2];
  st_pipe(a);
  close(a[1]);
  fcntl(a[0], F_SETFL, O_NONBLOCK);
  assert_int_equal(cu_consume(a[0], NULL, &out, &len, NULL), 0);
  assert_string_equal(out, "");
  assert_int_equal(len, 0);
  free(out);
  close(a[0]);
  assert_int_equal(cu_consume(-1, NULL, &out, NULL, NULL), CU_EINVAL);
}

/* Valid text comes back unchanged (the no-copy path), invalid text past
 * the first mebibyte still gets replaced. */
static void consume_decodes_large(void **state) {
  (void)state;
  size_t n = 3 << 20;
  unsigned char *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i += 3)
    memcpy(p + i, i % 99 ? "ab\n" : "\xe2\x82\xac", 3);
  char *out = NULL;
  size_t len = 0;
  consume_pipe(
      n,
      &(cu_consume_opts){.size = sizeof(cu_consume_opts), .decode_utf8 = true},
      &out, &len, NULL, p);
  assert_int_equal(len, n);
  assert_memory_equal(out, p, n);
  free(out);
  memcpy(p + n - 3, "a\xff\n", 3);
  consume_pipe(
      n,
      &(cu_consume_opts){.size = sizeof(cu_consume_opts), .decode_utf8 = true},
      &out, &len, NULL, p);
  assert_int_equal(len, n + 2);
  assert_memory_equal(out, p, n - 3);
  assert_memory_equal(out + n - 3, "a\xEF\xBF\xBD\n", 5);
  free(out);
  free(p);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pipe_to_pipe_splice),
    cmocka_unit_test(pipe_to_pipe_readwrite),
    cmocka_unit_test(empty_stream_splice),
    cmocka_unit_test(empty_stream_readwrite),
    cmocka_unit_test(slow_reader_backpressure_splice),
    cmocka_unit_test(slow_reader_backpressure_readwrite),
    cmocka_unit_test(slow_writer_nonblocking_input_splice),
    cmocka_unit_test(slow_writer_nonblocking_input_readwrite),
    cmocka_unit_test(nonblocking_output_short_writes_splice),
    cmocka_unit_test(nonblocking_output_short_writes_readwrite),
    cmocka_unit_test(tiny_buffer_and_big_pipes_splice),
    cmocka_unit_test(tiny_buffer_and_big_pipes_readwrite),
    cmocka_unit_test(auto_pipe_raise_splice),
    cmocka_unit_test(auto_pipe_raise_readwrite),
    cmocka_unit_test(random_payloads_splice),
    cmocka_unit_test(random_payloads_readwrite),
    cmocka_unit_test(file_to_file_fallback_splice),
    cmocka_unit_test(file_to_file_fallback_readwrite),
    cmocka_unit_test(file_to_pipe_and_pipe_to_file_splice),
    cmocka_unit_test(file_to_pipe_and_pipe_to_file_readwrite),
    cmocka_unit_test(dev_null_both_ways_splice),
    cmocka_unit_test(dev_null_both_ways_readwrite),
    cmocka_unit_test(sockets_splice),
    cmocka_unit_test(sockets_readwrite),
    cmocka_unit_test(broken_pipe_splice),
    cmocka_unit_test(broken_pipe_readwrite),
    cmocka_unit_test(bad_fds_splice),
    cmocka_unit_test(bad_fds_readwrite),
    cmocka_unit_test(pump_unavailable_backend),
    cmocka_unit_test(consume_bytes_and_limit),
    cmocka_unit_test(consume_decodes),
    cmocka_unit_test(consume_decodes_large),
};

CU_TEST_MAIN(tests)
