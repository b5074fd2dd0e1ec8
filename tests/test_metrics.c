/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics: counts from real runs, the exposition format (our
 * own invariants plus promtool's lint), label escaping, bounded series,
 * lock-free updates from many threads, the atomic textfile writer, and the
 * real consumers: node_exporter's textfile collector scraped over HTTP and
 * a Prometheus server answering a PromQL query.
 * ctest-labels: threads
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"
#include "tool_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context/ctx.h"

static cu_metrics *attach(const cu_metrics_opts *o, cu_hook **hook) {
  cu_metrics *m = NULL;
  assert_int_equal(cu_metrics_new(o, &m), 0);
  assert_int_equal(cu_metrics_attach(m, hook), 0);
  return m;
}

static void detach(cu_hook **hook) {
  cu_hook_detach(*hook);
  *hook = cu_hook_unref(*hook);
}

static char *render(const cu_metrics *m) {
  char *s = NULL;
  size_t len = 0;
  assert_int_equal(cu_metrics_render(m, &s, &len), 0);
  assert_int_equal(strlen(s), len);
  return s;
}

static void run_ok(cu_cmd *cmd, const cu_run_opts *o) {
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, o, &r), 0);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
}

/* The sample line "name{labels} value" for the helpers' project. */
static void assert_sample(const char *text, const char *name,
                          const char *program, const char *extra,
                          const char *value) {
  char want[512];
  snprintf(want, sizeof want, "\n%s{program=\"%s\",project=\"test-helpers\"%s}"
           " %s\n", name, program, extra ? extra : "", value);
  if (!strstr(text, want))
    fail_msg("missing %s in:\n%s", want + 1, text);
}

/* Three runs of helpers: two exits (0 and 3) and 26 lines of output. */
static void three_runs(void) {
  run_ok(cut_cmd("exitcode", "0", NULL), NULL);
  cu_result *r = NULL;
  cu_cmd *c = cut_cmd("exitcode", "3", NULL);
  assert_int_equal(cu_run(c, NULL, &r), 0);
  r = cu_result_free(r);
  cu_cmd_free(c);
  run_ok(cut_cmd("writer", "--out", "130", "--err", "39", "--text", NULL),
         NULL);
}

