/* SPDX-License-Identifier: MIT */
/*
 * Micro benchmarks for the stream engine.
 *
 *   micro_stream [--reps N] [--only SUBSTR] [OUT.json]
 *                                          full suite (or the groups whose
 *                                          name contains SUBSTR): table on
 *                                          stdout, JSON to OUT.json
 *   micro_stream --quick-ratio [OUT.json]  splice vs readwrite pump
 *                                          throughput ratio (< 20 s), for
 *                                          scripts/bench-check.sh
 *
 * Every figure is the median of repeated runs (min and max kept too). The
 * pump is measured between two pipes whose other ends cost (almost) no
 * copies: the feeder vmsplices one buffer over and over and the drain
 * splices to /dev/null, so the pump itself is what is timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cuprum/cuprum.h>

#include "stream/outstream.h"

#define MiB (1024.0 * 1024.0)
#define MAX_REPS 64

typedef struct result {
  char name[64];
  const char *unit;
  const char *clock; /* "wall" or "thread_cpu" */
  double median, min, max;
  int reps;
} result;

static result results[64];
static size_t n_results;
static int reps = 7;
static const char *only; /* --only SUBSTR: run the matching groups only */

static bool want(const char *group) { return !only || strstr(group, only); }

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time for anything involving other threads or the kernel. */
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* The thread's CPU time for pure computation (decode, split, memcpy):
 * on a shared machine preemption would otherwise dominate the spread. */
static double cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void record_clock(const char *name, const char *unit, double *v,
                         int n, const char *clock) {
  result *r = &results[n_results++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->unit = unit;
  r->clock = clock;
  r->median = median(v, n);
  r->min = v[0];
  r->max = v[n - 1];
  r->reps = n;
  printf("%-44s %10.3f %-5s (min %.3f, max %.3f, %d reps)\n", name,
         r->median, unit, r->min, r->max, n);
  fflush(stdout);
}

static void record(const char *name, const char *unit, double *v, int n) {
  record_clock(name, unit, v, n, "wall");
}

static void die(const char *what) {
  fprintf(stderr, "micro_stream: %s: %s (%s)\n", what, strerror(errno),
          cu_last_error());
  exit(1);
}

static void make_pipe(int p[2], size_t size) {
  if (pipe2(p, O_CLOEXEC) != 0)
    die("pipe2");
  if (size && fcntl(p[1], F_SETPIPE_SZ, (int)size) < 0)
    die("F_SETPIPE_SZ");
}

/* ------------------------------------------------------- cheap endpoints */

static char *feed_buf;
#define FEED_BUF (1u << 20)

typedef struct feed {
  int fd;
  size_t total;
} feed;

/* vmsplice the same pages again and again: no copy on the feeding side. */
static void *feeder(void *arg) {
  feed *f = arg;
  size_t left = f->total;
  while (left) {
    size_t n = left < FEED_BUF ? left : FEED_BUF;
    struct iovec iov = {feed_buf, n};
    ssize_t w = vmsplice(f->fd, &iov, 1, 0);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (w = write(f->fd, feed_buf, n)) < 0)
      die("feeding");
    left -= (size_t)w;
  }
  close(f->fd);
  return NULL;
}

/* splice to /dev/null: no copy on the draining side. */
static void *drainer(void *arg) {
  int fd = *(int *)arg;
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  static char sink[1 << 16];
  for (;;) {
    ssize_t n = splice(fd, NULL, null_fd, NULL, 1 << 20, SPLICE_F_MOVE);
    if (n < 0 && errno == EINVAL)
      n = read(fd, sink, sizeof sink);
    if (n == 0)
      break;
    if (n < 0 && errno != EINTR)
      die("draining");
  }
  close(null_fd);
  close(fd);
  return NULL;
}

/* ------------------------------------------------------------ the pump */

/* Pipe set-ups the pump is measured with. */
typedef enum pipes {
  PIPES_AUTO,  /* default options: raised to 1 MiB after the first 1 MiB */
  PIPES_64K,   /* kernel default size, keep_pipe_size */
  PIPES_1MIB,  /* 1 MiB from the start */
} pipes;

