/* SPDX-License-Identifier: MIT */
/* The local executor of `cuprum parallel`: each item's own command, run on
 * this machine (see executor.h). */
#include <math.h>
#include <string.h>

#include "executor.h"
#include "run.h"

static int local_make_cmd(cli_executor *ex, const cu_catalogue *cat,
                          const cli_item *item, const char *where,
                          cu_cmd **ret) {
  (void)ex;
  size_t argc = json_array_size(item->argv);
  const char *argv[argc ? argc : 1];
  for (size_t k = 0; k < argc; k++)
    argv[k] = json_string_value(json_array_get(item->argv, k));
  return cli_build_command(cat, argv, (int)argc, where, ret);
}

static const char *state_name(cu_item_state state) {
  switch (state) {
  case CU_ITEM_DONE:
    return "done";
  case CU_ITEM_FAILED_TO_START:
    return "failed_to_start";
  case CU_ITEM_TERMINATED:
    return "terminated";
  default:
    return "skipped";
  }
}

static json_t *int_or_null(bool present, int value) {
  return present ? json_integer(value) : json_null();
}

static int item_status(const cu_item_result *ir) {
  if (ir->state == CU_ITEM_FAILED_TO_START)
    return cli_exit_for_error(ir->error);
  return ir->result ? cli_status_of(ir->result) : CLI_EXIT_FAILURE;
}

static int local_result_fields(cli_executor *ex, const cli_item *item,
                               const cu_item_result *ir, json_t *o,
                               cli_streams *streams) {
  (void)ex;
  (void)item;
  static const cu_result none; /* the fields of a skipped item */
  const cu_result *res = ir->result ? ir->result : &none;
  bool ran = ir->state == CU_ITEM_DONE || ir->state == CU_ITEM_TERMINATED;
  /* Milliseconds to the microsecond: printed exactly (see the printer). */
  double ms = round((double)res->duration_ns / 1e3) / 1e3;
  double start = (double)res->start_wall.tv_sec +
                 round((double)res->start_wall.tv_nsec / 1e3) / 1e6;
  int bad = 0;
  bad |= json_object_set_new(o, "state", json_string(state_name(ir->state)));
  bad |= json_object_set_new(o, "exit_code",
                             int_or_null(ran && res->exit_code >= 0,
                                         res->exit_code));
  bad |= json_object_set_new(o, "signal",
                             int_or_null(ran && res->term_signal > 0,
                                         res->term_signal));
  bad |= json_object_set_new(o, "ok", json_boolean(ir->ok));
  bad |= json_object_set_new(o, "timed_out",
                             json_boolean(ran && res->timed_out));
  bad |= json_object_set_new(o, "duration_ms",
                             ran ? json_real(ms) : json_null());
  bad |= json_object_set_new(o, "start_time",
                             ran ? json_real(start) : json_null());
  bad |= json_object_set_new(o, "status", json_integer(item_status(ir)));
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
  if (ir->state == CU_ITEM_FAILED_TO_START)
    bad |= json_object_set_new(
        o, "error",
        json_string(ir->message ? ir->message : cu_strerror(ir->error)));
  *streams = (cli_streams){
      .out = res->out.data ? res->out.data : "",
      .out_len = res->out.data ? res->out.len : 0,
      .err = res->err.data ? res->err.data : "",
      .err_len = res->err.data ? res->err.len : 0,
  };
  return bad ? -1 : 0;
}

cli_executor *cli_executor_local(void) {
  static cli_executor local = {.name = "local",
                               .make_cmd = local_make_cmd,
                               .result_fields = local_result_fields};
  return &local;
}