static void test_metrics_count_real_runs(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  char *s = render(m);
  assert_sample(s, "cuprum_executions_total", "exitcode", NULL, "2");
  assert_sample(s, "cuprum_failures_total", "exitcode", NULL, "1");
  assert_sample(s, "cuprum_executions_total", "writer", NULL, "1");
  assert_sample(s, "cuprum_failures_total", "writer", NULL, "0");
  assert_sample(s, "cuprum_stdout_lines_total", "writer", NULL, "10");
  assert_sample(s, "cuprum_stderr_lines_total", "writer", NULL, "3");
  assert_sample(s, "cuprum_duration_seconds_count", "exitcode", NULL, "2");
  assert_sample(s, "cuprum_duration_seconds_bucket", "exitcode",
                ",le=\"+Inf\"", "2");
  assert_sample(s, "cuprum_in_flight", "exitcode", NULL, "0");
  assert_non_null(strstr(s, "\ncuprum_series_dropped_total 0\n"));
  assert_null(strstr(s, "--text")); /* never the argv */
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

/* Our own checks of what promtool does not check. */
static void check_exposition(const char *text) {
  /* One TYPE per family name, HELP before TYPE. */
  char seen[64][96];
  size_t n_seen = 0;
  for (const char *p = text; (p = strstr(p, "# TYPE ")); p++) {
    char name[96];
    assert_int_equal(sscanf(p, "# TYPE %95s", name), 1);
    for (size_t i = 0; i < n_seen; i++)
      assert_string_not_equal(seen[i], name);
    snprintf(seen[n_seen++], sizeof seen[0], "%s", name);
  }
  assert_true(n_seen >= 13);
  /* Each histogram series: buckets non-decreasing, ends with +Inf, whose
   * value equals _count. */
  const char *p = text;
  while ((p = strstr(p, "cuprum_duration_seconds_bucket{"))) {
    unsigned long long prev = 0, v = 0;
    const char *series = p;
    for (;;) {
      const char *le = strstr(p, "le=\"");
      assert_non_null(le);
      const char *val = strstr(le, "} ");
      assert_int_equal(sscanf(val + 2, "%llu", &v), 1);
      assert_true(v >= prev);
      prev = v;
      bool inf = strncmp(le + 4, "+Inf\"", 5) == 0;
      p = strchr(val, '\n') + 1;
      if (inf)
        break;
      assert_int_equal(strncmp(p, "cuprum_duration_seconds_bucket{", 31), 0);
    }
    assert_int_equal(strncmp(p, "cuprum_duration_seconds_sum{", 28), 0);
    p = strchr(p, '\n') + 1;
    assert_int_equal(strncmp(p, "cuprum_duration_seconds_count{", 30), 0);
    unsigned long long count = 0;
    assert_int_equal(sscanf(strstr(p, "} ") + 2, "%llu", &count), 1);
    assert_int_equal(count, v);
    assert_true(p > series);
  }
}

static void test_metrics_exposition_invariants(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  char *s = render(m);
  check_exposition(s);
  assert_non_null(strstr(s, "# HELP cuprum_duration_seconds "));
  assert_non_null(strstr(s, "# TYPE cuprum_duration_seconds histogram\n"));
  assert_non_null(strstr(s, "# TYPE cuprum_in_flight gauge\n"));
  assert_non_null(strstr(s, "le=\"0.001\""));
  assert_non_null(strstr(s, "le=\"3600\""));
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

/* Hand-built events through the runtime's delivery path. */
static void emit(cu_event_phase phase, const char *program, int exit_code,
                 int64_t ns) {
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.phase = phase;
  ev.program = program;
  ev.exit_code = exit_code;
  ev.duration_ns = ns;
  ev.n_stages = 1;
  cu__ctx_emit(ctx, &ev);
  cu__ctx_release(ctx);
}

static void test_metrics_label_escaping_and_redaction(void **state) {
  (void)state;
  const char *pats[] = {"secret*"};
  cu_redact_opts ro = CU_REDACT_OPTS_INIT;
  ro.patterns = pats;
  ro.n_patterns = 1;
  cu_redact *red = NULL;
  assert_int_equal(cu_redact_new(&ro, &red), 0);
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  o.redact = red;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(&o, &hook);
  emit(CU_EV_START, "a\"b\\c\nd", 0, 0);
  emit(CU_EV_START, "secret-tool", 0, 0);
  char *s = render(m);
  assert_non_null(strstr(s, "cuprum_executions_total{program=\"a\\\"b\\\\c"
                            "\\nd\",project=\"\"} 1\n"));
  assert_non_null(strstr(s, "{program=\"***\",project=\"\"} 1\n"));
  assert_null(strstr(s, "secret-tool"));
  free(s);
  detach(&hook);
  cu_metrics_free(m);
  cu_redact_free(red);
}

/* Label values are UTF-8 in the exposition format: program names that are
 * not are written with U+FFFD and share a series once written alike; a
 * program named like the overflow series is counted in it, never a second
 * series with the same labels (both found by fuzz_prom_text). */
static void test_metrics_labels_utf8_and_reserved_other(void **state) {
  (void)state;
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  o.max_series = 2;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(&o, &hook);
  emit(CU_EV_START, "bad\xff", 0, 0);
  emit(CU_EV_START, "bad\xfe", 0, 0);
  emit(CU_EV_START, "_other", 0, 0);
  char *s = render(m);
  assert_non_null(strstr(s, "cuprum_executions_total{program=\"bad\xef\xbf"
                            "\xbd\",project=\"\"} 2\n"));
  assert_null(strchr(s, '\xff'));
  assert_null(strchr(s, '\xfe'));
  assert_non_null(strstr(s, "cuprum_executions_total{program=\"_other\","
                            "project=\"\"} 1\n"));
  assert_non_null(strstr(s, "\ncuprum_series_dropped_total 0\n"));
  free(s);
  emit(CU_EV_START, "late", 0, 0); /* fills the table */
  emit(CU_EV_START, "later", 0, 0); /* dropped */
  s = render(m);
  const char *first = strstr(s, "cuprum_executions_total{program=\"_other\"");
  assert_non_null(first);
  assert_null(strstr(first + 1, "cuprum_executions_total{program=\"_other\""));
  assert_non_null(strstr(s, "cuprum_executions_total{program=\"_other\","
                            "project=\"\"} 2\n"));
  assert_non_null(strstr(s, "\ncuprum_series_dropped_total 1\n"));
  check_exposition(s);
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

static void test_metrics_custom_buckets(void **state) {
  (void)state;
  const double b[] = {0.5, 2};
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  o.buckets = b;
  o.n_buckets = 2;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(&o, &hook);
  emit(CU_EV_EXIT, "p", 0, 100000000);   /* 0.1 s */
  emit(CU_EV_EXIT, "p", 1, 1000000000);  /* 1 s */
  emit(CU_EV_EXIT, "p", 0, 5000000000);  /* 5 s */
  char *s = render(m);
  assert_non_null(strstr(s, "_bucket{program=\"p\",project=\"\",le=\"0.5\"} 1\n"
                            "cuprum_duration_seconds_bucket{program=\"p\","
                            "project=\"\",le=\"2\"} 2\n"
                            "cuprum_duration_seconds_bucket{program=\"p\","
                            "project=\"\",le=\"+Inf\"} 3\n"
                            "cuprum_duration_seconds_sum{program=\"p\","
                            "project=\"\"} 6.100000000\n"));
  assert_non_null(strstr(s, "cuprum_failures_total{program=\"p\","
                            "project=\"\"} 1\n"));
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

static void test_metrics_bad_options(void **state) {
  (void)state;
  cu_metrics *m = NULL;
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  const double bad[] = {1, 1};
  o.buckets = bad;
  o.n_buckets = 2;
  assert_int_equal(cu_metrics_new(&o, &m), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "bucket 1"));
  o = (cu_metrics_opts){.size = 3};
  assert_int_equal(cu_metrics_new(&o, &m), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_METRICS_OPTS_INIT"));
  assert_null(m);
  assert_int_equal(cu_metrics_attach(NULL, NULL), CU_EINVAL);
  assert_int_equal(cu_metrics_render(NULL, NULL, NULL), CU_EINVAL);
}

static void test_metrics_series_bounded(void **state) {
  (void)state;
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  o.max_series = 2;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(&o, &hook);
  char name[32];
  for (int i = 0; i < 50; i++) {
    snprintf(name, sizeof name, "prog%d", i);
    emit(CU_EV_START, name, 0, 0);
  }
  char *s = render(m);
  assert_non_null(strstr(s, "cuprum_executions_total{program=\"_other\","
                            "project=\"\"} 48\n"));
  assert_non_null(strstr(s, "\ncuprum_series_dropped_total 48\n"));
  assert_null(strstr(s, "prog2\""));
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

/* ------------------------------------------------------------- threads */

#define THREADS 4
#define PER_THREAD 20000

struct thr {
  cu__ctx *ctx;
  int id;
};

static void *hammer(void *arg) {
  struct thr *t = arg;
  char name[16];
  snprintf(name, sizeof name, "p%d", t->id % 2); /* shared series */
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.program = name;
  ev.n_stages = 1;
  for (int i = 0; i < PER_THREAD; i++) {
    ev.phase = CU_EV_STDOUT_LINE;
    cu__ctx_emit(t->ctx, &ev);
    ev.phase = CU_EV_START;
    cu__ctx_emit(t->ctx, &ev);
    ev.phase = CU_EV_EXIT;
    ev.duration_ns = i;
    cu__ctx_emit(t->ctx, &ev);
  }
  return NULL;
}

static void *renderer(void *arg) {
  const cu_metrics *m = arg;
  for (int i = 0; i < 50; i++) {
    char *s = NULL;
    if (cu_metrics_render(m, &s, NULL) == 0)
      check_exposition(s);
    free(s);
  }
  return NULL;
}

static void test_metrics_concurrent_updates_exact(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  pthread_t th[THREADS], r;
  struct thr t[THREADS];
  assert_int_equal(pthread_create(&r, NULL, renderer, m), 0);
  for (int i = 0; i < THREADS; i++) {
    t[i] = (struct thr){ctx, i};
    assert_int_equal(pthread_create(&th[i], NULL, hammer, &t[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  pthread_join(r, NULL);
  cu__ctx_release(ctx);
  char *s = render(m);
  char want[128];
  for (int p = 0; p < 2; p++) {
    snprintf(want, sizeof want, "cuprum_stdout_lines_total{program=\"p%d\","
             "project=\"\"} %d\n", p, PER_THREAD * THREADS / 2);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "cuprum_duration_seconds_count{program=\"p%d\","
             "project=\"\"} %d\n", p, PER_THREAD * THREADS / 2);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "cuprum_in_flight{program=\"p%d\","
             "project=\"\"} 0\n", p);
    assert_non_null(strstr(s, want));
  }
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

/* ------------------------------------------------------------- signals */

static void test_metrics_timeout_signals_spawn_failure(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  /* The timeout leaves the sleeper time to ignore SIGTERM even on a
   * loaded machine (the build's slack on top), so the KILL really is
   * needed. */
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.timeout_ms = cut_after_start_ms(200);
  o.grace_ms = 50;
  cu_result *r = NULL;
  cu_cmd *c = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  assert_int_equal(cu_run(c, &o, &r), 0);
  assert_true(r->timed_out);
  r = cu_result_free(r);
  cu_cmd_free(c);
  cut_tool t;
  cut_tool_make(&t, "#!/nonexistent/interpreter\n");
  /* Removed after resolution: the spawn reports ENOENT (valgrind, too,
   * can report that; an exec failing inside the kernel kills it). */
  unlink(t.path);
  assert_int_equal(cu_run(t.cmd, NULL, &r), CU_ENOTFOUND);
  r = cu_result_free(r);
  char *s = render(m);
  assert_sample(s, "cuprum_timeouts_total", "sleeper", NULL, "1");
  assert_sample(s, "cuprum_signals_sent_total", "sleeper",
                ",signal=\"TERM\"", "1");
  assert_sample(s, "cuprum_signals_sent_total", "sleeper",
                ",signal=\"KILL\"", "1");
  assert_sample(s, "cuprum_failures_total", "sleeper", NULL, "1");
  assert_non_null(strstr(s, "cuprum_spawn_failures_total{program=\"tool\","));
  assert_non_null(strstr(s, ",reason=\"ENOTFOUND\"} 1\n"));
  free(s);
  cut_tool_free(&t);
  detach(&hook);
  cu_metrics_free(m);
}

/* CPU time from the kernel's rusage of each reaped command, by mode: a
 * helper that burns 300 ms of CPU shows at least most of it. */
static void test_metrics_cpu_seconds(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  run_ok(cut_cmd("hog", "cpu", "300", NULL), NULL);
  char *s = render(m);
  const char *want = "\ncuprum_command_cpu_seconds_total{program=\"hog\","
                     "project=\"test-helpers\",mode=\"user\"} ";
  const char *p = strstr(s, want);
  if (!p)
    fail_msg("missing %s in:\n%s", want + 1, s);
  double user = strtod(p + strlen(want), NULL);
  assert_true(strstr(s, "project=\"test-helpers\",mode=\"system\"} ") != NULL);
  assert_non_null(strstr(s, "# TYPE cuprum_command_cpu_seconds_total counter"));
  free(s);
  if (user < 0.15)
    fail_msg("user CPU %.6f s for a 300 ms burn", user);
  detach(&hook);
  cu_metrics_free(m);
}

/* stdin fed to a child, and a stdin the child refused (EPIPE). */
static void test_metrics_stdin_bytes_and_errors(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  static char big[1 << 20];
  memset(big, 'x', sizeof big);
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .in = {.mode = CU_STDIN_BYTES, .data = "hello\n",
                          .len = 6}};
  run_ok(cut_cmd("echoer", NULL), &o);
  /* exitcode never reads: feeding 1 MiB hits a closed pipe. */
  o.in = (cu_stdin_opts){.mode = CU_STDIN_BYTES, .data = big,
                         .len = sizeof big};
  run_ok(cut_cmd("exitcode", "0", NULL), &o);
  char *s = render(m);
  assert_sample(s, "cuprum_stdin_bytes_total", "echoer", NULL, "6");
  assert_sample(s, "cuprum_stdin_errors_total", "exitcode", NULL, "1");
  free(s);
  detach(&hook);
  cu_metrics_free(m);
}

/* ------------------------------------------------------------- textfile */

static void test_metrics_textfile_atomic(void **state) {
  (void)state;
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  char *dir = tu_tempdir("metrics");
  char path[512];
  snprintf(path, sizeof path, "%s/cuprum.prom", dir);
  int fds = cut_fd_count();
  mode_t old = umask(077);
  assert_int_equal(cu_metrics_write_textfile(m, path), 0);
  umask(old);
  assert_int_equal(cut_fd_count(), fds);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  char *want = render(m);
  FILE *f = fopen(path, "re");
  char *got = calloc(1, (size_t)st.st_size + 1);
  assert_int_equal(fread(got, 1, (size_t)st.st_size, f), (size_t)st.st_size);
  fclose(f);
  assert_string_equal(got, want);
  /* Nothing else in the directory: the temporary file was renamed. */
  char *argv[] = {"/bin/ls", "-A", dir, NULL};
  char *ls = NULL;
  tu_run(argv, NULL, &ls, 0);
  assert_string_equal(ls, "cuprum.prom\n");
  free(ls);
  /* An unwritable place: CU_EIO naming the file, nothing left behind. */
  snprintf(path, sizeof path, "%s/missing/cuprum.prom", dir);
  assert_int_equal(cu_metrics_write_textfile(m, path), CU_EIO);
  assert_non_null(strstr(cu_last_error(), "missing/cuprum.prom"));
  assert_int_equal(cut_fd_count(), fds);
  free(got);
  free(want);
  tu_rmtree(dir);
  free(dir);
  detach(&hook);
  cu_metrics_free(m);
}

/* ------------------------------------------------------------- tools */

static const char *tool_or_skip(const char *name) {
  const char *p = tu_which(name);
  if (!p) {
    print_message("SKIP: %s is not installed (scripts/deps.sh test installs "
                  "it)\n", name);
    return NULL;
  }
  return strdup(p);
}

static void test_metrics_promtool_check(void **state) {
  (void)state;
  const char *promtool = tool_or_skip("promtool");
  if (!promtool)
    skip();
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  emit(CU_EV_START, "odd \"name\"\\", 0, 0);
  char *dir = tu_tempdir("promtool");
  char path[512];
  snprintf(path, sizeof path, "%s/m.prom", dir);
  assert_int_equal(cu_metrics_write_textfile(m, path), 0);
  char *argv[] = {(char *)promtool, "check", "metrics", NULL};
  char *out = NULL;
  int st = tu_run(argv, path, &out, 1);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || out[0])
    fail_msg("promtool check metrics failed (%d):\n%s", st, out);
  free(out);
  tu_rmtree(dir);
  free(dir);
  free((char *)promtool);
  detach(&hook);
  cu_metrics_free(m);
}

/* Poll until `fn` says done; each try is an HTTP round trip (an event),
 * bounded so a broken daemon fails the test instead of hanging it. */
static int wait_for_scrape(int port, const char *path, const char *needle,
                           int tries, char **ret) {
  for (int i = 0; i < tries; i++) {
    char *body = NULL;
    if (tu_http_get(port, path, &body) == 0 && strstr(body, needle)) {
      *ret = body;
      return 0;
    }
    free(body);
    usleep(100000);
  }
  return -1;
}

static pid_t start_node_exporter(const char *bin, const char *dir, int port) {
  char listen[64], textdir[600], log[600];
  snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
  snprintf(textdir, sizeof textdir, "--collector.textfile.directory=%s", dir);
  snprintf(log, sizeof log, "%s/node_exporter.log", dir);
  char *argv[] = {(char *)bin, listen, "--collector.disable-defaults",
                  "--collector.textfile", textdir, NULL};
  return tu_start(argv, log);
}

static void test_metrics_node_exporter_textfile(void **state) {
  (void)state;
  const char *bin = tool_or_skip("prometheus-node-exporter");
  if (!bin)
    skip();
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  char *dir = tu_tempdir("nodeexp");
  char path[512];
  snprintf(path, sizeof path, "%s/cuprum.prom", dir);
  assert_int_equal(cu_metrics_write_textfile(m, path), 0);
  int port = tu_free_port();
  pid_t pid = start_node_exporter(bin, dir, port);
  assert_true(pid > 0);
  char *body = NULL;
  int rc = wait_for_scrape(port, "/metrics",
                           "cuprum_executions_total{program=\"exitcode\"",
                           300, &body);
  tu_stop(pid);
  if (rc != 0)
    fail_msg("node_exporter on port %d never served our metrics", port);
  assert_non_null(strstr(body, "cuprum_executions_total{program=\"exitcode\","
                               "project=\"test-helpers\"} 2\n"));
  assert_non_null(strstr(body, "cuprum_stdout_lines_total{program=\"writer\","
                               "project=\"test-helpers\"} 10\n"));
  /* node_exporter reports a file it could not parse as an error. */
  assert_non_null(strstr(body, "node_textfile_scrape_error 0\n"));
  free(body);
  tu_rmtree(dir);
  free(dir);
  free((char *)bin);
  detach(&hook);
  cu_metrics_free(m);
}

static void test_metrics_prometheus_query_end_to_end(void **state) {
  (void)state;
  const char *ne = tool_or_skip("prometheus-node-exporter");
  const char *prom = tool_or_skip("prometheus");
  if (!ne || !prom)
    skip();
  cu_hook *hook = NULL;
  cu_metrics *m = attach(NULL, &hook);
  three_runs();
  run_ok(cut_cmd("exitcode", "0", NULL), NULL);
  char *dir = tu_tempdir("prom");
  char path[512], cfg[512], data[512], log[512];
  snprintf(path, sizeof path, "%s/cuprum.prom", dir);
  assert_int_equal(cu_metrics_write_textfile(m, path), 0);
  int ne_port = tu_free_port();
  pid_t ne_pid = start_node_exporter(ne, dir, ne_port);
  snprintf(cfg, sizeof cfg, "%s/prometheus.yml", dir);
  FILE *f = fopen(cfg, "we");
  fprintf(f, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: cuprum\n    static_configs:\n"
             "      - targets: ['127.0.0.1:%d']\n", ne_port);
  fclose(f);
  snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", dir);
  snprintf(log, sizeof log, "%s/prometheus.log", dir);
  char cfg_arg[600], listen[64];
  snprintf(cfg_arg, sizeof cfg_arg, "--config.file=%s", cfg);
  int port = tu_free_port();
  snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
  char *argv[] = {(char *)prom, cfg_arg, data, listen, NULL};
  pid_t pid = tu_start(argv, log);
  char *body = NULL;
  /* The query answers once a scrape has landed: up to ~60 s of 100 ms
   * polls covers start-up on a loaded machine. */
  int rc = wait_for_scrape(
      port,
      "/api/v1/query?query=sum(cuprum_executions_total{program=\"exitcode\"})",
      "\"3\"]", 600, &body);
  char *fails = NULL;
  if (rc == 0)
    rc = wait_for_scrape(port,
                         "/api/v1/query?query=cuprum_failures_total{program="
                         "\"exitcode\",project=\"test-helpers\"}",
                         "\"1\"]", 50, &fails);
  tu_stop(pid);
  tu_stop(ne_pid);
  if (rc != 0)
    fail_msg("Prometheus on port %d never returned the expected counts; "
             "see %s", port, log);
  assert_non_null(strstr(body, "\"status\":\"success\""));
  free(body);
  free(fails);
  tu_rmtree(dir);
  free(dir);
  free((char *)ne);
  free((char *)prom);
  detach(&hook);
  cu_metrics_free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_metrics_count_real_runs),
    cmocka_unit_test(test_metrics_exposition_invariants),
    cmocka_unit_test(test_metrics_label_escaping_and_redaction),
    cmocka_unit_test(test_metrics_labels_utf8_and_reserved_other),
    cmocka_unit_test(test_metrics_custom_buckets),
    cmocka_unit_test(test_metrics_bad_options),
    cmocka_unit_test(test_metrics_series_bounded),
    cmocka_unit_test(test_metrics_concurrent_updates_exact),
    cmocka_unit_test(test_metrics_timeout_signals_spawn_failure),
    cmocka_unit_test(test_metrics_cpu_seconds),
    cmocka_unit_test(test_metrics_stdin_bytes_and_errors),
    cmocka_unit_test(test_metrics_textfile_atomic),
    cmocka_unit_test(test_metrics_promtool_check),
    cmocka_unit_test(test_metrics_node_exporter_textfile),
    cmocka_unit_test(test_metrics_prometheus_query_end_to_end),
};

CU_TEST_MAIN(tests)