static const char *const pipes_name[] = {"auto_pipes", "64KiB_pipes",
                                         "1MiB_pipes"};

/* GB/s for one pump of `total` bytes between two pipes. */
static double pump_once(cu_stream_backend b, pipes mode, size_t total) {
  int a[2], c[2];
  size_t pipe_size = mode == PIPES_1MIB ? 1u << 20 : 0;
  make_pipe(a, pipe_size);
  make_pipe(c, pipe_size);
  feed f = {a[1], total};
  pthread_t tf, td;
  pthread_create(&tf, NULL, feeder, &f);
  pthread_create(&td, NULL, drainer, &c[0]);
  cu_pump_opts o = {.size = sizeof(cu_pump_opts),
                    .backend = b,
                    .keep_pipe_size = mode != PIPES_AUTO};
  uint64_t moved = 0;
  double t0 = now_s();
  if (cu_pump(a[0], c[1], &o, &moved) != 0 || moved != total)
    die("cu_pump");
  double dt = now_s() - t0;
  close(c[1]);
  pthread_join(tf, NULL);
  pthread_join(td, NULL);
  close(a[0]);
  return (double)total / dt / 1e9;
}

static void bench_pump_throughput(cu_stream_backend b, pipes mode) {
  double v[MAX_REPS];
  for (int i = 0; i < reps; i++)
    v[i] = pump_once(b, mode, 1u << 30);
  char name[64];
  snprintf(name, sizeof name, "pump_pipe_to_pipe_%s_%s",
           cu_stream_backend_name(b), pipes_name[mode]);
  record(name, "GB/s", v, reps);
}

typedef struct echo_pump {
  int in, out;
  cu_stream_backend b;
} echo_pump;

static void *pump_thread(void *arg) {
  echo_pump *e = arg;
  if (cu_pump(e->in, e->out,
              &(cu_pump_opts){.size = sizeof(cu_pump_opts), .backend = e->b},
              NULL) != 0)
    die("cu_pump (latency)");
  close(e->out);
  return NULL;
}

/* Round trip of a 64-byte message through a running pump, in µs. */
static void bench_pump_latency(cu_stream_backend b) {
  double v[MAX_REPS];
  const int msgs = 2000;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up, not recorded */
    int a[2], c[2];
    make_pipe(a, 0);
    make_pipe(c, 0);
    echo_pump e = {a[0], c[1], b};
    pthread_t t;
    pthread_create(&t, NULL, pump_thread, &e);
    char msg[64] = "ping", got[64];
    double t0 = now_s();
    for (int i = 0; i < msgs; i++) {
      if (write(a[1], msg, sizeof msg) != (ssize_t)sizeof msg)
        die("write");
      for (size_t n = 0; n < sizeof got;) {
        ssize_t k = read(c[0], got + n, sizeof got - n);
        if (k <= 0)
          die("read");
        n += (size_t)k;
      }
    }
    if (r >= 0)
      v[r] = (now_s() - t0) / msgs * 1e6;
    close(a[1]);
    pthread_join(t, NULL);
    close(a[0]);
    close(c[0]);
  }
  char name[64];
  snprintf(name, sizeof name, "pump_latency_64B_roundtrip_%s",
           cu_stream_backend_name(b));
  record(name, "us", v, reps);
}

/* ------------------------------------------------------------- capture */

static void bench_consume(void) {
  double v[MAX_REPS];
  size_t total = 512u << 20;
  for (int r = 0; r < reps; r++) {
    int a[2];
    make_pipe(a, 1 << 20);
    feed f = {a[1], total};
    pthread_t t;
    pthread_create(&t, NULL, feeder, &f);
    char *data;
    size_t len;
    double t0 = now_s();
    if (cu_consume(a[0], NULL, &data, &len, NULL) != 0 || len != total)
      die("cu_consume");
    v[r] = (double)total / (now_s() - t0) / 1e9;
    free(data);
    pthread_join(t, NULL);
    close(a[0]);
  }
  record("consume_to_memory", "GB/s", v, reps);
}

