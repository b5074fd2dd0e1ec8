/* SPDX-License-Identifier: MIT */
/*
 * cu_run(): one job on a private loop. Using the very same loop and job code
 * as the asynchronous API is what makes their results and errors identical.
 */
#include <string.h>

#include "base/internal.h"
#include "runtime/job.h"

static int check_output(const cu_output_opts *o, const char *which) {
  if ((unsigned)o->mode > CU_STREAM_FD)
    return cu__fail(CU_EINVAL, "%s.mode: unknown stream mode %d", which,
                    (int)o->mode);
  if (o->mode == CU_STREAM_FD && o->fd < 0)
    return cu__fail(CU_EINVAL, "%s.fd: CU_STREAM_FD needs a valid fd", which);
  return 0;
}

static int check_ms(int64_t v, const char *field, bool allow_none) {
  if (allow_none && v == CU_GRACE_NONE)
    return 0;
  if (v < 0 || v > CU_TIMEOUT_MAX_MS)
    return cu__fail(CU_EINVAL,
                    "%s: %lld ms is out of range (0 to %lld ms, one year)",
                    field, (long long)v, (long long)CU_TIMEOUT_MAX_MS);
  return 0;
}

int cu__validate_opts(const cu_run_opts *o) {
  int rc = check_output(&o->out, "out");
  if (rc == 0)
    rc = check_output(&o->err, "err");
  if (rc == 0)
    rc = check_ms(o->timeout_ms, "timeout_ms", false);
  if (rc == 0)
    rc = check_ms(o->grace_ms, "grace_ms", true);
  if (rc != 0)
    return rc;
  if ((unsigned)o->overflow > CU_OVERFLOW_FAIL)
    return cu__fail(CU_EINVAL, "overflow: unknown policy %d", (int)o->overflow);
  if ((unsigned)o->backend > CU_BACKEND_READWRITE)
    return cu__fail(CU_EINVAL, "backend: unknown backend %d", (int)o->backend);
  const cu_stdin_opts *in = &o->in;
  switch (in->mode) {
  case CU_STDIN_INHERIT:
  case CU_STDIN_NULL:
    return 0;
  case CU_STDIN_BYTES:
    return in->len && !in->data
               ? cu__fail(CU_EINVAL, "in.data is NULL with in.len %zu", in->len)
               : 0;
  case CU_STDIN_FILE:
    return in->path ? 0 : cu__fail(CU_EINVAL, "in.path is NULL");
  case CU_STDIN_FD:
    return in->fd >= 0 ? 0 : cu__fail(CU_EINVAL, "in.fd is negative");
  }
  return cu__fail(CU_EINVAL, "in.mode: unknown stdin mode %d", (int)in->mode);
}

int cu_run(const cu_cmd *cmd, const cu_run_opts *opts, cu_result *result) {
  if (!result)
    return cu__fail(CU_EINVAL, "cu_run: result is NULL");
  memset(result, 0, sizeof *result);
  if (!cmd) {
    result->error = CU_EINVAL;
    result->spawn_stage = CU_STAGE_VALIDATE;
    return cu__fail(CU_EINVAL, "cu_run: cmd is NULL");
  }
  static const cu_run_opts defaults;
  const cu_cmd *cmds[1] = {cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = opts ? opts : &defaults,
                       .stdin_borrowed = true};
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
