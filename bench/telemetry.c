/* SPDX-License-Identifier: MIT */
/*
 * Cost of the telemetry adapters, each row a ratio of two modes measured
 * in the same run, interleaved in rounds so a noisy shared machine hits
 * both sides alike:
 *  1. N runs of /bin/true (default 10,000): every adapter on (JSON log hook
 *     to /dev/null, Prometheus metrics, tracer exporting OTLP JSON to
 *     /dev/null) vs none. Goal <= 1.05x.
 *  2. 100 MiB of 80-byte lines captured from cat: metrics plus a tracer
 *     with span events vs a no-op line observer alone. Goal <= 1.3x.
 *  3. row 1's runs with the tracer exporting over OTLP/HTTP to a dead
 *     endpoint (nothing listening) and to a slow one (answers after 5 s),
 *     vs the tracer exporting to /dev/null: no change beyond noise.
 *
 *   telemetry [--runs N] [--mib M] [--reps R] [--lines-only] [OUT.json]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cuprum/cuprum.h>

#include "bench_util.h"
#ifdef CUPRUM_HAVE_OTEL
#include <cuprum/otel.h>
#endif

#define ROUNDS 50
#define MAX_REPS 64

static int noop(void *data, const cu_event *ev) {
  (void)data;
  (void)ev;
  return 0;
}

typedef enum mode {
  M_OFF,      /* no adapter */
  M_ALL,      /* log + metrics + tracer to /dev/null */
  M_TRACE,    /* tracer to /dev/null only (baseline of row 3) */
  M_DEAD,     /* tracer over OTLP/HTTP, nothing listening */
  M_SLOW,     /* tracer over OTLP/HTTP, answers after 5 s */
  M_LINES,    /* a no-op line observer */
  M_LINES_ALL,/* metrics + tracer with span events */
} mode;

static int dead_port, slow_port;

/* Attach `m`'s adapters to the current scope; returns what to free. */
typedef struct adapters {
  FILE *devnull;
  cu_metrics *metrics;
  cu_tracer *tracer;
  void *http;
} adapters;

static int attach(mode m, adapters *a) {
  memset(a, 0, sizeof *a);
  if (m == M_OFF)
    return 0;
  if (m == M_LINES)
    return cu_observe(noop, NULL, CU_OBSERVE_LINES, NULL);
  if (m == M_ALL) {
    a->devnull = fopen("/dev/null", "we");
    cu_log_opts lo = {.size = sizeof(cu_log_opts),
                      .format = CU_LOG_JSON, .sink = CU_LOG_SINK_FILE,
                      .file = a->devnull};
    if (cu_log_attach(&lo, NULL) != 0)
      return -1;
  }
  if (m == M_ALL || m == M_LINES_ALL) {
    if (cu_metrics_new(NULL, &a->metrics) != 0 ||
        cu_metrics_attach(a->metrics, NULL) != 0)
      return -1;
  }
  cu_tracer_opts to = CU_TRACER_OPTS_INIT;
  to.no_env_parent = true;
  to.line_events = m == M_LINES_ALL;
  to.shutdown_timeout_ms = 100;
  if (m == M_DEAD || m == M_SLOW) {
#ifdef CUPRUM_HAVE_OTEL
    char url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces",
             m == M_DEAD ? dead_port : slow_port);
    cu_otel_http_opts ho = CU_OTEL_HTTP_OPTS_INIT;
    ho.endpoint = url;
    cu_otel_http *h = NULL;
    if (cu_otel_http_new(&ho, &h) != 0)
      return -1;
    a->http = h;
    to.export_fn = cu_otel_http_export;
    to.export_data = h;
#else
    return -1;
#endif
  } else {
    to.file = "/dev/null";
  }
  if (cu_tracer_new(&to, &a->tracer) != 0 ||
      cu_tracer_attach(a->tracer, NULL) != 0)
    return -1;
  return 0;
}

static void detach(adapters *a) {
  a->tracer = cu_tracer_free(a->tracer);
  a->metrics = cu_metrics_free(a->metrics);
#ifdef CUPRUM_HAVE_OTEL
  a->http = cu_otel_http_free(a->http);
#endif
  if (a->devnull)
    fclose(a->devnull);
}

/* `n` runs of `cmd` under mode `m`; seconds spent in the runs only (the
 * tracer's shutdown flush is not part of any run). */