/* The runtime's capture path: poll + cu__outstream_drain. */
static void bench_outstream_capture(cu_stream_backend b) {
  double v[MAX_REPS];
  size_t total = 512u << 20;
  for (int r = 0; r < reps; r++) {
    int a[2];
    make_pipe(a, 1 << 20);
    fcntl(a[0], F_SETFL, O_NONBLOCK);
    feed f = {a[1], total};
    pthread_t t;
    pthread_create(&t, NULL, feeder, &f);
    cu__outstream_cfg cfg = {.capture = true, .echo_fd = -1, .backend = b};
    cu__outstream *os;
    if (cu__outstream_new(&cfg, &os) != 0)
      die("outstream");
    double t0 = now_s();
    for (int rc = 0; rc == 0;) {
      struct pollfd p = {a[0], POLLIN, 0};
      poll(&p, 1, -1);
      if ((rc = cu__outstream_drain(os, a[0])) < 0)
        die("drain");
    }
    cu_bytes out;
    cu__outstream_take(os, &out);
    v[r] = (double)out.len / (now_s() - t0) / 1e9;
    free(out.data);
    cu__outstream_free(os);
    pthread_join(t, NULL);
    close(a[0]);
  }
  char name[64];
  snprintf(name, sizeof name, "outstream_capture_%s", cu_stream_backend_name(b));
  record(name, "GB/s", v, reps);
}

/* ---------------------------------------------------------- text paths */

#define TEXT_LEN (64u << 20)

/* Lines of 20..140 bytes; one character in `every` (0 = none) is a 2- or
 * 3-byte character. */
static char *make_text(unsigned every) {
  char *t = malloc(TEXT_LEN);
  uint64_t x = 88172645463325252ull;
  size_t i = 0, col = 0, width = 80;
  while (i < TEXT_LEN) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (col >= width || i == TEXT_LEN - 1) {
      t[i++] = '\n';
      col = 0;
      width = 20 + x % 120;
    } else if (every && x % every == 0 && i + 3 < TEXT_LEN - 1) {
      memcpy(t + i, x % 2 ? "\xc3\xa9\x20" : "\xe2\x82\xac", 3);
      i += 3;
      col += 3;
    } else {
      t[i++] = (char)('a' + x % 26);
      col++;
    }
  }
  return t;
}

static void bench_decode(const char *text, const char *name) {
  double v[MAX_REPS];
  size_t chunk = 64 * 1024;
  char *out = malloc(CU_UTF8_MAX_OUT(chunk));
  for (int r = 0; r < reps; r++) {
    cu_utf8_decoder d;
    cu_utf8_init(&d);
    size_t sum = 0;
    double t0 = cpu_s();
    for (size_t off = 0; off < TEXT_LEN; off += chunk)
      sum += cu_utf8_decode(&d, text + off, chunk, out);
    v[r] = TEXT_LEN / (cpu_s() - t0) / 1e9;
    if (sum < TEXT_LEN / 2)
      die("decode");
  }
  free(out);
  record_clock(name, "GB/s", v, reps, "thread_cpu");
}

static void count_line(void *ud, const char *line, size_t len,
                       unsigned flags) {
  (void)line, (void)len, (void)flags;
  ++*(size_t *)ud;
}

static void bench_lines(const char *text, const char *name) {
  double v[MAX_REPS];
  size_t chunk = 64 * 1024;
  for (int r = 0; r < reps; r++) {
    size_t n = 0;
    cu_line_splitter *s;
    if (cu_line_splitter_new(count_line, &n, &s) != 0)
      die("splitter");
    double t0 = cpu_s();
    for (size_t off = 0; off < TEXT_LEN; off += chunk)
      if (cu_line_splitter_feed(s, text + off, chunk) != 0)
        die("splitter feed");
    cu_line_splitter_finish(s);
    v[r] = TEXT_LEN / (cpu_s() - t0) / 1e9;
    cu_line_splitter_free(s);
    if (n < TEXT_LEN / 200)
      die("lines");
  }
  record_clock(name, "GB/s", v, reps, "thread_cpu");
}

