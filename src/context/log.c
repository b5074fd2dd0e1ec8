/* SPDX-License-Identifier: MIT */
/*
 * The ready logging hook: an observer (start, spawn failure, output lines)
 * plus an after hook (the exit record, with output sizes from the result),
 * registered as one handle, writing records to a FILE *, syslog, a callback
 * or stderr in human, logfmt or JSON-lines form.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/fmt.h"
#include "base/internal.h"
#include "context/redact_int.h"
#include "context/scope.h"
#include "cuprum/log.h"

/* Per-run state between the start event and the after hook. */
struct log_run {
  pid_t pid;
  uint64_t exec_id;
  unsigned long noise;
};

struct log_state {
  cu_log_opts opts;
  pthread_mutex_t mu; /* guards runs and serialises sink writes */
  struct log_run *runs;
  size_t n_runs;
  size_t cap_runs;
  atomic_ulong noise_total;
};

const char *cu_log_level_name(cu_log_level level) {
  switch (level) {
  case CU_LOG_DEBUG:
    return "debug";
  case CU_LOG_WARN:
    return "warn";
  case CU_LOG_ERROR:
    return "error";
  default:
    return "info";
  }
}

static void state_free(void *data) {
  struct log_state *st = data;
  pthread_mutex_destroy(&st->mu);
  free(st->runs);
  free(st);
}

/* ------------------------------------------------------------- sink */

static int syslog_priority(cu_log_level level) {
  switch (level) {
  case CU_LOG_DEBUG:
    return LOG_DEBUG;
  case CU_LOG_WARN:
    return LOG_WARNING;
  case CU_LOG_ERROR:
    return LOG_ERR;
  default:
    return LOG_INFO;
  }
}

/* Called with st->mu held. */
static void sink_write(struct log_state *st, cu_log_level level,
                       const char *line) {
  const cu_log_opts *o = &st->opts;
  switch (o->sink) {
  case CU_LOG_SINK_FILE:
    fputs(line, o->file);
    fputc('\n', o->file);
    fflush(o->file);
    break;
  case CU_LOG_SINK_SYSLOG:
    syslog((o->syslog_facility ? o->syslog_facility : LOG_USER) |
               syslog_priority(level),
           "%s", line);
    break;
  case CU_LOG_SINK_CALLBACK:
    o->fn(o->fn_data, level, line);
    break;
  default:
    cu__stderr_line(NULL, line);
    break;
  }
}

/* A record begins with level and event; human form: "cuprum: <event> ". */
static void record_begin(struct log_state *st, cu__sbuf *b, cu__kv *kv,
                         cu_log_level level, const char *event) {
  if (st->opts.format == CU_LOG_HUMAN) {
    cu__sbuf_printf(b, "cuprum: %s %s", cu_log_level_name(level), event);
    cu__kv_begin(kv, b, false);
    kv->first = false;
    return;
  }
  cu__kv_begin(kv, b, st->opts.format == CU_LOG_JSON);
  cu__kv_str(kv, "level", cu_log_level_name(level));
  cu__kv_str(kv, "event", event);
}

static int record_end(struct log_state *st, cu__sbuf *b, cu__kv *kv,
                      cu_log_level level) {
  cu__kv_end(kv);
  char *line = NULL;
  if (cu__sbuf_finish(b, &line) != 0)
    return -1;
  pthread_mutex_lock(&st->mu);
  sink_write(st, level, line);
  pthread_mutex_unlock(&st->mu);
  free(line);
  return 0;
}

static bool wanted(const struct log_state *st, cu_log_level level) {
  return level >= st->opts.min_level;
}

/* ------------------------------------------------------------- runs */

static void run_add(struct log_state *st, pid_t pid, uint64_t exec_id) {
  pthread_mutex_lock(&st->mu);
  if (st->n_runs == st->cap_runs) {
    size_t cap = st->cap_runs ? st->cap_runs * 2 : 8;
    struct log_run *v = realloc(st->runs, cap * sizeof *v);
    if (v) {
      st->runs = v;
      st->cap_runs = cap;
    }
  }
  if (st->n_runs < st->cap_runs)
    st->runs[st->n_runs++] = (struct log_run){.pid = pid, .exec_id = exec_id};
  pthread_mutex_unlock(&st->mu);
}

/* Count a dropped noise line against its run. */
static void run_noise(struct log_state *st, pid_t pid) {
  atomic_fetch_add(&st->noise_total, 1);
  pthread_mutex_lock(&st->mu);
  for (size_t i = 0; i < st->n_runs; i++)
    if (st->runs[i].pid == pid)
      st->runs[i].noise++;
  pthread_mutex_unlock(&st->mu);
}