static double runs(const cu_cmd *cmd, mode m, int n, size_t expect) {
  double t = -1;
  int rc;
  adapters a;
  CU_SCOPE(rc, NULL) {
    if (attach(m, &a) != 0) {
      fprintf(stderr, "telemetry: attach: %s\n", cu_last_error());
      detach(&a);
      return -1;
    }
    double t0 = bu_now();
    for (int i = 0; i < n; i++) {
      cu_result *r = NULL;
      if (cu_run(cmd, NULL, &r) != 0 || !r->ok ||
          (expect && r->out.len != expect)) {
        fprintf(stderr, "telemetry: run failed: %s\n", cu_last_error());
        r = cu_result_free(r);
        detach(&a);
        return -1;
      }
      r = cu_result_free(r);
    }
    t = bu_now() - t0;
  }
  detach(&a);
  return rc == 0 ? t : -1;
}

/* ------------------------------------------------------------- slow */

static int slow_fd = -1;

/* Accept, read the request, answer 200 after 5 s: a collector that is up
 * but slow. One connection at a time, as the exporter sends. */
static void *slow_server(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept4(slow_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
      return NULL;
    char buf[65536];
    (void)!read(c, buf, sizeof buf);
    struct timespec five = {5, 0};
    nanosleep(&five, NULL);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: "
                             "application/json\r\nContent-Length: 2\r\n"
                             "Connection: close\r\n\r\n{}";
    (void)!write(c, ok, sizeof ok - 1);
    close(c);
  }
}

static int listen_port(int *fd_out, bool do_listen) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
      (do_listen && listen(fd, 16) != 0))
    return -1;
  *fd_out = fd;
  return ntohs(a.sin_port);
}

/* ------------------------------------------------------------- main */

/* Unknown arguments are rejected, never taken as the output path. */
static _Noreturn void usage(const char *arg) {
  bool help = !strcmp(arg, "--help") || !strcmp(arg, "-h");
  if (!help)
    fprintf(stderr, "telemetry: unknown argument '%s'\n", arg);
  fputs("usage: telemetry [--runs N] [--reps N] [--mib N] [--lines-only] "
        "[RESULTS.json]\n",
        help ? stdout : stderr);
  exit(help ? 0 : 2);
}

int main(int argc, char **argv) {
  int n = 10000, reps = 7;
  bool lines_only = false;
  size_t mib = 100;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--mib") && i + 1 < argc)
      mib = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--lines-only"))
      lines_only = true;
    else if (argv[i][0] != '-' && argv[i][0] != '\0' && !json)
      json = argv[i];
    else
      usage(argv[i]);
  }
  if (n < ROUNDS || reps < 1 || reps > MAX_REPS || mib < 1)
    return 2;
  cu_cmd *t = NULL;
  if (cu_cmd_new(NULL, CU_TRUE, &t) != 0) {
    fprintf(stderr, "telemetry: %s\n", cu_last_error());
    return 1;
  }
#ifdef CUPRUM_HAVE_OTEL
  int dead_fd = -1; /* bound, never listening: connections are refused */
  dead_port = listen_port(&dead_fd, false);
  slow_port = listen_port(&slow_fd, true);
  pthread_t th;
  if (dead_port < 0 || slow_port < 0 ||
      pthread_create(&th, NULL, slow_server, NULL) != 0)
    return 1;
  const mode row1[] = {M_OFF, M_ALL, M_TRACE, M_DEAD, M_SLOW};
#else
  const mode row1[] = {M_OFF, M_ALL, M_TRACE};
