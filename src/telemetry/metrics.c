/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics (cuprum/metrics.h): an observer updating per-(program,
 * project) series of atomic counters, the text exposition renderer, and the
 * atomic textfile writer.
 *
 * The series table is open addressing over atomic pointers: a lookup never
 * locks; inserting a new pair takes `insert_mu` (once per pair for the life
 * of the metrics), so a run's output lines never contend on a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fmt.h"
#include "context/redact_int.h"
#include "context/scope.h"
#include "cuprum/metrics.h"

#define NREASONS 32 /* spawn failure reasons: index = -CU_E*, 0 = other */
#define DEFAULT_MAX_SERIES 256

typedef atomic_uint_fast64_t counter;

struct series {
  char *program;
  char *project;
  uint64_t hash;
  counter executions, failures, out_lines, err_lines, stdin_bytes,
      stdin_errors, timeouts, cancels, term_sent, kill_sent, dur_count,
      dur_sum_ns, cpu_user_us, cpu_sys_us;
  atomic_int_fast64_t in_flight;
  counter spawn_failed[NREASONS];
  counter buckets[]; /* per bucket, not cumulative; +Inf is dur_count */
};

struct cu_metrics {
  atomic_uint refs;
  uint64_t id; /* unique for the process's life: keys the line cache */
  double bounds[CU_METRICS_MAX_BUCKETS];
  size_t n_bounds;
  size_t max_series;
  size_t cap; /* power of two, >= 2 * max_series */
  _Atomic(struct series *) *slots;
  pthread_mutex_t insert_mu;
  size_t n_series; /* guarded by insert_mu */
  struct series *other;
  counter dropped;
  atomic_bool other_used; /* a real pair named like the overflow series */
  bool no_lines;
  const cu_redact *redact;
};

/* 1 ms to 1 h: sub-second tools through long builds and backups. */
static const double default_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,  0.5,  1,     2.5,
                                        5,     10,    30,   60,    300,
                                        900,   1800,  3600};

/* ------------------------------------------------------------- series */

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL; /* separator: ("ab","") != ("a","b") */
}

static struct series *series_new(const cu_metrics *m, const char *program,
                                 const char *project, uint64_t hash) {
  struct series *s = calloc(1, sizeof *s + m->n_bounds * sizeof(counter));
  if (!s)
    return NULL;
  s->program = cu__strdup(program);
  s->project = cu__strdup(project);
  if (!s->program || !s->project) {
    free(s->program);
    free(s->project);
    free(s);
    return NULL;
  }
  s->hash = hash; /* counters: calloc'd zero is a valid atomic zero */
  return s;
}

static void series_free(struct series *s) {
  if (!s)
    return;
  free(s->program);
  free(s->project);
  free(s);
}

static bool series_is(const struct series *s, uint64_t h, const char *program,
                      const char *project) {
  return s->hash == h && strcmp(s->program, program) == 0 &&
         strcmp(s->project, project) == 0;
}

/* Slow path: insert under the mutex (another thread may have won). */
static struct series *series_insert(cu_metrics *m, uint64_t h,
                                    const char *program, const char *project) {
  pthread_mutex_lock(&m->insert_mu);
  struct series *found = NULL;
  size_t i = h & (m->cap - 1);
  for (;; i = (i + 1) & (m->cap - 1)) {
    struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
    if (!s)
      break;
    if (series_is(s, h, program, project)) {
      found = s;
      break;
    }
  }
  if (!found && m->n_series < m->max_series &&
      (found = series_new(m, program, project, h))) {
    atomic_store_explicit(&m->slots[i], found, memory_order_release);
    m->n_series++;
  }
  pthread_mutex_unlock(&m->insert_mu);
  if (!found) { /* full (or out of memory): bounded cardinality wins */
    atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed);
    found = m->other;
  }
  return found;
}

static atomic_uint_fast64_t metrics_ids;

/* A stage's line events all carry the same program and project pointers:
 * the thread's last lookup is remembered so a line costs two pointer
 * compares instead of a hash. Keyed by the metrics' unique id (never its
 * address, which a later cu_metrics_new() may reuse). */
static _Thread_local struct {
  uint64_t id;
  const char *program;
  const cu_project *project;
  struct series *s;
} line_cache;

static struct series *series_lookup(cu_metrics *m, const cu_event *ev);

