/* SPDX-License-Identifier: MIT */
/*
 * cu_event_format(): one event as one line of JSON (the stable "v":1 schema
 * of docs/users-guide.md), logfmt or human text.
 */
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"
#include "context/redact_int.h"
#include "cuprum/events.h"
#include "cuprum/log.h" /* cu_event_format, cu_log_format */

static bool is_line(cu_event_phase p) {
  return p == CU_EV_STDOUT_LINE || p == CU_EV_STDERR_LINE;
}

static void common_fields(cu__kv *kv, const cu_event *ev) {
  cu__kv_int(kv, "v", 1);
  cu__kv_str(kv, "phase", cu_event_phase_name(ev->phase));
  cu__kv_int(kv, "exec_id", (long long)ev->exec_id);
  cu__sbuf t = {0};
  cu__rfc3339(&t, ev->wall);
  cu__kv_strn(kv, "time", t.data, t.len);
  kv->b->oom |= t.oom;
  cu__sbuf_free(&t);
  cu__kv_int(kv, "mono_ns", (long long)cu__ts_ns(ev->mono));
  cu__kv_str(kv, "program", ev->program);
  cu__kv_str(kv, "path", ev->path);
  cu__kv_argv(kv, "argv", ev->argv, ev->argv ? ev->n_argv : 0);
  cu__kv_str(kv, "cwd", ev->cwd);
  if (ev->env)
    cu__kv_pairs(kv, "env", &ev->env[0].name, &ev->env[0].value, ev->n_env,
                 sizeof *ev->env);
  else
    cu__kv_pairs(kv, "env", NULL, NULL, 0, sizeof *ev->env);
  cu__kv_int(kv, "pid", (long long)ev->pid);
  if (ev->tags)
    cu__kv_pairs(kv, "tags", &ev->tags[0].key, &ev->tags[0].value,
                 ev->n_tags, sizeof *ev->tags);
  else
    cu__kv_pairs(kv, "tags", NULL, NULL, 0, sizeof *ev->tags);
  cu__kv_str(kv, "project", ev->project ? cu_project_name(ev->project) : NULL);
  cu__kv_bool(kv, "unsafe", ev->unsafe);
  cu__kv_int(kv, "stage", ev->stage_index);
  cu__kv_int(kv, "stages", ev->n_stages);
}

static void error_fields(cu__kv *kv, const cu_event *ev) {
  cu__kv_str(kv, "error", ev->error ? cu_err_name(ev->error) : NULL);
  cu__kv_int(kv, "errno", ev->err_no);
}

static void phase_fields(cu__kv *kv, const cu_event *ev) {
  if (is_line(ev->phase)) {
    cu__kv_strn(kv, "line", ev->line ? ev->line : "",
                ev->line ? ev->line_len : 0);
    cu__kv_bool(kv, "split", (ev->line_flags & CU_LINE_SPLIT) != 0);
    cu__kv_bool(kv, "partial", (ev->line_flags & CU_LINE_PARTIAL) != 0);
    cu__kv_bool(kv, "noise", ev->noise);
  } else if (ev->phase == CU_EV_STDIN) {
    cu__kv_int(kv, "bytes", (long long)ev->bytes);
  } else if (ev->phase == CU_EV_STDIN_ERROR) {
    cu__kv_int(kv, "bytes", (long long)ev->bytes);
    error_fields(kv, ev);
  } else if (ev->phase == CU_EV_EXIT) {
    cu__kv_int(kv, "exit_code", ev->exit_code);
    cu__kv_int(kv, "signal", ev->term_signal);
    cu__kv_int(kv, "duration_ns", (long long)ev->duration_ns);
    /* Accounting, when the kernel gave any (every real exit has a peak
     * RSS; a synthetic event has none). */
    if (ev->max_rss_kb > 0) {
      cu__kv_int(kv, "user_cpu_us", (long long)ev->user_cpu_us);
      cu__kv_int(kv, "sys_cpu_us", (long long)ev->sys_cpu_us);
      cu__kv_int(kv, "max_rss_kb", (long long)ev->max_rss_kb);
    }
    if (ev->contained) {
      cu__kv_bool(kv, "contained", true);
      cu__kv_int(kv, "cgroup_cpu_us", (long long)ev->cgroup_cpu_us);
      if (ev->cgroup_mem_peak >= 0)
        cu__kv_int(kv, "cgroup_mem_peak", (long long)ev->cgroup_mem_peak);
    }
  } else if (ev->phase == CU_EV_SPAWN_FAILED) {
    error_fields(kv, ev);
  } else if (ev->phase == CU_EV_STOPPED) {
    cu__kv_int(kv, "signal", ev->term_signal);
  }
}

/* "cuprum[3] exit: git status pid=12 code=0 1.204ms" */
static void human(cu__sbuf *b, const cu_event *ev) {
  cu__sbuf_printf(b, "cuprum[%llu] %s: ", (unsigned long long)ev->exec_id,
                  cu_event_phase_name(ev->phase));
  cu__argv_line(b, ev->argv, ev->argv ? ev->n_argv : 0);
  if (ev->unsafe)
    cu__sbuf_puts(b, " (unsafe)");
  if (ev->pid)
    cu__sbuf_printf(b, " pid=%d", (int)ev->pid);
  cu__kv kv;
  cu__kv_begin(&kv, b, false);
  kv.first = false;
  phase_fields(&kv, ev);
}

int cu_event_format(const cu_event *ev, cu_log_format fmt, char **ret) {
  return cu_event_format_redacted(ev, fmt, NULL, ret);
}

int cu_event_format_redacted(const cu_event *in, cu_log_format fmt,
                             const cu_redact *r, char **ret) {
  if (!in || !ret || (unsigned)fmt > CU_LOG_JSON)
    return cu__fail(CU_EINVAL, "cu_event_format: event, valid format and "
                               "ret are required");
  cu_event red;
  void *storage = NULL;
  if (cu__redact_event(r, in, &red, &storage) != 0)
    return CU_ENOMEM; /* never print what could not be hidden */
  const cu_event *ev = &red;
  cu__sbuf b = {0};
  if (fmt == CU_LOG_HUMAN) {
    human(&b, ev);
  } else {
    cu__kv kv;
    cu__kv_begin(&kv, &b, fmt == CU_LOG_JSON);
    common_fields(&kv, ev);
    phase_fields(&kv, ev);
    cu__kv_end(&kv);
  }
  cu__redact_storage_free(storage);
  return cu__sbuf_finish(&b, ret);
}
