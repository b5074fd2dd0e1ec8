/* SPDX-License-Identifier: MIT */
/*
 * Soak and scale (`make soak`, docs/reliability.md): long runs of the
 * library's main paths, recording open fds, children (running or zombie),
 * RSS and wall time before and after each phase.
 *
 *   soak [--scale F] [--out FILE.json]
 *
 * Phases (sizes at scale 1):
 *   seq        100,000 sequential runs of `true`
 *   batch-1, batch-64, batch-unlimited
 *              10,000 `true` items through cu_parallel_run at each limit
 *   pipelines  1,000 concurrent 4-stage pipelines (echo | cat | cat | cat)
 *   threads    64 threads x 1,000 runs; every 50th run of each thread is a
 *              `sleep 30` cancelled from another thread
 *   bigio      10 GiB through `yes LINE | head -c N | cat` with a line
 *              observer
 * Each phase runs twice; goal: no growth in fds or children, RSS growth
 * from the end of the first run to the end of the second under 1 MiB, no
 * failure. Exit status 1 when a phase fails or a goal is
 * missed.
 */
#include <dirent.h>
#include <malloc.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuprum/cuprum.h>

#include "bench_util.h"
#include "proc_census.h"

typedef struct gauge {
  int fds, children;
  long rss_kib, heap_used_kib, heap_free_kib;
  double t;
} gauge;

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6))
      v = strtol(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

static gauge measure(void) {
  struct mallinfo2 mi = mallinfo2(); /* glibc: the main arena and others */
  return (gauge){census_fds(), census_children(), rss_kib(),
                 (long)(mi.uordblks / 1024), (long)(mi.fordblks / 1024),
                 bu_now()};
}

static cu_cmd *cmd_of(cu_program p, ...) {
  cu_cmd *c = NULL;
  if (cu_cmd_new(NULL, p, &c) < 0) {
    fprintf(stderr, "soak: %s\n", cu_last_error());
    exit(2);
  }
  va_list ap;
  va_start(ap, p);
  if (cu_cmd_vargs(c, ap) < 0) {
    fprintf(stderr, "soak: %s\n", cu_last_error());
    exit(2);
  }
  va_end(ap);
  return c;
}

/* Say why a run failed (the first few per phase run; the count is in the
 * table either way). */
static _Atomic int reported;
static void why(const char *phase, int rc, const cu_result *r) {
  if (atomic_fetch_add(&reported, 1) >= 5)
    return;
  if (rc < 0)
    fprintf(stderr, "soak: %s: %s: %s\n", phase, cu_err_name(rc),
            cu_last_error());
  else if (r)
    fprintf(stderr,
            "soak: %s: exit %d, signal %d, timed out %d, cancelled %d, "
            "error %s\n",
            phase, r->exit_code, r->term_signal, r->timed_out, r->cancelled,
            r->error ? cu_err_name(r->error) : "none");
}

static long scaled(double scale, long n) {
  long v = (long)((double)n * scale);
  return v < 1 ? 1 : v;
}

/* ------------------------------------------------------------- phases */

static int ph_seq(double scale) {
  cu_cmd *c = cmd_of(CU_TRUE, (char *)NULL);
  int failures = 0;
  for (long i = 0; i < scaled(scale, 100000); i++) {
    cu_result *r = NULL;
    int rc = cu_run(c, NULL, &r);
    if (rc < 0 || !r->ok) {
      failures++;
      why("seq", rc, r);
    }
    r = cu_result_free(r);
  }
  cu_cmd_free(c);
  return failures;
}

static int batch(long n, unsigned limit) {
  cu_cmd *c = cmd_of(CU_TRUE, (char *)NULL);
  cu_batch_item *items = calloc((size_t)n, sizeof *items);
  for (long i = 0; i < n; i++)
    items[i].cmd = c;
  cu_parallel_opts po = CU_PARALLEL_OPTS_INIT;
  po.limit = limit;
  cu_parallel_result *r = NULL;
  int failures = 0;
  if (cu_parallel_run(items, (size_t)n, &po, &r) < 0) {
    fprintf(stderr, "soak: batch: %s\n", cu_last_error());
    failures = (int)n;
  } else {
    failures = (int)r->n_failed;
    for (size_t i = 0; i < r->n_items && failures; i++)
      if (!r->items[i]->ok && r->items[i]->message &&
          atomic_fetch_add(&reported, 1) < 5)
        fprintf(stderr, "soak: batch item %zu: %s\n", i,
                r->items[i]->message);
      else if (!r->items[i]->ok)
        why("batch", 0, r->items[i]->result);
  }
  r = cu_parallel_result_free(r);
  free(items);
  cu_cmd_free(c);
  return failures;
}

static int ph_batch1(double s) { return batch(scaled(s, 10000), 1); }
static int ph_batch64(double s) { return batch(scaled(s, 10000), 64); }
static int ph_batch0(double s) { return batch(scaled(s, 10000), 0); }

static int ph_pipelines(double scale) {
  long n = scaled(scale, 1000);
  cu_cmd *e = cmd_of(CU_ECHO, "soak", (char *)NULL), *c = cmd_of(CU_CAT, (char *)NULL);
  cu_pipeline *p = NULL;
  if (cu_pipeline_of(&p, e, c, c, c, (cu_cmd *)NULL) < 0) {
    fprintf(stderr, "soak: %s\n", cu_last_error());
    return (int)n;
  }
  cu_batch_item *items = calloc((size_t)n, sizeof *items);
  for (long i = 0; i < n; i++)
    items[i].pipeline = p;
  cu_parallel_opts po = CU_PARALLEL_OPTS_INIT;
  cu_parallel_result *r = NULL;
  int failures = 0;
  if (cu_parallel_run(items, (size_t)n, &po, &r) < 0) {
    fprintf(stderr, "soak: pipelines: %s\n", cu_last_error());
    failures = (int)n;
  } else {
    for (size_t i = 0; i < r->n_items; i++)
      failures += !r->items[i]->ok ||
                  strcmp(r->items[i]->pipeline->stages[3]->out.data, "soak\n");
  }
  r = cu_parallel_result_free(r);
  free(items);
  cu_pipeline_free(p);
  cu_cmd_free(e);
  cu_cmd_free(c);
  return failures;
}

enum { NTHREADS = 64 };
static _Atomic(cu_cancel *) slots[NTHREADS];
static long per_thread;
static _Atomic int thread_failures;
static _Atomic int workers_left;

static void *thread_main(void *arg) {
  int me = (int)(intptr_t)arg;
  cu_cmd *t = cmd_of(CU_TRUE, (char *)NULL), *s = cmd_of(CU_SLEEP, "30", (char *)NULL);
  for (long j = 0; j < per_thread; j++) {
    cu_result *r = NULL;
    if (j % 50 == 49) {
      cu_cancel *mine = NULL;
      if (cu_cancel_new(&mine) < 0) {
        atomic_fetch_add(&thread_failures, 1);
        continue;
      }
      cu_run_opts o = CU_RUN_OPTS_INIT;
      o.cancel = mine;
      o.timeout_ms = 60000; /* a backstop if nobody cancels */
      o.grace_ms = 100;
      atomic_store(&slots[me], mine);
      int rc = cu_run(s, &o, &r);
      /* Take the token back; if the canceller already took it, it has
       * triggered it (or will, at once) — wait for that. */
      if (!atomic_exchange(&slots[me], NULL))
        while (!cu_cancel_triggered(mine))
          usleep(100);
      /* Cancelled while running, or (the canceller was quicker than the
       * spawn) refused with CU_ECANCELED before anything started: both are
       * the documented outcome of a cancel. */
      if (rc != CU_ECANCELED && (rc < 0 || !r->cancelled)) {
        atomic_fetch_add(&thread_failures, 1);
        why("threads (cancelled sleep)", rc, r);
      }
      cu_cancel_free(mine);
    } else {
      int rc = cu_run(t, NULL, &r);
      if (rc < 0 || !r->ok) {
        atomic_fetch_add(&thread_failures, 1);
        why("threads (true)", rc, r);
      }
    }
    r = cu_result_free(r);
  }
  cu_cmd_free(t);
  cu_cmd_free(s);
  atomic_fetch_sub(&workers_left, 1);
  return NULL;
}

static int ph_threads(double scale) {
  per_thread = scaled(scale, 1000);
  atomic_store(&thread_failures, 0);
  pthread_t th[NTHREADS];
  atomic_store(&workers_left, NTHREADS);
  for (int i = 0; i < NTHREADS; i++)
    pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i);
  /* This thread cancels the workers' long runs from outside while they
   * run their short ones. */
  while (atomic_load(&workers_left) > 0) {
    for (int i = 0; i < NTHREADS; i++) {
      cu_cancel *c = atomic_exchange(&slots[i], NULL);
      if (c)
        cu_cancel_trigger(c);
    }
    usleep(2000);
  }
  for (int i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  return atomic_load(&thread_failures);
}

static _Atomic uint64_t lines_seen;
static int on_line(void *ud, const cu_event *ev) {
  (void)ud;
  if (ev->phase == CU_EV_STDOUT_LINE)
    atomic_fetch_add_explicit(&lines_seen, 1, memory_order_relaxed);
  return 0;
}

static int ph_bigio(double scale) {
  atomic_store(&lines_seen, 0);
  unsigned long long bytes = (unsigned long long)(10737418240.0 * scale);
  static char line[4096];
  memset(line, 'x', sizeof line - 1);
  char count[32];
  snprintf(count, sizeof count, "%llu", bytes);
  cu_cmd *y = cmd_of(CU_YES, line, (char *)NULL),
         *h = cmd_of(CU_HEAD, "-c", count, (char *)NULL),
         *c = cmd_of(CU_CAT, (char *)NULL);
  cu_pipeline *p = NULL;
  cu_hook *hook = NULL;
  int failures = 0;
  if (cu_pipeline_of(&p, y, h, c, (cu_cmd *)NULL) < 0 ||
      cu_observe(on_line, NULL, CU_OBSERVE_LINES, &hook) < 0) {
    fprintf(stderr, "soak: bigio: %s\n", cu_last_error());
    return 1;
  }
  cu_run_opts ro = CU_RUN_OPTS_INIT;
  ro.out.mode = CU_STREAM_ECHO;
  ro.out.echo_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
  po.run = &ro;
  po.sigpipe_is_failure = false;
  cu_pipeline_result *r = NULL;
  if (cu_pipeline_run(p, &po, &r) < 0 || !r->ok)
    failures = 1;
  uint64_t want = bytes / sizeof line;
  if (atomic_load(&lines_seen) < want) {
    fprintf(stderr, "soak: bigio: %llu lines seen, %llu expected\n",
            (unsigned long long)atomic_load(&lines_seen),
            (unsigned long long)want);
    failures = 1;
  }
  close(ro.out.echo_fd);
  r = cu_pipeline_result_free(r);
  hook = cu_hook_unref(hook);
  cu_pipeline_free(p);
  cu_cmd_free(y);
  cu_cmd_free(h);
  cu_cmd_free(c);
  return failures;
}

static const struct {
  const char *name;
  int (*fn)(double);
} phases[] = {{"seq", ph_seq},           {"batch-1", ph_batch1},
              {"batch-64", ph_batch64},  {"batch-unlimited", ph_batch0},
              {"pipelines", ph_pipelines}, {"threads", ph_threads},
              {"bigio", ph_bigio}};

int main(int argc, char **argv) {
  double scale = 1;
  const char *out = NULL, *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--scale") && i + 1 < argc)
      scale = atof(argv[++i]);
    else if (!strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr, "usage: soak [--scale F] [--only PHASE] [--out FILE]\n");
      return 2;
    }
  }
  if (scale <= 0) {
    fprintf(stderr, "soak: --scale must be > 0\n");
    return 2;
  }
  FILE *json = out ? fopen(out, "we") : NULL;
  /* Warm-up: lazy set-up, malloc arenas, the default catalogue. */
  ph_seq(0.01);
  (void)batch(100, 8);
  gauge base = measure();
  (void)base.rss_kib;
  int status = 0;
  printf("%-16s %8s %7s %6s %9s %9s %9s %9s %9s %8s\n", "phase",
         "failures", "fds", "child", "rss_start", "rss_end", "rss_grow",
         "heap_use", "heap_free", "wall_s");
  for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
    if (only && strcmp(only, phases[i].name))
      continue;
    /* Twice: the first run reaches the phase's high-water mark, the
     * second shows growth beyond it, which is what a leak or
     * fragmentation that builds up looks like. */
    gauge a0 = measure();
    int f = phases[i].fn(scale);
    gauge a = measure();
    f += phases[i].fn(scale);
    gauge b = measure();
    long grow = b.rss_kib - a.rss_kib;
    bool bad = f || b.fds != base.fds || b.children != 0 || grow >= 1024;
    status |= bad;
    printf("%-16s %8d %3d>%-3d %6d %9ld %9ld %9ld %9ld %9ld %8.1f%s\n",
           phases[i].name, f, a0.fds, b.fds, b.children, a0.rss_kib,
           b.rss_kib, grow,
           b.heap_used_kib, b.heap_free_kib, b.t - a0.t, bad ? "  FAIL" : "");
    fflush(stdout);
    if (json)
      fprintf(json,
              "{\"phase\":\"%s\",\"scale\":%g,\"failures\":%d,"
              "\"fds_before\":%d,\"fds_after\":%d,"
              "\"children_before\":%d,\"children_after\":%d,"
              "\"rss_kib_before\":%ld,\"rss_kib_after_first\":%ld,"
              "\"rss_kib_after\":%ld,\"rss_growth_kib\":%ld,"
              "\"heap_used_kib\":%ld,\"heap_free_kib\":%ld,"
              "\"wall_s_first\":%.3f,\"wall_s\":%.3f}\n",
              phases[i].name, scale, f, a0.fds, b.fds, a0.children,
              b.children, a0.rss_kib, a.rss_kib, b.rss_kib, grow,
              b.heap_used_kib, b.heap_free_kib, a.t - a0.t, b.t - a0.t);
    fflush(json);
  }
  if (json)
    fclose(json);
  return status;
}
