/* SPDX-License-Identifier: MIT */
/*
 * cu_run(): one job on a private loop. Using the very same loop and job code
 * as the asynchronous API is what makes their results and errors identical.
 */
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "runtime/job.h"

/* The one-call form is the builder plus cu_run(), nothing else, so it keeps
 * every check cu_run() makes. */
int cu_run_args(cu_program program, const char *const args[],
                const cu_run_opts *opts, cu_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_run_args: ret is NULL");
  *ret = NULL;
  cu_cmd *cmd = NULL;
  int rc = cu_cmd_new(NULL, program, &cmd);
  if (rc != 0) {
    /* No command to run: the result still says what happened. */
    if ((*ret = cu__result_new()) != NULL) {
      (*ret)->error = rc;
      (*ret)->spawn_step = CU_STEP_VALIDATE;
    }
    return rc;
  }
  for (size_t i = 0; args && args[i]; i++)
    if (cu_cmd_arg(cmd, args[i]) != 0)
      break; /* sticky: cu_run() reports it with its message */
  rc = cu_run(cmd, opts, ret);
  cu_cmd_free(cmd);
  return rc;
}

/* cu_run() is a one-task loop. The result to hand back on failure is
 * allocated first, so a failed run still reports its step and errno. */
int cu_run(const cu_cmd *cmd, const cu_run_opts *opts, cu_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_run: ret is NULL");
  *ret = NULL;
  cu_result *failed = cu__result_new();
  if (!failed)
    return CU_ENOMEM;
  cu_run_opts o;
  /* A NULL cmd reports the constructor failure behind it (cmd.h). */
  int rc = cmd ? cu__run_opts_load(opts, &o) : cu__cmd_null("cu_run");
  if (rc != 0) {
    failed->error = rc;
    failed->spawn_step = CU_STEP_VALIDATE;
    *ret = failed;
    return rc;
  }
  const cu_cmd *cmds[1] = {cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = &o,
                       .stdin_borrowed = true};
  cu_loop *loop = NULL;
  rc = cu__loop_new(&loop, false);
  cu_task *task = NULL;
  if (rc == 0)
    rc = cu__loop_start_job(loop, &spec, false, &task, failed);
  if (rc == 0) {
    cu_result *r = cu__task_take_result(task);
    rc = cu__task_error(task);
    if (r) {
      failed = cu_result_free(failed);
      *ret = r;
    } else {
      rc = rc ? rc : CU_ENOMEM;
      failed->error = rc;
      *ret = failed;
    }
  } else {
    if (failed->error == 0)
      failed->error = rc;
    *ret = failed;
  }
  cu_task_free(task);
  cu_loop_free(loop);
  return rc;
}