static struct series *series_get(cu_metrics *m, const cu_event *ev) {
  if (m->redact) /* the label may differ from the name: no shortcut */
    return series_lookup(m, ev);
  if (line_cache.id == m->id && line_cache.program == ev->program &&
      line_cache.project == ev->project && ev->program &&
      strcmp(line_cache.s->program, ev->program) == 0 &&
      strcmp(line_cache.s->project,
             ev->project ? cu_project_name(ev->project) : "") == 0)
    return line_cache.s; /* names compared too: a freed catalogue's
                            address may come back as another project */
  struct series *s = series_lookup(m, ev);
  if (s != m->other)
    line_cache.id = m->id, line_cache.program = ev->program,
    line_cache.project = ev->project, line_cache.s = s;
  return s;
}

/* The overflow series' labels: a real pair equal to them is counted in
 * that series (two samples with one label set would fail the scrape). */
static const char other_program[] = "_other";

static struct series *series_find(cu_metrics *m, const char *program,
                                  const char *project) {
  if (strcmp(program, other_program) == 0 && !*project) {
    atomic_store_explicit(&m->other_used, true, memory_order_relaxed);
    return m->other;
  }
  uint64_t h = fnv(fnv(14695981039346656037ULL, program), project);
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
    if (!s)
      return series_insert(m, h, program, project);
    if (series_is(s, h, program, project))
      return s;
  }
}

/* Label values are UTF-8 in the exposition format (a scrape of anything
 * else fails): a name with bytes that are not is looked up, and written,
 * with each such byte as U+FFFD, so "a\xff" and "a\xfe" share a series. */
static struct series *series_lookup(cu_metrics *m, const cu_event *ev) {
  const char *program = cu__redact_label(m->redact, ev->program);
  if (!program)
    program = "";
  const char *project = ev->project ? cu_project_name(ev->project) : "";
  char *prog_copy = NULL, *proj_copy = NULL;
  if (!cu__utf8_valid(program))
    program = prog_copy = cu__utf8_dup(program); /* NULL: out of memory */
  if (!cu__utf8_valid(project))
    project = proj_copy = cu__utf8_dup(project);
  struct series *s;
  if (!program || !project) {
    atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed);
    s = m->other; /* out of memory: counted, like any pair not kept */
  } else {
    s = series_find(m, program, project);
  }
  free(prog_copy);
  free(proj_copy);
  return s;
}

/* ------------------------------------------------------------- observer */

static void inc(counter *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe_exit(const cu_metrics *m, struct series *s,
                         const cu_event *ev) {
  atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_relaxed);
  if (ev->exit_code != 0 || ev->term_signal != 0)
    inc(&s->failures, 1);
  int64_t ns = ev->duration_ns > 0 ? ev->duration_ns : 0;
  double sec = (double)ns / 1e9;
  for (size_t i = 0; i < m->n_bounds; i++) {
    if (sec <= m->bounds[i]) {
      inc(&s->buckets[i], 1);
      break;
    }
  }
  inc(&s->dur_sum_ns, (uint64_t)ns);
  if (ev->user_cpu_us > 0)
    inc(&s->cpu_user_us, (uint64_t)ev->user_cpu_us);
  if (ev->sys_cpu_us > 0)
    inc(&s->cpu_sys_us, (uint64_t)ev->sys_cpu_us);
  inc(&s->dur_count, 1); /* last: a render never sees count < buckets */
}

static int metrics_observe(void *data, const cu_event *ev) {
  cu_metrics *m = data;
  struct series *s = series_get(m, ev);
  switch (ev->phase) {
  case CU_EV_START:
    inc(&s->executions, 1);
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
    break;
  case CU_EV_EXIT:
    observe_exit(m, s, ev);
    break;
  case CU_EV_STDOUT_LINE:
  case CU_EV_STDERR_LINE:
    /* A long line arrives in pieces; count it once, at its last piece. */
    if (!(ev->line_flags & CU_LINE_SPLIT))
      inc(ev->phase == CU_EV_STDOUT_LINE ? &s->out_lines : &s->err_lines, 1);
    break;
  case CU_EV_STDIN:
    inc(&s->stdin_bytes, ev->bytes);
    break;
  case CU_EV_STDIN_ERROR:
    inc(&s->stdin_bytes, ev->bytes);
    inc(&s->stdin_errors, 1);
    break;
  case CU_EV_TIMEOUT:
    inc(&s->timeouts, 1);
    break;
  case CU_EV_CANCEL:
    inc(&s->cancels, 1);
    break;
  case CU_EV_TERM_SENT:
    inc(&s->term_sent, 1);
    break;
  case CU_EV_KILL_SENT:
    inc(&s->kill_sent, 1);
    break;
  case CU_EV_SPAWN_FAILED: {
    int idx = ev->error < 0 && -ev->error < NREASONS ? -ev->error : 0;
    inc(&s->spawn_failed[idx], 1);
    break;
  }
  default:
    break;
  }
  return 0;
}