static void bench_memcpy(const char *text) {
  double v[MAX_REPS];
  char *dst = malloc(TEXT_LEN);
  memset(dst, 1, TEXT_LEN);
  for (int r = 0; r < reps; r++) {
    double t0 = cpu_s();
    memcpy(dst, text, TEXT_LEN);
    v[r] = TEXT_LEN / (cpu_s() - t0) / 1e9;
    __asm__ volatile("" : : "r"(dst) : "memory");
  }
  free(dst);
  record_clock("memcpy_ceiling", "GB/s", v, reps, "thread_cpu");
}

/* ---------------------------------------------------------- quick ratio */

/*
 * One round of the CI check: 512 KiB are written into a pipe, which is
 * closed, then the pump moves them into an empty pipe (the only timed
 * part), then the output is drained. Everything runs in this one thread and the time is the
 * thread's CPU time (kernel work on its behalf included), so other
 * processes on the shared cores cannot skew one backend more than the
 * other: an earlier version with feeder and drainer threads gave a ratio
 * of ~9.5 on a quiet machine and ~4.8 under load.
 */
#define QROUND (512u << 10) /* bytes per round */
#define QPIPE (1u << 20)     /* both pipes: 1 MiB, the unprivileged maximum */

static double pump_round(cu_stream_backend b, const char *buf, char *sink) {
  int a[2], c[2];
  /* Twice the round's size: pipe occupancy counts buffers, not bytes, so
   * a pipe exactly as large as the payload can refuse its last bytes. */
  make_pipe(a, QPIPE);
  make_pipe(c, QPIPE);
  for (size_t off = 0; off < QROUND;) {
    ssize_t n = write(a[1], buf + off, QROUND - off);
    if (n <= 0)
      die("fill");
    off += (size_t)n;
  }
  close(a[1]);
  cu_pump_opts o = {
      .size = sizeof(cu_pump_opts), .backend = b, .keep_pipe_size = true};
  uint64_t moved = 0;
  double t0 = cpu_s();
  if (cu_pump(a[0], c[1], &o, &moved) != 0 || moved != QROUND)
    die("cu_pump (quick round)");
  double dt = cpu_s() - t0;
  close(c[1]);
  while (read(c[0], sink, QROUND) > 0) {
  }
  close(a[0]);
  close(c[0]);
  return dt;
}

/* GB/s over `rounds` rounds of one backend. */
static double pump_rounds(cu_stream_backend b, int rounds, const char *buf,
                          char *sink) {
  double t = 0;
  for (int i = 0; i < rounds; i++)
    t += pump_round(b, buf, sink);
  return (double)QROUND * rounds / t / 1e9;
}

/* Interleaved reps: whatever drift remains hits both backends alike. */
static double quick_ratio(void) {
  enum { QREPS = 31, ROUNDS = 32 };
  double s[QREPS], rw[QREPS], pair[QREPS];
  char *buf = malloc(QROUND), *sink = malloc(QROUND);
  if (!buf || !sink)
    die("malloc");
  memset(buf, 'x', QROUND);
  pump_rounds(CU_BACKEND_SPLICE, 4, buf, sink); /* warm up */
  pump_rounds(CU_BACKEND_READWRITE, 4, buf, sink);
  for (int i = 0; i < QREPS; i++) {
    if (i % 2) {
      rw[i] = pump_rounds(CU_BACKEND_READWRITE, ROUNDS, buf, sink);
      s[i] = pump_rounds(CU_BACKEND_SPLICE, ROUNDS, buf, sink);
    } else {
      s[i] = pump_rounds(CU_BACKEND_SPLICE, ROUNDS, buf, sink);
      rw[i] = pump_rounds(CU_BACKEND_READWRITE, ROUNDS, buf, sink);
    }
    pair[i] = s[i] / rw[i];
  }
  free(buf);
  free(sink);
  record_clock("quick_pump_splice", "GB/s", s, QREPS, "thread_cpu");
  record_clock("quick_pump_readwrite", "GB/s", rw, QREPS, "thread_cpu");
  record_clock("quick_pair_ratio", "x", pair, QREPS, "thread_cpu");
  return results[n_results - 1].median;
}

/* --------------------------------------------------------------- output */

