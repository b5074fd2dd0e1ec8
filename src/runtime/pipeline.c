/* SPDX-License-Identifier: MIT */
/* Pipelines: building them, and running them as one job of N stages. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "runtime/job.h"

struct cu_pipeline {
  const cu_cmd **cmds;
  size_t n, cap;
};

int cu_pipeline_new(cu_pipeline **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_pipeline_new: ret is NULL");
  cu_pipeline *p = calloc(1, sizeof *p);
  if (!p)
    return cu__fail(CU_ENOMEM, "allocating a pipeline");
  *ret = p;
  return 0;
}

int cu_pipeline_add(cu_pipeline *p, const cu_cmd *cmd) {
  if (!cmd)
    return cu__cmd_null("cu_pipeline_add");
  if (!p)
    return cu__fail(CU_EINVAL, "cu_pipeline_add: pipeline is NULL");
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4;
    const cu_cmd **cmds = realloc(p->cmds, cap * sizeof *cmds);
    if (!cmds)
      return cu__fail(CU_ENOMEM, "growing a pipeline");
    p->cmds = cmds;
    p->cap = cap;
  }
  p->cmds[p->n++] = cmd;
  return 0;
}

int cu_pipeline_of(cu_pipeline **ret, const cu_cmd *first, ...) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_pipeline_of: ret is NULL");
  cu_pipeline *p = NULL;
  int rc = cu_pipeline_new(&p);
  va_list ap;
  va_start(ap, first);
  for (const cu_cmd *c = first; rc == 0 && c; c = va_arg(ap, const cu_cmd *))
    rc = cu_pipeline_add(p, c);
  va_end(ap);
  if (rc != 0) {
    cu_pipeline_free(p);
    return rc;
  }
  *ret = p;
  return 0;
}

size_t cu_pipeline_stage_count(const cu_pipeline *p) { return p ? p->n : 0; }

const cu_cmd *cu__pipeline_stage(const cu_pipeline *p, size_t i) {
  return p && i < p->n ? p->cmds[i] : NULL;
}

cu_pipeline *cu_pipeline_free(cu_pipeline *p) {
  if (p) {
    free(p->cmds);
    free(p);
  }
  return NULL;
}

/* The caller's options, loaded by the ABI rule into `po` and `run` (the
 * spec points into `run`, so it lives in the caller's frame). */
static int make_spec(const cu_pipeline *p, const cu_pipeline_opts *opts,
                     cu__job_spec *spec, int *failed_index, cu_run_opts *run) {
  cu_pipeline_opts po;
  int rc = CU__OPTS_LOAD(&po, opts, cu_pipeline_opts, CU_PIPELINE_OPTS_INIT);
  if (rc == 0)
    rc = cu__run_opts_load(po.run, run);
  if (rc != 0)
    return rc;
  if (!p || p->n < 2)
    return cu__fail(CU_EINVAL, "a pipeline needs at least 2 stages (has %zu)",
                    p ? p->n : 0);
  if ((unsigned)po.policy > CU_FAIL_WAIT_ALL)
    return cu__fail(CU_EINVAL, "policy: unknown failure policy %d",
                    (int)po.policy);
  if (po.pipe_size < CU_PIPE_SIZE_KERNEL)
    return cu__fail(CU_EINVAL, "pipe_size: %d is negative", po.pipe_size);
  *spec = (cu__job_spec){
      .cmds = p->cmds,
      .n = p->n,
      .opts = run,
      .fail_mode =
          po.policy == CU_FAIL_WAIT_ALL ? CU__FAIL_WAIT_ALL : CU__FAIL_FAST,
      .sigpipe_fails = po.sigpipe_is_failure,
      .pipe_size = po.pipe_size != 0 ? po.pipe_size
                   : p->n >= 3       ? CU_PIPE_SIZE_DEFAULT
                                     : CU_PIPE_SIZE_KERNEL,
      .ret_failed_index = failed_index,
      .tap_stages = po.tap_stages,
      .capture_taps = po.capture_taps,
  };
  return 0;
}

int cu_loop_spawn_pipeline(cu_loop *loop, const cu_pipeline *p,
                           const cu_pipeline_opts *opts, cu_task **ret) {
  if (!loop || !ret)
    return cu__fail(CU_EINVAL, "cu_loop_spawn_pipeline: loop and ret required");
  cu__job_spec spec;
  cu_run_opts run;
  int rc = make_spec(p, opts, &spec, NULL, &run);
  return rc ? rc : cu__loop_start_job(loop, &spec, true, ret, NULL);
}

int cu_pipeline_run(const cu_pipeline *p, const cu_pipeline_opts *opts,
                    cu_pipeline_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_pipeline_run: ret is NULL");
  *ret = NULL;
  cu__job_spec spec;
  cu_run_opts run;
  int failed_index = -1;
  int rc = make_spec(p, opts, &spec, &failed_index, &run);
  spec.stdin_borrowed = true; /* we block until it ends: no copy needed */
  cu_loop *loop = NULL;
  cu_task *task = NULL;
  cu_result failed = {0};
  if (rc == 0)
    rc = cu__loop_new(&loop, false);
  if (rc == 0)
    rc = cu__loop_start_job(loop, &spec, true, &task, &failed);
  cu_pipeline_result *r = NULL;
  if (rc == 0) {
    r = cu__task_take_pipeline(task);
    rc = cu__task_error(task);
  }
  if (!r && (r = cu__pipeline_result_new()) != NULL) {
    r->error = rc ? rc : CU_ENOMEM;
    r->spawn_step = failed.spawn_step;
    r->spawn_errno = failed.spawn_errno;
    r->spawn_index = failed_index;
  }
  if (!r && rc == 0)
    rc = CU_ENOMEM;
  cu_task_free(task);
  cu_loop_free(loop);
  *ret = r;
  return rc;
}