/* ------------------------------------------------------------- lifetime */

static cu_metrics *metrics_ref(cu_metrics *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

static void metrics_unref(void *data) {
  cu_metrics *m = data;
  if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; m->slots && i < m->cap; i++)
    series_free(atomic_load(&m->slots[i]));
  free(m->slots);
  series_free(m->other);
  pthread_mutex_destroy(&m->insert_mu);
  free(m);
}

cu_metrics *cu_metrics_free(cu_metrics *m) {
  metrics_unref(m);
  return NULL;
}

static int check_buckets(const cu_metrics_opts *o) {
  if (!o->buckets)
    return o->n_buckets ? cu__fail(CU_EINVAL, "cu_metrics_new: buckets is "
                                   "NULL with n_buckets %zu", o->n_buckets)
                        : 0;
  if (o->n_buckets == 0 || o->n_buckets > CU_METRICS_MAX_BUCKETS)
    return cu__fail(CU_EINVAL, "cu_metrics_new: n_buckets %zu is not in 1..%d",
                    o->n_buckets, CU_METRICS_MAX_BUCKETS);
  for (size_t i = 0; i < o->n_buckets; i++) {
    double b = o->buckets[i];
    if (!isfinite(b) || b <= 0 || (i > 0 && b <= o->buckets[i - 1]))
      return cu__fail(CU_EINVAL, "cu_metrics_new: bucket %zu (%g) is not "
                      "finite, positive and above the previous one", i, b);
  }
  return 0;
}

int cu_metrics_new(const cu_metrics_opts *opts, cu_metrics **ret) {
  cu_metrics_opts o;
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_metrics_new: ret is NULL");
  int rc = CU__OPTS_LOAD(&o, opts, cu_metrics_opts, CU_METRICS_OPTS_INIT);
  if (rc != 0)
    return rc;
  rc = check_buckets(&o);
  if (rc != 0)
    return rc;
  if (o.max_series > (1u << 20))
    return cu__fail(CU_EINVAL, "cu_metrics_new: max_series %zu is above "
                    "1048576", o.max_series);
  cu_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return cu__fail(CU_ENOMEM, "out of memory making metrics");
  atomic_init(&m->refs, 1);
  m->id = (uint64_t)atomic_fetch_add(&metrics_ids, 1) + 1;
  pthread_mutex_init(&m->insert_mu, NULL);
  const double *b = o.buckets ? o.buckets : default_bounds;
  m->n_bounds = o.buckets ? o.n_buckets : CU__ARRAY_LEN(default_bounds);
  memcpy(m->bounds, b, m->n_bounds * sizeof *b);
  m->max_series = o.max_series ? o.max_series : DEFAULT_MAX_SERIES;
  for (m->cap = 16; m->cap < 2 * m->max_series;)
    m->cap *= 2;
  m->no_lines = o.no_lines;
  m->redact = o.redact;
  m->slots = calloc(m->cap, sizeof *m->slots);
  m->other = series_new(m, other_program, "", 0);
  if (!m->slots || !m->other) {
    metrics_unref(m);
    return cu__fail(CU_ENOMEM, "out of memory making metrics");
  }
  *ret = m;
  return 0;
}

int cu_metrics_attach(cu_metrics *m, cu_hook **ret) {
  if (!m)
    return cu__fail(CU_EINVAL, "cu_metrics_attach: metrics is NULL");
  cu_hook *hook = cu__hook_new(CU__HOOK_OBSERVE, metrics_ref(m));
  if (!hook) {
    metrics_unref(m);
    return cu__fail(CU_ENOMEM, "out of memory attaching metrics");
  }
  hook->observe = metrics_observe;
  hook->flags = m->no_lines ? 0 : CU_OBSERVE_LINES;
  hook->free_data = metrics_unref;
  (void)cu_hook_set_name(hook, "metrics");
  return cu__scope_register(hook, ret);
}

/* ------------------------------------------------------------- render */

static void escape_label(cu__sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\')
      cu__sbuf_puts(b, "\\\\");
    else if (*s == '"')
      cu__sbuf_puts(b, "\\\"");
    else if (*s == '\n')
      cu__sbuf_puts(b, "\\n");
    else
      cu__sbuf_putc(b, *s);
  }
}