/* Remove and return the run of `pid` (zeroes if unknown). */
static struct log_run run_take(struct log_state *st, pid_t pid) {
  struct log_run r = {0};
  pthread_mutex_lock(&st->mu);
  for (size_t i = 0; i < st->n_runs; i++) {
    if (st->runs[i].pid != pid)
      continue;
    r = st->runs[i];
    st->runs[i] = st->runs[--st->n_runs];
    break;
  }
  pthread_mutex_unlock(&st->mu);
  return r;
}

/* ------------------------------------------------------------- hooks */

static void cmd_fields(cu__kv *kv, const cu_event *ev) {
  cu__kv_str(kv, "program", ev->program);
  cu__kv_argv(kv, "argv", ev->argv, ev->argv ? ev->n_argv : 0);
  if (ev->unsafe)
    cu__kv_bool(kv, "unsafe", true);
  if (ev->n_tags)
    cu__kv_pairs(kv, "tags", &ev->tags[0].key, &ev->tags[0].value,
                 ev->n_tags, sizeof *ev->tags);
}

static int log_event(struct log_state *st, const cu_event *in,
                     cu_log_level level, const char *event) {
  if (!wanted(st, level))
    return 0;
  cu_event red;
  void *storage = NULL;
  if (cu__redact_event(st->opts.redact, in, &red, &storage) != 0)
    return -1; /* never log what could not be hidden */
  const cu_event *ev = &red;
  cu__sbuf b = {0};
  cu__kv kv;
  record_begin(st, &b, &kv, level, event);
  cu__kv_int(&kv, "exec_id", (long long)ev->exec_id);
  cmd_fields(&kv, ev);
  if (ev->pid)
    cu__kv_int(&kv, "pid", ev->pid);
  if (ev->phase == CU_EV_SPAWN_FAILED) {
    cu__kv_str(&kv, "error", cu_err_name(ev->error));
    cu__kv_int(&kv, "errno", ev->err_no);
  } else if (ev->line) {
    cu__kv_strn(&kv, "line", ev->line, ev->line_len);
  }
  cu__redact_storage_free(storage);
  return record_end(st, &b, &kv, level);
}

static int log_observe(void *data, const cu_event *ev) {
  struct log_state *st = data;
  switch (ev->phase) {
  case CU_EV_PLAN:
    return log_event(st, ev, st->opts.plan_level, "plan");
  case CU_EV_START:
    run_add(st, ev->pid, ev->exec_id);
    return log_event(st, ev, st->opts.start_level, "start");
  case CU_EV_SPAWN_FAILED:
    return log_event(st, ev, CU_LOG_ERROR, "spawn_failed");
  case CU_EV_STOPPED: /* the run waits on it: say why */
    return log_event(st, ev, CU_LOG_WARN, "stopped");
  case CU_EV_STDOUT_LINE:
  case CU_EV_STDERR_LINE:
    if (ev->noise) {
      run_noise(st, ev->pid);
      return 0;
    }
    return log_event(st, ev, st->opts.output_level,
                     ev->phase == CU_EV_STDOUT_LINE ? "stdout" : "stderr");
  default:
    return 0;
  }
}

static int log_after(void *data, const cu_cmd *cmd, const cu_result *res) {
  struct log_state *st = data;
  if (!res || res->pid == 0)
    return 0; /* never started: the spawn failure was logged as an event */
  struct log_run run = run_take(st, res->pid);
  cu_log_level level = st->opts.exit_level;
  if (!res->ok && level < CU_LOG_WARN)
    level = CU_LOG_WARN;
  if (!wanted(st, level))
    return 0;
  char **argv = NULL;
  if (cu_redact_argv(st->opts.redact, cu_cmd_argv(cmd), cu_cmd_argv_count(cmd),
                     &argv) != 0)
    return -1;
  cu__sbuf b = {0};
  cu__kv kv;
  record_begin(st, &b, &kv, level, "exit");
  cu__kv_int(&kv, "exec_id", (long long)run.exec_id);
  cu__kv_str(&kv, "program", cu_cmd_program(cmd).name);
  cu__kv_argv(&kv, "argv", (const char *const *)argv, cu_cmd_argv_count(cmd));
  free(argv);
  cu__kv_int(&kv, "pid", res->pid);
  cu__kv_int(&kv, "exit_code", res->exit_code);
  cu__kv_int(&kv, "signal", res->term_signal);
  cu__kv_ms(&kv, "duration_ms", res->duration_ns);
  if (res->max_rss_kb > 0) { /* the kernel's account of a reaped process */
    cu__kv_ms(&kv, "user_cpu_ms", res->user_cpu_us * 1000);
    cu__kv_ms(&kv, "sys_cpu_ms", res->sys_cpu_us * 1000);
    cu__kv_int(&kv, "max_rss_kb", (long long)res->max_rss_kb);
  }
  if (res->contained) {
    cu__kv_bool(&kv, "contained", true);
    cu__kv_ms(&kv, "cgroup_cpu_ms", res->cgroup_cpu_us * 1000);
  }
  cu__kv_int(&kv, "stdout_bytes", (long long)res->out.total);
  cu__kv_int(&kv, "stderr_bytes", (long long)res->err.total);
  if (res->timed_out)
    cu__kv_bool(&kv, "timed_out", true);
  if (res->cancelled)
    cu__kv_bool(&kv, "cancelled", true);
  if (run.noise)
    cu__kv_int(&kv, "noise_dropped", (long long)run.noise);
  return record_end(st, &b, &kv, level);
}