#endif
  const size_t n_modes = sizeof row1 / sizeof *row1;
  double sum[8] = {0};
  /* Rounds interleave the modes; each round runs n / ROUNDS per mode. */
  for (int r = 0; r < ROUNDS && !lines_only; r++)
    for (size_t k = 0; k < n_modes; k++) {
      double s = runs(t, row1[k], n / ROUNDS, 0);
      if (s < 0)
        return 1;
      sum[row1[k]] += s;
    }
  cu_cmd_free(t);

  size_t bytes = (mib << 20) - ((mib << 20) % 80);
  char path[] = "/tmp/cu_bench_telemetry_XXXXXX";
  int fd = mkstemp(path);
  cu_cmd *cat = NULL;
  if (fd < 0 || close(fd) != 0 || bu_make_lines(path, bytes) != 0 ||
      cu_cmd_new(NULL, CU_CAT, &cat) != 0 || cu_cmd_arg(cat, path) != 0)
    return 1;
  double lines[MAX_REPS], all[MAX_REPS];
  for (int i = 0; i < reps; i++) { /* alternate which goes first */
    if (i % 2)
      all[i] = runs(cat, M_LINES_ALL, 1, bytes);
    lines[i] = runs(cat, M_LINES, 1, bytes);
    if (!(i % 2))
      all[i] = runs(cat, M_LINES_ALL, 1, bytes);
    if (lines[i] < 0 || all[i] < 0)
      return 1;
  }
  cu_cmd_free(cat);
  unlink(path);
  qsort(lines, (size_t)reps, sizeof *lines, bu_cmp_double);
  qsort(all, (size_t)reps, sizeof *all, bu_cmp_double);
  double ml = lines[reps / 2], ma = all[reps / 2];

  if (lines_only)
    goto lines_row;
  printf("%d runs of /bin/true, %d interleaved rounds\n", n, ROUNDS);
  printf("  %-40s %8.3f s %7.1f us/run\n", "no adapter", sum[M_OFF],
         sum[M_OFF] / n * 1e6);
  printf("  %-40s %8.3f s %7.1f us/run  %5.3fx (goal <= 1.05x)\n",
         "log + metrics + tracer (file)", sum[M_ALL], sum[M_ALL] / n * 1e6,
         sum[M_ALL] / sum[M_OFF]);
  printf("  %-40s %8.3f s %7.1f us/run  %5.3fx\n", "tracer (file) only",
         sum[M_TRACE], sum[M_TRACE] / n * 1e6, sum[M_TRACE] / sum[M_OFF]);
#ifdef CUPRUM_HAVE_OTEL
  printf("  %-40s %8.3f s %7.1f us/run  %5.3fx of tracer (file)\n",
         "tracer, OTLP/HTTP endpoint dead", sum[M_DEAD], sum[M_DEAD] / n * 1e6,
         sum[M_DEAD] / sum[M_TRACE]);
  printf("  %-40s %8.3f s %7.1f us/run  %5.3fx of tracer (file)\n",
         "tracer, OTLP/HTTP endpoint slow (5 s)", sum[M_SLOW],
         sum[M_SLOW] / n * 1e6, sum[M_SLOW] / sum[M_TRACE]);
#endif
lines_row:
  printf("%zu MiB of 80-byte lines from cat (median of %d)\n", mib, reps);
  printf("  %-40s %8.3f s\n", "no-op line observer", ml);
  printf("  %-40s %8.3f s  %5.3fx (goal <= 1.30x)\n",
         "metrics + tracer with span events", ma, ma / ml);
  if (json && !lines_only) {
    FILE *f = fopen(json, "we");
    if (!f)
      return 1;
    fprintf(f, "{\n  \"benchmark\": \"telemetry\",\n  \"runs\": %d,\n"
               "  \"off_s\": %.6f,\n  \"all_s\": %.6f,\n  \"trace_s\": %.6f,\n"
               "  \"all_ratio\": %.4f,\n",
            n, sum[M_OFF], sum[M_ALL], sum[M_TRACE], sum[M_ALL] / sum[M_OFF]);
#ifdef CUPRUM_HAVE_OTEL
    fprintf(f, "  \"dead_s\": %.6f,\n  \"slow_s\": %.6f,\n"
               "  \"dead_ratio\": %.4f,\n  \"slow_ratio\": %.4f,\n",
            sum[M_DEAD], sum[M_SLOW], sum[M_DEAD] / sum[M_TRACE],
            sum[M_SLOW] / sum[M_TRACE]);
#endif
    fprintf(f, "  \"mib\": %zu,\n  \"reps\": %d,\n  \"lines_s\": %.6f,\n"
               "  \"lines_all_s\": %.6f,\n  \"lines_ratio\": %.4f\n}\n",
            mib, reps, ml, ma, ma / ml);
    fclose(f);
  }
#ifdef CUPRUM_HAVE_OTEL
  shutdown(slow_fd, SHUT_RDWR); /* the server thread's accept fails: done */
  pthread_join(th, NULL);
  close(slow_fd);
  close(dead_fd);
#endif
  return 0;
}