static uint64_t get(const counter *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

/* name{program="..",project=".."[,extra="v"]} */
static void sample_head(cu__sbuf *b, const char *name, const char *suffix,
                        const struct series *s, const char *extra_key,
                        const char *extra_val) {
  cu__sbuf_printf(b, "%s%s{program=\"", name, suffix);
  escape_label(b, s->program);
  cu__sbuf_puts(b, "\",project=\"");
  escape_label(b, s->project);
  cu__sbuf_putc(b, '"');
  if (extra_key) {
    cu__sbuf_printf(b, ",%s=\"", extra_key);
    escape_label(b, extra_val);
    cu__sbuf_putc(b, '"');
  }
  cu__sbuf_puts(b, "} ");
}

static void family(cu__sbuf *b, const char *name, const char *type,
                   const char *help) {
  cu__sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef void (*series_fn)(cu__sbuf *b, const cu_metrics *m,
                          const struct series *s, const char *name,
                          size_t off);

/* Visit the real series, then `_other` when something was dropped. */
static void each_series(cu__sbuf *b, const cu_metrics *m, const char *name,
                        size_t off, series_fn fn) {
  for (size_t i = 0; i < m->cap; i++) {
    const struct series *s =
        atomic_load_explicit(&m->slots[i], memory_order_acquire);
    if (s)
      fn(b, m, s, name, off);
  }
  if (get(&m->dropped) ||
      atomic_load_explicit(&m->other_used, memory_order_relaxed))
    fn(b, m, m->other, name, off);
}

static void plain_counter(cu__sbuf *b, const cu_metrics *m,
                          const struct series *s, const char *name,
                          size_t off) {
  sample_head(b, name, "", s, NULL, NULL);
  cu__sbuf_printf(b, "%llu\n",
                  (unsigned long long)get((const counter *)((const char *)s +
                                                            off)));
}

static void in_flight(cu__sbuf *b, const cu_metrics *m, const struct series *s,
                      const char *name, size_t off) {
  sample_head(b, name, "", s, NULL, NULL);
  cu__sbuf_printf(b, "%lld\n", (long long)atomic_load_explicit(
                                   &s->in_flight, memory_order_relaxed));
}

static void signals(cu__sbuf *b, const cu_metrics *m, const struct series *s,
                    const char *name, size_t off) {
  sample_head(b, name, "", s, "signal", "TERM");
  cu__sbuf_printf(b, "%llu\n", (unsigned long long)get(&s->term_sent));
  sample_head(b, name, "", s, "signal", "KILL");
  cu__sbuf_printf(b, "%llu\n", (unsigned long long)get(&s->kill_sent));
}

static void cpu_modes(cu__sbuf *b, const cu_metrics *m,
                      const struct series *s, const char *name, size_t off) {
  uint64_t us[2] = {get(&s->cpu_user_us), get(&s->cpu_sys_us)};
  for (int i = 0; i < 2; i++) {
    sample_head(b, name, "", s, "mode", i ? "system" : "user");
    cu__sbuf_printf(b, "%llu.%06llu\n", (unsigned long long)(us[i] / 1000000),
                    (unsigned long long)(us[i] % 1000000));
  }
}

static void spawn_failures(cu__sbuf *b, const cu_metrics *m,
                           const struct series *s, const char *name,
                           size_t off) {
  for (int i = 0; i < NREASONS; i++) {
    uint64_t v = get(&s->spawn_failed[i]);
    if (!v)
      continue; /* reasons appear once seen: the error table is long */
    sample_head(b, name, "", s, "reason", i ? cu_err_name(-i) : "other");
    cu__sbuf_printf(b, "%llu\n", (unsigned long long)v);
  }
}

static void histogram(cu__sbuf *b, const cu_metrics *m, const struct series *s,
                      const char *name, size_t off) {
  /* Count first: observers bump buckets before the count, so the +Inf
   * bucket (the count) is never below a finite one read after it. */
  uint64_t count = get(&s->dur_count);
  uint64_t sum_ns = get(&s->dur_sum_ns);
  uint64_t cum = 0;
  for (size_t i = 0; i < m->n_bounds; i++) {
    cum += get(&s->buckets[i]);
    if (cum > count)
      cum = count; /* an observation between our two reads */
    char le[32];
    snprintf(le, sizeof le, "%.15g", m->bounds[i]);
    sample_head(b, name, "_bucket", s, "le", le);
    cu__sbuf_printf(b, "%llu\n", (unsigned long long)cum);
  }
  sample_head(b, name, "_bucket", s, "le", "+Inf");
  cu__sbuf_printf(b, "%llu\n", (unsigned long long)count);
  sample_head(b, name, "_sum", s, NULL, NULL);
  cu__sbuf_printf(b, "%llu.%09llu\n", (unsigned long long)(sum_ns / 1000000000),
                  (unsigned long long)(sum_ns % 1000000000));
  sample_head(b, name, "_count", s, NULL, NULL);
  cu__sbuf_printf(b, "%llu\n", (unsigned long long)count);
}

#define OFF(f) offsetof(struct series, f)

static const struct {
  const char *name, *type, *help;
  series_fn fn;
  size_t off;
} families[] = {
    {"cuprum_executions_total", "counter", "Commands spawned.",
     plain_counter, OFF(executions)},
    {"cuprum_failures_total", "counter",
     "Commands that exited non-zero or were killed by a signal.",
     plain_counter, OFF(failures)},
    {"cuprum_duration_seconds", "histogram",
     "Time from spawn to exit of a command.", histogram, 0},
    {"cuprum_stdout_lines_total", "counter", "Lines a command wrote to stdout.",
     plain_counter, OFF(out_lines)},
    {"cuprum_stderr_lines_total", "counter", "Lines a command wrote to stderr.",
     plain_counter, OFF(err_lines)},
    {"cuprum_stdin_bytes_total", "counter",
     "Bytes written to commands' stdin.", plain_counter, OFF(stdin_bytes)},
    {"cuprum_stdin_errors_total", "counter",
     "Failures writing a command's stdin.", plain_counter, OFF(stdin_errors)},
    {"cuprum_timeouts_total", "counter", "Runs whose timeout expired.",
     plain_counter, OFF(timeouts)},
    {"cuprum_cancellations_total", "counter", "Runs cancelled.",
     plain_counter, OFF(cancels)},
    {"cuprum_signals_sent_total", "counter",
     "Signals sent to a run's process group by the library.", signals, 0},
    {"cuprum_spawn_failures_total", "counter",
     "Commands that could not be started, by reason.", spawn_failures, 0},
    {"cuprum_in_flight", "gauge", "Commands spawned and not yet exited.",
     in_flight, 0},
    {"cuprum_command_cpu_seconds_total", "counter",
     "CPU time of commands (the kernel's rusage of each reaped command), "
     "by mode.",
     cpu_modes, 0},
};

int cu_metrics_render(const cu_metrics *m, char **ret, size_t *ret_len) {
  if (!m || !ret)
    return cu__fail(CU_EINVAL, "cu_metrics_render: metrics and ret are "
                               "required");
  cu__sbuf b = {0};
  for (size_t i = 0; i < CU__ARRAY_LEN(families); i++) {
    family(&b, families[i].name, families[i].type, families[i].help);
    each_series(&b, m, families[i].name, families[i].off, families[i].fn);
  }
  family(&b, "cuprum_series_dropped_total", "counter",
         "Events counted under program=_other because max_series "
         "pairs existed.");
  cu__sbuf_printf(&b, "cuprum_series_dropped_total %llu\n",
                  (unsigned long long)get(&m->dropped));
  size_t len = b.len;
  int rc = cu__sbuf_finish(&b, ret);
  if (rc == 0 && ret_len)
    *ret_len = len;
  return rc;
}

/* ------------------------------------------------------------- textfile */

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int open_temp(const char *tmp) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0 && fd < 3) { /* never hold 0-2: they are someone's stdio */
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    fd = moved;
  }
  return fd;
}

