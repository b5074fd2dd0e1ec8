/* SPDX-License-Identifier: MIT */
/*
 * cu_run(): one job on a private loop. Using the very same loop and job code
 * as the asynchronous API is what makes their results and errors identical.
 */
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "runtime/job.h"

int cu_run(const cu_cmd *cmd, const cu_run_opts *opts, cu_result *result) {
  if (!result)
    return cu__fail(CU_EINVAL, "cu_run: result is NULL");
  memset(result, 0, sizeof *result);
  if (!cmd) {
    result->error = cu__cmd_null("cu_run");
    result->spawn_stage = CU_STAGE_VALIDATE;
    return result->error;
  }
  static const cu_run_opts defaults;
  const cu_cmd *cmds[1] = {cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = opts ? opts : &defaults};
  cu_loop *loop = NULL;
  int rc = cu__loop_new(&loop, false);
  cu_task *task = NULL;
  if (rc == 0)
    rc = cu__loop_start_job(loop, &spec, false, &task, result);
  if (rc == 0)
    rc = cu_task_wait(task, result);
  else if (result->error == 0)
    result->error = rc;
  cu_task_free(task);
  cu_loop_free(loop);
  return rc;
}
