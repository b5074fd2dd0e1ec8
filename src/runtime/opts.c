/* SPDX-License-Identifier: MIT */
/*
 * Validation of run options, shared by every way a job starts (cu_run,
 * cu_loop_spawn, pipelines, the concurrency helper): one place, so the same
 * mistake gets the same error everywhere.
 */
#include "base/internal.h"
#include "catalogue/confine_rules.h"
#include "runtime/job.h"

static int check_output(const cu_output_opts *o, const char *which) {
  if ((unsigned)o->mode > CU_STREAM_FD)
    return cu__fail(CU_EINVAL, "%s.mode: unknown stream mode %d", which,
                    (int)o->mode);
  if (o->mode == CU_STREAM_FD && o->fd < 0)
    return cu__fail(CU_EINVAL, "%s.fd: CU_STREAM_FD needs a valid fd", which);
  /* Each field means one thing; one set for another mode is a mistake
   * (typically .fd where .echo_fd was meant), not something to ignore. */
  if (o->mode != CU_STREAM_FD && o->fd != 0)
    return cu__fail(CU_EINVAL,
                    "%s.fd is only for CU_STREAM_FD (to echo to an fd, set "
                    "%s.echo_fd with CU_STREAM_TEE or CU_STREAM_ECHO)",
                    which, which);
  /* CAPTURE may echo too: the echo `output` setting turns it into TEE. */
  bool echoes = o->mode == CU_STREAM_TEE || o->mode == CU_STREAM_ECHO ||
                o->mode == CU_STREAM_CAPTURE;
  if (o->echo_fd < 0 || (o->echo_fd != 0 && !echoes))
    return cu__fail(CU_EINVAL,
                    "%s.echo_fd: %d (an fd > 0, only with CU_STREAM_TEE, "
                    "CU_STREAM_ECHO or CU_STREAM_CAPTURE; 0 = the parent's "
                    "own)",
                    which, o->echo_fd);
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

/* A (pointer, count) pair: a count with a NULL array is EINVAL, and so is
 * a NULL string inside it (as for env and scopes): never stored as "". */
static int check_tags(const cu_tag *tags, size_t n) {
  if (n && !tags)
    return cu__fail(CU_EINVAL, "tags: n_tags is %zu but tags is NULL", n);
  for (size_t i = 0; i < n; i++)
    if (!tags[i].key || !tags[i].value)
      return cu__fail(CU_EINVAL, "tags[%zu]: the %s is NULL", i,
                      tags[i].key ? "value" : "key");
  return 0;
}

static int check_limits(const cu_run_opts *o) {
  if ((unsigned)o->contain > CU_CONTAIN_BEST_EFFORT)
    return cu__fail(CU_EINVAL, "contain: unknown mode %d", (int)o->contain);
  if (o->n_limits && !o->limits)
    return cu__fail(CU_EINVAL, "limits: n_limits is %zu but limits is NULL",
                    o->n_limits);
  if (o->n_limits > 64)
    return cu__fail(CU_EINVAL, "limits: %zu entries (at most 64)",
                    o->n_limits);
  for (size_t i = 0; i < o->n_limits; i++) {
    cu_limit_kind k = o->limits[i].kind;
    uint64_t v = o->limits[i].value;
    if (k < CU_LIMIT_CPU || k > CU_LIMIT_CPU_MAX)
      return cu__fail(CU_EINVAL, "limits[%zu].kind: unknown kind %d", i,
                      (int)k);
    /* RLIM_INFINITY is all ones; the CPU hard limit is value + 1. */
    if (v >= (uint64_t)INT64_MAX / 1000)
      return cu__fail(CU_EINVAL, "limits[%zu].value: %llu is too large", i,
                      (unsigned long long)v);
    if (v == 0 && (k == CU_LIMIT_CPU || k == CU_LIMIT_NOFILE ||
                   k == CU_LIMIT_NPROC || k == CU_LIMIT_PIDS_MAX ||
                   k == CU_LIMIT_CPU_MAX || k == CU_LIMIT_AS ||
                   k == CU_LIMIT_DATA || k == CU_LIMIT_MEMORY_MAX))
      return cu__fail(CU_EINVAL, "limits[%zu].value: 0 would stop the "
                      "command from running at all", i);
  }
  return 0;
}

static int validate_opts(const cu_run_opts *o) {
  int rc = check_output(&o->out, "out");
  if (rc == 0)
    rc = check_output(&o->err, "err");
  if (rc == 0)
    rc = check_ms(o->timeout_ms, "timeout_ms", false);
  if (rc == 0)
    rc = check_ms(o->grace_ms, "grace_ms", true);
  if (rc == 0)
    rc = check_tags(o->tags, o->n_tags);
  if (rc == 0 && o->n_env && !o->env)
    rc = cu__fail(CU_EINVAL, "env: n_env is %zu but env is NULL", o->n_env);
  if (rc == 0)
    rc = check_limits(o);
  if (rc == 0 && o->confine) {
    cu_confine c;
    rc = cu__confine_load(o->confine, &c, "confine");
  }
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

int cu__run_opts_load(const cu_run_opts *src, cu_run_opts *dst) {
  int rc = CU__OPTS_LOAD(dst, src, cu_run_opts, CU_RUN_OPTS_INIT);
  return rc ? rc : validate_opts(dst);
}