int cu_metrics_write_textfile(const cu_metrics *m, const char *path) {
  if (!m || !path || !path[0])
    return cu__fail(CU_EINVAL, "cu_metrics_write_textfile: metrics and path "
                               "are required");
  static atomic_uint seq;
  char *text = NULL;
  size_t len = 0;
  int rc = cu_metrics_render(m, &text, &len);
  if (rc != 0)
    return rc;
  /* Not *.prom: the collector must never read the temporary file. */
  char *tmp = cu__asprintf("%s.tmp.%ld.%u", path, (long)getpid(),
                           atomic_fetch_add(&seq, 1));
  if (!tmp) {
    free(text);
    return cu__fail(CU_ENOMEM, "out of memory writing metrics");
  }
  const char *what = "open";
  int fd = open_temp(tmp);
  if (fd >= 0 && (what = "fchmod", fchmod(fd, 0644) == 0) &&
      (what = "write", write_all(fd, text, len) == 0) &&
      (what = "fsync", fsync(fd) == 0) &&
      (what = "close", close(fd) == 0 ? (fd = -1, true) : (fd = -1, false)) &&
      (what = "rename", rename(tmp, path) == 0)) {
    free(tmp);
    free(text);
    return 0;
  }
  int err = errno;
  if (fd >= 0)
    close(fd);
  if (strcmp(what, "open") != 0)
    unlink(tmp);
  rc = cu__fail_errno(CU_EIO, err, "writing metrics to '%s': %s of '%s'",
                      path, what, tmp);
  free(tmp);
  free(text);
  return rc;
}