static void write_json(const char *path, double ratio) {
  FILE *f = fopen(path, "w");
  if (!f)
    die(path);
  struct utsname u;
  uname(&u);
  double load[1] = {-1};
  getloadavg(load, 1); /* a busy machine explains a wide spread */
  fprintf(f, "{\n  \"benchmark\": \"micro_stream\",\n  \"kernel\": \"%s\",\n"
             "  \"cpus\": %ld,\n  \"loadavg_1min_at_end\": %.2f,\n"
             "  \"timestamp\": %lld,\n",
          u.release, sysconf(_SC_NPROCESSORS_ONLN), load[0],
          (long long)time(NULL));
  if (ratio > 0)
    fprintf(f, "  \"splice_readwrite_ratio\": %.4f,\n", ratio);
  fprintf(f, "  \"results\": [\n");
  for (size_t i = 0; i < n_results; i++) {
    result *r = &results[i];
    fprintf(f,
            "    {\"name\": \"%s\", \"unit\": \"%s\", \"clock\": \"%s\", "
            "\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, "
            "\"reps\": %d}%s\n",
            r->name, r->unit, r->clock, r->median, r->min, r->max, r->reps,
            i + 1 < n_results ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  fclose(f);
}

/* Unknown arguments never become the output path (see bench_util.h). */
static _Noreturn void usage(const char *arg) {
  bool help = !strcmp(arg, "-h") || !strcmp(arg, "--help");
  if (!help)
    fprintf(stderr, "micro_stream: unknown argument '%s'\n", arg);
  fputs("usage: micro_stream [--quick-ratio] [--only NAME] [--reps N] "
        "[RESULT.json]\n", help ? stdout : stderr);
  exit(help ? 0 : 2);
}

int main(int argc, char **argv) {
  const char *json = NULL;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick-ratio") == 0)
      quick = true;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (argv[i][0] != '-' && argv[i][0] != '\0' && !json)
      json = argv[i];
    else
      usage(argv[i]);
  }
  if (reps < 1 || reps > MAX_REPS)
    reps = 7;
  feed_buf = malloc(FEED_BUF);
  memset(feed_buf, 'x', FEED_BUF);
  bool have_splice = cu_stream_splice_available();
  double ratio = 0;
  if (quick) {
    if (!have_splice) {
      fprintf(stderr, "micro_stream: splice unavailable: %s\n",
              cu_stream_splice_why());
      return 77;
    }
    ratio = quick_ratio();
    printf("splice/readwrite ratio (median of paired reps): %.3f\n", ratio);
  } else {
    printf("%-44s %10s\n", "benchmark", "median");
    cu_stream_backend bs[2] = {CU_BACKEND_SPLICE, CU_BACKEND_READWRITE};
    for (int i = have_splice ? 0 : 1; i < 2; i++) {
      if (want("pump_latency"))
        bench_pump_latency(bs[i]);
      if (want("pump_pipe_to_pipe")) {
        for (int m = PIPES_AUTO; m <= PIPES_1MIB; m++)
          bench_pump_throughput(bs[i], (pipes)m);
      }
      if (want("outstream_capture"))
        bench_outstream_capture(bs[i]);
    }
    if (want("consume_to_memory"))
      bench_consume();
    /* 1 in 50 characters non-ASCII is typical of logs and European text;
     * 1 in 5 (43% of the bytes) is a worst case for branch prediction */
    bool text = want("utf8_decode") || want("line_split") || want("memcpy");
    char *ascii = text ? make_text(0) : NULL;
    char *sparse = text ? make_text(50) : NULL;
    char *dense = text ? make_text(5) : NULL;
    if (want("utf8_decode")) {
      bench_decode(ascii, "utf8_decode_ascii");
      bench_decode(sparse, "utf8_decode_2pct_non_ascii");
      bench_decode(dense, "utf8_decode_20pct_non_ascii");
    }
    if (want("line_split")) {
      bench_lines(ascii, "line_split_ascii");
      bench_lines(sparse, "line_split_2pct_non_ascii");
      bench_lines(dense, "line_split_20pct_non_ascii");
    }
    if (want("memcpy"))
      bench_memcpy(ascii);
    free(ascii);
    free(sparse);
    free(dense);
  }
  if (json)
    write_json(json, ratio);
  free(feed_buf);
  return 0;
}