/* ------------------------------------------------------------- public */

static int check_opts(const cu_log_opts *o) {
  if ((unsigned)o->format > CU_LOG_JSON)
    return cu__fail(CU_EINVAL, "cu_log_attach: invalid format %d",
                    (int)o->format);
  if ((unsigned)o->min_level > CU_LOG_ERROR)
    return cu__fail(CU_EINVAL, "cu_log_attach: invalid min_level %d",
                    (int)o->min_level);
  const cu_log_level lv[] = {o->plan_level, o->start_level, o->exit_level,
                             o->output_level};
  const char *lv_name[] = {"plan_level", "start_level", "exit_level",
                           "output_level"};
  for (size_t i = 0; i < CU__ARRAY_LEN(lv); i++)
    if ((unsigned)lv[i] > CU_LOG_ERROR)
      return cu__fail(CU_EINVAL, "cu_log_attach: invalid %s %d", lv_name[i],
                      (int)lv[i]);
  if ((unsigned)o->sink > CU_LOG_SINK_CALLBACK)
    return cu__fail(CU_EINVAL, "cu_log_attach: invalid sink %d", (int)o->sink);
  if (o->sink == CU_LOG_SINK_FILE && !o->file)
    return cu__fail(CU_EINVAL, "cu_log_attach: sink FILE needs opts.file");
  if (o->sink == CU_LOG_SINK_CALLBACK && !o->fn)
    return cu__fail(CU_EINVAL, "cu_log_attach: sink CALLBACK needs opts.fn");
  return 0;
}

int cu_log_attach(const cu_log_opts *user, cu_hook **ret) {
  cu_log_opts loaded;
  const cu_log_opts *opts = &loaded;
  int rc = CU__OPTS_LOAD(&loaded, user, cu_log_opts, CU_LOG_OPTS_INIT);
  if (rc == 0)
    rc = check_opts(opts);
  if (rc != 0)
    return rc;
  struct log_state *st = calloc(1, sizeof *st);
  cu_hook *hook = st ? cu__hook_new(CU__HOOK_OBSERVE | CU__HOOK_AFTER, st)
                     : NULL;
  if (!hook) {
    free(st);
    return cu__fail(CU_ENOMEM, "out of memory attaching the logging hook");
  }
  st->opts = *opts;
  if (!st->opts.min_level) /* output lines are debug records */
    st->opts.min_level = opts->log_output ? CU_LOG_DEBUG : CU_LOG_INFO;
  static const cu_log_level defaults_lv[] = {CU_LOG_DEBUG, CU_LOG_INFO,
                                             CU_LOG_INFO, CU_LOG_DEBUG};
  cu_log_level *lv[] = {&st->opts.plan_level, &st->opts.start_level,
                        &st->opts.exit_level, &st->opts.output_level};
  for (size_t i = 0; i < CU__ARRAY_LEN(lv); i++)
    if (*lv[i] == CU_LOG_DEFAULT)
      *lv[i] = defaults_lv[i];
  pthread_mutex_init(&st->mu, NULL);
  atomic_init(&st->noise_total, 0);
  hook->observe = log_observe;
  hook->after = log_after;
  hook->flags = opts->log_output ? CU_OBSERVE_LINES | CU_OBSERVE_NOISE : 0;
  hook->free_data = state_free;
  (void)cu_hook_set_name(hook, "log");
  return cu__scope_register(hook, ret);
}

unsigned long cu_log_noise_dropped(const cu_hook *hook) {
  if (!hook || hook->free_data != state_free)
    return 0;
  const struct log_state *st = hook->data;
  return atomic_load(&st->noise_total);
}
