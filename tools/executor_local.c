/* SPDX-License-Identifier: MIT */
/* The local executor of `cuprum parallel`: each item's own command, run on
 * this machine (see executor.h). */
#include <string.h>

#include "executor.h"
#include "result_fields.h"
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
  const cu_result *res = ir->result;
  bool ran = ir->state == CU_ITEM_DONE || ir->state == CU_ITEM_TERMINATED;
  int bad = 0;
  bad |= json_object_set_new(o, "state", json_string(state_name(ir->state)));
  bad |= cli_outcome_fields(o, res, ran, ir->ok);
  bad |= json_object_set_new(o, "status", json_integer(item_status(ir)));
  bad |= cli_usage_fields(o, res);
  if (ir->state == CU_ITEM_FAILED_TO_START)
    bad |= json_object_set_new(
        o, "error",
        json_string(ir->message ? ir->message : cu_strerror(ir->error)));
  bool out = res && res->out.data, err = res && res->err.data;
  *streams = (cli_streams){
      .out = out ? res->out.data : "",
      .out_len = out ? res->out.len : 0,
      .err = err ? res->err.data : "",
      .err_len = err ? res->err.len : 0,
  };
  return bad ? -1 : 0;
}

cli_executor *cli_executor_local(void) {
  static cli_executor local = {.name = "local",
                               .make_cmd = local_make_cmd,
                               .result_fields = local_result_fields};
  return &local;
}
