/* SPDX-License-Identifier: MIT */
/* The result-line fields `cuprum parallel` and `cuprum exec-item` share
 * (see result_fields.h). */
#include <math.h>

#include "result_fields.h"

static const cu_result none; /* the figures of a command that never ran */

static json_t *int_or_null(bool present, int value) {
  return present ? json_integer(value) : json_null();
}

int cli_outcome_fields(json_t *o, const cu_result *res, bool ran, bool ok) {
  if (!res)
    res = &none;
  /* Milliseconds and seconds to the microsecond: the printers' 15
   * significant digits write them exactly. */
  double ms = round((double)res->duration_ns / 1e3) / 1e3;
  double start = (double)res->start_wall.tv_sec +
                 round((double)res->start_wall.tv_nsec / 1e3) / 1e6;
  int bad = 0;
  bad |= json_object_set_new(o, "exit_code",
                             int_or_null(ran && res->exit_code >= 0,
                                         res->exit_code));
  bad |= json_object_set_new(o, "signal",
                             int_or_null(ran && res->term_signal > 0,
                                         res->term_signal));
  bad |= json_object_set_new(o, "ok", json_boolean(ok));
  bad |= json_object_set_new(o, "timed_out",
                             json_boolean(ran && res->timed_out));
  bad |= json_object_set_new(o, "duration_ms",
                             ran ? json_real(ms) : json_null());
  bad |= json_object_set_new(o, "start_time",
                             ran ? json_real(start) : json_null());
  return bad ? -1 : 0;
}

int cli_usage_fields(json_t *o, const cu_result *res) {
  if (!res)
    res = &none;
  int bad = 0;
  bad |= json_object_set_new(o, "stdout_truncated",
                             json_boolean(res->out.truncated));
  bad |= json_object_set_new(o, "stderr_truncated",
                             json_boolean(res->err.truncated));
  bad |= json_object_set_new(o, "stdout_total",
                             json_integer((json_int_t)res->out.total));
  bad |= json_object_set_new(o, "stderr_total",
                             json_integer((json_int_t)res->err.total));
  /* Accounting: the kernel's rusage of the reaped command, and the
   * cgroup's figures for a contained one (--contain). */
  bad |= json_object_set_new(o, "user_cpu_us",
                             json_integer((json_int_t)res->user_cpu_us));
  bad |= json_object_set_new(o, "sys_cpu_us",
                             json_integer((json_int_t)res->sys_cpu_us));
  bad |= json_object_set_new(o, "max_rss_kb",
                             json_integer((json_int_t)res->max_rss_kb));
  bad |= json_object_set_new(o, "contained", json_boolean(res->contained));
  bad |= json_object_set_new(o, "cgroup_cpu_us",
                             res->contained
                                 ? json_integer((json_int_t)res->cgroup_cpu_us)
                                 : json_null());
  return bad ? -1 : 0;
}
