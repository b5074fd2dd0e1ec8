/* SPDX-License-Identifier: MIT */
/*
 * Starting a job: every check happens before anything is spawned (sticky
 * builder errors, context allowlist, environment, ARG_MAX, cwd, stdin,
 * before hooks), then pipes are made and the stages spawned in order. Any
 * failure part-way kills and reaps what was started and closes every fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "catalogue/confine_rules.h"
#include "context/tags.h"
#include "runtime/job_internal.h"
#include "spawn/confine.h"
#include "spawn/proc.h"

/* Set by cu_parallel_run() around starting an item (parallel.c); defined
 * here, where jobs read it, so the batch helper depends on job setup and
 * not the other way round. */
_Thread_local cu__batch_slot cu__current_batch;

/* pipe2 with O_CLOEXEC on both ends, both ends >= 3: every fd handed to a
 * child is >= 3, so its dup2 onto 0-2 never meets itself (dup2(fd, fd)
 * would keep FD_CLOEXEC and the child would lose it). */
static int make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) < 0)
    return -1;
  fds[0] = cu__fd_above2(fds[0]);
  fds[1] = cu__fd_above2(fds[1]);
  if (fds[0] < 0 || fds[1] < 0) {
    fds[0] = cu__close(fds[0]);
    fds[1] = cu__close(fds[1]);
    return -1;
  }
  return 0;
}

/* Only for fds this file just made with pipe2(O_CLOEXEC): their status
 * flags are known to be plain, so no F_GETFL round trip is needed (F_SETFL
 * ignores the access mode). */
static int set_nonblock(int fd) { return fcntl(fd, F_SETFL, O_NONBLOCK); }

/* make_pipe() with the parent's end (fds[parent_end]) non-blocking; on
 * failure both ends are closed and errno is kept. */
static int make_nonblocking_pipe(int fds[2], int parent_end) {
  if (make_pipe(fds) < 0)
    return -1;
  if (set_nonblock(fds[parent_end]) < 0) {
    int e = errno;
    fds[0] = cu__close(fds[0]);
    fds[1] = cu__close(fds[1]);
    errno = e;
    return -1;
  }
  return 0;
}

static int open_devnull(int flags) {
  return cu__fd_above2(open("/dev/null", flags | O_CLOEXEC));
}

/* Child-side fds made during set-up; all closed in the parent after spawn. */
typedef struct setup {
  int cwd_fd;
  int in_child;  /* stage 0 stdin */
  int out_child; /* last stage stdout */
  int *err_child; /* per stage */
  int *link_r, *link_w; /* n-1 inter-stage pipes */
  cu__confine_child *confine; /* per stage: the confinement hook's */
  cu__envp env;
  cu_stream_backend backend;
  int err_no; /* errno of the failed set-up step, taken when it failed */
  cu_output_opts out_opts, err_opts;
} setup;

static void setup_close(setup *s, size_t n) {
  s->cwd_fd = cu__close(s->cwd_fd);
  s->in_child = cu__close(s->in_child);
  s->out_child = cu__close(s->out_child);
  for (size_t i = 0; s->err_child && i < n; i++)
    s->err_child[i] = cu__close(s->err_child[i]);
  for (size_t i = 0; s->link_r && i + 1 < n; i++) {
    s->link_r[i] = cu__close(s->link_r[i]);
    s->link_w[i] = cu__close(s->link_w[i]);
  }
  for (size_t i = 0; s->confine && i < n; i++)
    cu__confine_close(&s->confine[i]);
}

static void setup_free(setup *s, size_t n) {
  setup_close(s, n);
  free(s->err_child);
  free(s->link_r);
  free(s->link_w);
  free(s->confine);
  cu__env_free(&s->env);
}

static int fail_stage(cu_result *failed, int rc, cu_spawn_step stage,
                      int err_no) {
  if (failed) {
    failed->error = rc;
    failed->spawn_step = stage;
    failed->spawn_errno = err_no;
  }
  return rc;
}

/* Checks that need no resources: commands, context, env, ARG_MAX. */
static int preflight(const cu__job_spec *spec, cu__ctx *ctx,
                     const cu__ctx_defaults *d, setup *s) {
  const cu_run_opts *o = spec->opts; /* loaded and validated by the caller */
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < spec->n; i++) {
    const cu_cmd *cmd = spec->cmds[i];
    if (!cmd)
      rc = cu__cmd_null(spec->n > 1 ? "a pipeline stage" : "the run");
    else if ((rc = cu__cmd_check(cmd)) == 0)
      rc = cu__ctx_check(ctx, cmd);
  }
  if (rc == 0)
    rc = cu__env_validate(d->env, d->n_env);
  if (rc == 0)
    rc = cu__env_validate(o->env, o->n_env);
  if (rc == 0)
    rc = cu__env_build(d->env, d->n_env, o->env, o->n_env, o->clear_env,
                       &s->env);
  for (size_t i = 0; rc == 0 && i < spec->n; i++)
    rc = cu__argv_budget(spec->cmds[i]->argv, s->env.envp);
  if (rc == 0)
    rc = cu__check_sigchld();
  if (rc == 0 && o->cancel && cu_cancel_triggered(o->cancel))
    rc = cu__fail(CU_ECANCELED, "cancelled before the run started");
  if (rc == 0)
    rc = cu_stream_backend_resolve(o->backend, &s->backend);
  return rc;
}

/* Fail a set-up step, keeping its errno in the setup at the moment it
 * failed: later clean-up (close, free) may change errno, and a failure
 * without a system call (not a directory) must not report whatever errno an
 * earlier, unrelated call left behind (result->spawn_errno). */
__attribute__((format(printf, 4, 5))) static int
setup_fail(setup *s, int rc, int err_no, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  s->err_no = err_no;
  return err_no ? cu__fail_errno(rc, err_no, "%s", msg)
                : cu__fail(rc, "%s", msg);
}

static int open_cwd(const char *cwd, setup *s) {
  if (!cwd)
    return 0;
  struct stat st;
  if (stat(cwd, &st) < 0)
    return setup_fail(s, CU_ECWD, errno, "working directory '%s'", cwd);
  if (!S_ISDIR(st.st_mode))
    return setup_fail(s, CU_ECWD, ENOTDIR, "working directory '%s'", cwd);
  if (access(cwd, X_OK) < 0)
    return setup_fail(s, CU_ECWD, errno, "working directory '%s'", cwd);
  s->cwd_fd = cu__fd_above2(open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (s->cwd_fd < 0)
    return setup_fail(s, CU_ECWD, errno, "working directory '%s'", cwd);
  return 0;
}

/*
 * The bytes a child reads are the bytes as they were when the run started,
 * whatever the caller does with its buffer afterwards and however late a
 * descendant reads: what the empty pipe takes now is copied into the kernel
 * at once (no allocation for the common small input), the rest into a
 * private copy fed by the loop. A caller blocked in the run until it ends
 * (spec->stdin_borrowed) cannot change its buffer meanwhile, so the rest is
 * written straight from it: write(2) copies, and nothing reads the buffer
 * after the run has returned.
 */
static int snapshot_stdin(cu__job *job, const void *data, size_t len,
                          setup *s, bool borrowed) {
  ssize_t w;
  do
    w = write(job->w_in.fd, data, len);
  while (w < 0 && errno == EINTR);
  if (w < 0 && errno != EAGAIN)
    return setup_fail(s, CU_ESYS, errno, "writing stdin into its pipe");
  size_t done = w > 0 ? (size_t)w : 0;
  job->stdin_bytes = done;
  size_t rest = len - done;
  if (rest == 0) {
    /* All in the pipe: the child sees EOF after it, and the run does not
     * wait for the pipe to drain (a descendant may read it much later). */
    job->w_in.fd = cu__close(job->w_in.fd);
    job->stdin_fed_at_start = true;
    return 0;
  }
  const unsigned char *from = (const unsigned char *)data + done;
  if (!borrowed) {
    int rc = cu__job_stdin_copy_alloc(job, rest);
    if (rc != 0)
      return rc;
    memcpy(job->stdin_copy, from, rest);
    from = job->stdin_copy;
  }
  job->feeder = (cu__feeder){.data = from, .len = rest, .backend = s->backend};
  return 0;
}

static int open_stdin(cu__job *job, const cu_stdin_opts *in, setup *s,
                      bool spec_borrowed) {
  switch (in->mode) {
  case CU_STDIN_INHERIT:
    return 0;
  case CU_STDIN_NULL:
    s->in_child = open_devnull(O_RDONLY);
    break;
  case CU_STDIN_FILE:
    s->in_child = cu__fd_above2(open(in->path, O_RDONLY | O_CLOEXEC));
    if (s->in_child < 0)
      return setup_fail(s, CU_ESTDIN, errno, "stdin file '%s'", in->path);
    return 0;
  case CU_STDIN_FD:
    s->in_child = fcntl(in->fd, F_DUPFD_CLOEXEC, 3);
    if (s->in_child < 0)
      return setup_fail(s, CU_ESTDIN, errno, "stdin fd %d", in->fd);
    return 0;
  case CU_STDIN_BYTES: {
    if (in->len == 0) {
      s->in_child = open_devnull(O_RDONLY);
      break;
    }
    int p[2];
    if (make_nonblocking_pipe(p, 1) < 0)
      return setup_fail(s, CU_ESYS, errno, "stdin pipe");
    s->in_child = p[0];
    job->w_in.fd = p[1];
    return snapshot_stdin(job, in->data, in->len, s,
                          spec_borrowed);
  }
  }
  if (s->in_child < 0)
    return setup_fail(s, CU_ESYS, errno, "opening /dev/null");
  return 0;
}

/* Child end for one output stream; a parent read end + stream if piped. */
static int open_output(cu__job *job, const cu_output_opts *o, int which,
                       int *ret_child, int *ret_parent,
                       cu__outstream **ret_stream, setup *s,
                       cu__stage *stage) {
  *ret_child = -1;
  switch (o->mode) {
  case CU_STREAM_INHERIT:
    return 0;
  case CU_STREAM_DISCARD:
    *ret_child = open_devnull(O_WRONLY);
    return *ret_child < 0 ? setup_fail(s, CU_ESYS, errno, "/dev/null") : 0;
  case CU_STREAM_FD:
    *ret_child = fcntl(o->fd, F_DUPFD_CLOEXEC, 3);
    return *ret_child < 0
               ? setup_fail(s, CU_EINVAL, errno, "output fd %d", o->fd)
               : 0;
  case CU_STREAM_CAPTURE:
  case CU_STREAM_TEE:
  case CU_STREAM_ECHO:
    break;
  }
  int p[2];
  if (make_nonblocking_pipe(p, 0) < 0)
    return setup_fail(s, CU_ESYS, errno, "output pipe");
  *ret_child = p[1];
  *ret_parent = p[0];
  const cu_run_opts *ro = job_opts_of(job);
  cu__outstream_cfg cfg = {
      .capture = o->mode != CU_STREAM_ECHO,
      .max_capture = ro->max_capture,
      .overflow = ro->overflow,
      .echo_fd = -1,
      .backend = s->backend,
  };
  if (o->mode != CU_STREAM_CAPTURE) {
    cfg.echo_cb = o->sink;
    cfg.echo_data = o->sink_data;
    cfg.echo_fd = o->sink ? -1 : (o->echo_fd > 0 ? o->echo_fd : which);
  }
  if (job->observed && cu__ctx_wants_lines(job->ctx)) {
    cfg.on_line = which == 1 ? cu__job_stdout_line : cu__job_stderr_line;
    cfg.line_data = stage;
  }
  return cu__outstream_new(&cfg, ret_stream);
}

/* A tapped stage: stage i writes to pipe A, the parent relays A to pipe B,
 * stage i+1 reads B. The child ends go where a direct link would. */
static int open_tap(cu__job *job, size_t i, const cu__job_spec *spec,
                    setup *s) {
  int a[2], b[2];
  if (make_pipe(a) < 0)
    return setup_fail(s, CU_ESYS, errno, "pipe for a tapped stage");
  if (make_pipe(b) < 0) {
    cu__close(a[0]);
    cu__close(a[1]);
    return setup_fail(s, CU_ESYS, errno, "pipe for a tapped stage");
  }
  s->link_w[i] = a[1];
  s->link_r[i] = b[0];
  cu__stage *st = &job->stages[i];
  st->w_tap_in.fd = a[0];
  st->w_tap_out.fd = b[1];
  if (set_nonblock(a[0]) < 0 || set_nonblock(b[1]) < 0)
    return setup_fail(s, CU_ESYS, errno, "tapped stage pipes");
  cu__outstream_cfg cfg = {.capture = spec->capture_taps,
                           .max_capture = spec->opts->max_capture,
                           .overflow = spec->opts->overflow,
                           .echo_fd = -1,
                           .backend = s->backend};
  if (job->observed && cu__ctx_wants_lines(job->ctx)) {
    cfg.on_line = cu__job_stdout_line;
    cfg.line_data = st;
  }
  cu__outstream *obs = NULL;
  st->relay = calloc(1, sizeof *st->relay);
  if (!st->relay)
    return setup_fail(s, CU_ENOMEM, ENOMEM, "allocating a pipeline relay");
  int rc = cu__outstream_new(&cfg, &obs);
  if (rc == 0)
    rc = cu__relay_init(st->relay, a[0], b[1], obs, s->backend);
  else
    st->relay->obs = NULL;
  if (rc != 0 && obs && !st->relay->obs)
    cu__outstream_free(obs);
  return rc;
}

static int open_links(cu__job *job, const cu__job_spec *spec, setup *s) {
  for (size_t i = 0; i + 1 < job->n; i++) {
    if (i < 64 && (spec->tap_stages >> i) & 1) {
      int rc = open_tap(job, i, spec, s);
      if (rc != 0)
        return rc;
      continue;
    }
    int p[2];
    if (make_pipe(p) < 0)
      return setup_fail(s, CU_ESYS, errno, "pipe between stages");
    s->link_r[i] = p[0];
    s->link_w[i] = p[1];
    /* A larger pipe lets stages run longer between context switches;
     * best effort (the per-user pipe budget may refuse it). */
    if (spec->pipe_size > 0)
      (void)fcntl(p[1], F_SETPIPE_SZ, spec->pipe_size);
  }
  return 0;
}

/*
 * The job's own descriptors exist before anything is spawned: running out
 * of descriptors then fails the run cleanly, and never leaves a started
 * child without the timer that escalates SIGTERM to SIGKILL.
 */
static int open_job_fds(cu__job *job, setup *s) {
  job->w_timer.fd = cu__fd_above2(
      timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (job->w_timer.fd < 0)
    return setup_fail(s, CU_ESYS, errno, "timerfd_create");
  if (job->cancel) {
    job->w_cancel.fd = fcntl(cu__cancel_fd(job->cancel), F_DUPFD_CLOEXEC, 3);
    if (job->w_cancel.fd < 0)
      return setup_fail(s, CU_ESYS, errno, "dup of the cancel token");
  }
  return 0;
}

static int open_streams(cu__job *job, const cu__job_spec *spec, setup *s) {
  int rc = open_job_fds(job, s);
  if (rc == 0)
    rc = open_cwd(job->cwd, s);
  if (rc == 0)
    rc = open_stdin(job, &spec->opts->in, s, spec->stdin_borrowed);
  if (rc == 0)
    rc = open_links(job, spec, s);
  cu__stage *last = &job->stages[job->n - 1];
  if (rc == 0)
    rc = open_output(job, &s->out_opts, 1, &s->out_child, &job->w_out.fd,
                     &job->out_stream, s, last);
  for (size_t i = 0; rc == 0 && i < job->n; i++)
    rc = open_output(job, &s->err_opts, 2, &s->err_child[i],
                     &job->stages[i].w_err.fd, &job->stages[i].err_stream, s,
                     &job->stages[i]);
  if (rc == CU_ENOMEM && s->err_no == 0)
    s->err_no = ENOMEM; /* from an allocation below this file */
  return rc;
}

/* Spawn failed at stage `k`: kill and reap stages 0..k-1. */
static void abort_spawned(cu__job *job, size_t k) {
  if (k > 0)
    cu__job_signal(job, SIGKILL);
  for (size_t i = 0; i < k; i++) {
    cu__reap(job->stages[i].pid, job->stages[i].pidfd);
    job->stages[i].pidfd = cu__close(job->stages[i].pidfd);
  }
}

/* The environment of stage `i`: the job's, plus TRACEPARENT/TRACESTATE
 * when a tracer propagates trace context (then `*owned` is a malloc'd
 * copy of the pointer array, entries borrowed except the two new ones). */
static char **stage_envp(cu__job *job, size_t i, setup *s, char **owned,
                         char *tp, size_t tp_cap, char *ts, size_t ts_cap) {
  *owned = NULL;
  if (!job->observed || !cu__ctx_propagates(job->ctx))
    return s->env.envp;
  cu_event ev;
  cu__job_stage_event(job, &job->stages[i], CU_EV_PLAN, &ev);
  size_t n = 0;
  memcpy(tp, "TRACEPARENT=", 12);
  memcpy(ts, "TRACESTATE=", 11);
  if (!cu__ctx_traceparent(job->ctx, &ev, tp + 12, tp_cap - 12, ts + 11,
                           ts_cap - 11))
    return s->env.envp;
  while (s->env.envp[n])
    n++;
  char **v = malloc((n + 3) * sizeof *v);
  if (!v)
    return s->env.envp; /* tracing is best effort: never fail a run */
  size_t k = 0;
  for (size_t j = 0; j < n; j++)
    if (strncmp(s->env.envp[j], "TRACEPARENT=", 12) != 0 &&
        strncmp(s->env.envp[j], "TRACESTATE=", 11) != 0)
      v[k++] = s->env.envp[j];
  v[k++] = tp;
  if (ts[11])
    v[k++] = ts;
  v[k] = NULL;
  *owned = (char *)v;
  return v;
}

static int spawn_stages(cu__job *job, setup *s, cu_result *failed) {
  bool use_pidfd = cu__pidfd_supported();
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    char *owned_env = NULL, tp[96], ts[600];
    char **envp = stage_envp(job, i, s, &owned_env, tp, sizeof tp, ts,
                             sizeof ts);
    cu__spawn_req req = {
        .path = st->cmd->path,
        .argv = st->cmd->argv,
        .envp = envp,
        .cwd_fd = s->cwd_fd,
        .fd_in = i == 0 ? s->in_child : s->link_r[i - 1],
        .fd_out = i + 1 == job->n ? s->out_child : s->link_w[i],
        .fd_err = s->err_child[i],
        .pgid = job->pgid,
        .setsid = job->new_session,
        .rlimits = job->rlimits,
        .n_rlimits = job->n_rlimits,
        .cgroup_fd = job->cg ? job->cg->dir_fd : 0,
        .confine = cu__confine_active(&s->confine[i]) ? cu__confine_apply
                                                      : NULL,
        .confine_arg = &s->confine[i],
    };
    int err_no = 0;
    cu_spawn_step where = CU_STEP_NONE;
    st->start_wall = cu__now(CLOCK_REALTIME);
    st->start_mono = cu__now(CLOCK_MONOTONIC);
    int rc = cu__spawn(&req, &st->pid, &err_no, &where);
    free(owned_env);
    /* A started child is a started child: without a pidfd (out of
     * descriptors: EMFILE, ENFILE) its exit is polled with waitid. */
    if (rc == 0 && use_pidfd)
      st->pidfd = cu__pidfd_open(st->pid);
    if (rc != 0 && i > 0) {
      /* Stages 0..i-1 ran and are killed below: say so, and never let this
       * look like a start that can simply be retried (cu__last_fail_errno
       * is cleared). */
      char msg[400];
      snprintf(msg, sizeof msg, "%s", cu_last_error());
      cu__fail(rc, "%s (the %zu stage(s) already started were killed)", msg,
               i);
    }
    if (rc != 0) {
      if (job->ret_failed_index)
        *job->ret_failed_index = (int)i;
      cu__job_emit_spawn_failed(job, st, rc, err_no);
      abort_spawned(job, i);
      return fail_stage(failed, rc, where, err_no);
    }
    if (i == 0)
      job->pgid = st->pid;
  }
  return 0;
}

static int alloc_job(const cu__job_spec *spec, cu__job **ret, setup *s) {
  /* Callers give 1 (a run) or >= 2 (a pipeline) stages; calloc(0) could
   * return NULL and be misread as out of memory. */
  if (spec->n == 0)
    return cu__fail(CU_EINVAL, "a job needs at least one stage");
  cu__job *job = calloc(1, sizeof *job);
  if (!job)
    return cu__fail(CU_ENOMEM, "allocating a job");
  *ret = job;
  /* Every fd field is -1 before anything can fail: the free path closes
   * what is >= 0, and calloc's 0 would close the caller's stdin. */
  job->w_out = job->w_in = job->w_timer = job->w_cancel =
      job->w_out_sink = (cu__watch){.job = job, .fd = -1};
  job->stages = calloc(spec->n, sizeof *job->stages);
  s->err_child = malloc(spec->n * sizeof(int));
  s->link_r = malloc(spec->n * sizeof(int));
  s->link_w = malloc(spec->n * sizeof(int));
  s->confine = calloc(spec->n, sizeof *s->confine); /* zeroed: no fds */
  if (!job->stages || !s->err_child || !s->link_r || !s->link_w ||
      !s->confine) {
    /* job->n stays 0: no stage is looked at; the set-up arrays go now,
     * uninitialised, so that setup_close() never reads them. */
    free(s->err_child);
    free(s->link_r);
    free(s->link_w);
    free(s->confine);
    s->err_child = s->link_r = s->link_w = NULL;
    s->confine = NULL;
    return cu__fail(CU_ENOMEM, "allocating a job");
  }
  job->n = spec->n;
  job->fail_index = -1;
  job->fail_mode = spec->fail_mode;
  job->sigpipe_fails = spec->sigpipe_fails;
  job->ret_failed_index = spec->ret_failed_index;
  job->w_out = (cu__watch){.job = job, .fd = -1, .kind = CU__W_OUT};
  job->w_in = (cu__watch){.job = job, .fd = -1, .kind = CU__W_IN};
  job->w_timer = (cu__watch){.job = job, .fd = -1, .kind = CU__W_TIMER};
  job->w_cancel = (cu__watch){.job = job, .fd = -1, .kind = CU__W_CANCEL};
  job->w_cg = (cu__watch){.job = job, .fd = -1, .kind = CU__W_CGROUP};
  job->cg_cpu_us = job->cg_mem_peak = -1;
  job->w_out_sink = (cu__watch){.job = job, .fd = -1,
                                .kind = CU__W_OUT_SINK,
                                .stage = (uint16_t)(spec->n - 1)};
  for (size_t i = 0; i < spec->n; i++) {
    cu__stage *st = &job->stages[i];
    st->cmd = spec->cmds[i];
    st->pidfd = -1;
    st->exit_code = -1;
    st->exec_id = cu__next_exec_id();
    st->w_pid = (cu__watch){.job = job, .fd = -1, .kind = CU__W_PID,
                            .stage = (uint16_t)i};
    st->w_err = (cu__watch){.job = job, .fd = -1, .kind = CU__W_ERR,
                            .stage = (uint16_t)i};
    st->w_err_sink = (cu__watch){.job = job, .fd = -1,
                                 .kind = CU__W_ERR_SINK,
                                 .stage = (uint16_t)i};
    st->w_tap_in = (cu__watch){.job = job, .fd = -1, .kind = CU__W_TAP_IN,
                               .stage = (uint16_t)i};
    st->w_tap_out = (cu__watch){.job = job, .fd = -1, .kind = CU__W_TAP_OUT,
                                .stage = (uint16_t)i};
    s->err_child[i] = s->link_r[i] = s->link_w[i] = -1;
  }
  return 0;
}

/* Copy what must outlive the caller's opts (async tasks). */
static int copy_opts(cu__job *job, const cu__job_spec *spec,
                     const cu__ctx_defaults *d) {
  const cu_run_opts *o = spec->opts;
  job->opts_copy = *o;
  if (o->cwd && !(job->cwd = cu__strdup(o->cwd)))
    return cu__fail(CU_ENOMEM, "copying options");
  int rc = cu__tags_copy(d->tags, d->n_tags, o->tags, o->n_tags, &job->tags,
                         &job->n_tags);
  if (rc == 0)
    rc = cu__env_copy(d->env, d->n_env, o->env, o->n_env, &job->env,
                      &job->n_env);
  int64_t timeout = o->timeout_ms ? o->timeout_ms : d->timeout_ms;
  int64_t grace = o->grace_ms ? o->grace_ms : d->grace_ms;
  job->deadline_ns = timeout > 0 ? timeout * 1000000 : 0;
  job->grace_ns = grace == CU_GRACE_NONE ? -1
                  : grace > 0            ? grace * 1000000
                                         : CU_GRACE_DEFAULT_MS * 1000000LL;
  job->cancel = o->cancel;
  job->new_session = o->new_session;
  return rc;
}

static void adjust_outputs(setup *s, const cu_run_opts *o,
                           const cu__ctx_defaults *d) {
  s->out_opts = o->out;
  s->err_opts = o->err;
  if (d->echo_output) {
    if (s->out_opts.mode == CU_STREAM_CAPTURE)
      s->out_opts.mode = CU_STREAM_TEE;
    if (s->err_opts.mode == CU_STREAM_CAPTURE)
      s->err_opts.mode = CU_STREAM_TEE;
  }
}

/* The setrlimit(2) resource of an rlimit kind, or -1 for cgroup kinds. */
static int rlimit_resource(cu_limit_kind k) {
  switch (k) {
  case CU_LIMIT_CPU:
    return RLIMIT_CPU;
  case CU_LIMIT_AS:
    return RLIMIT_AS;
  case CU_LIMIT_DATA:
    return RLIMIT_DATA;
  case CU_LIMIT_NOFILE:
    return RLIMIT_NOFILE;
  case CU_LIMIT_NPROC:
    return RLIMIT_NPROC;
  case CU_LIMIT_CORE:
    return RLIMIT_CORE;
  case CU_LIMIT_FSIZE:
    return RLIMIT_FSIZE;
  default:
    return -1;
  }
}

/*
 * Limits and containment: the rlimits each child sets on itself, and the
 * run's cgroup (one per job: a pipeline shares it). A cgroup limit implies
 * containment. REQUIRE (or implied) fails the run when no cgroup can be
 * made; BEST_EFFORT falls back to the process group and says why in the
 * contain note. Returns 0 or a CU_E* code (message set).
 */
static int setup_contain(cu__job *job, const cu_run_opts *o) {
  bool cg_limit = false;
  for (size_t i = 0; i < o->n_limits; i++) {
    int res = rlimit_resource(o->limits[i].kind);
    if (res < 0) {
      cg_limit = true;
      continue;
    }
    /* A later entry of the same kind wins. */
    size_t k = 0;
    while (k < job->n_rlimits && job->rlimits[k].resource != res)
      k++;
    if (k == job->n_rlimits)
      job->n_rlimits++;
    rlim_t v = (rlim_t)o->limits[i].value;
    job->rlimits[k].resource = res;
    job->rlimits[k].lim.rlim_cur = v;
    /* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
    job->rlimits[k].lim.rlim_max = res == RLIMIT_CPU ? v + 1 : v;
  }
  cu_contain_mode mode = o->contain;
  if (mode == CU_CONTAIN_OFF && cg_limit)
    mode = CU_CONTAIN_REQUIRE;
  if (mode == CU_CONTAIN_OFF)
    return 0;
  char skipped[256];
  int rc = cu__cgroup_create(o->cgroup_parent, o->limits, o->n_limits,
                             o->limits_best_effort, &job->cg, skipped,
                             sizeof skipped);
  if (rc != 0) {
    if (mode == CU_CONTAIN_REQUIRE)
      return rc;
    snprintf(job->contain_note, sizeof job->contain_note,
             "not contained (process group only): %s", cu_last_error());
    cu__clear_error();
    return 0;
  }
  job->contained = true;
  snprintf(job->contain_note, sizeof job->contain_note, "%s%s%s",
           job->cg->path, skipped[0] ? "; " : "", skipped);
  return 0;
}

/* "no_new_privs, Landlock ABI 7: fs, net" for the enforced bits. */
static void confine_describe(unsigned bits, char *buf, size_t len) {
  bool ll = bits & (CU_CONFINED_FS | CU_CONFINED_NET);
  snprintf(buf, len, "%s%s%.0d%s%s%s%s",
           bits & CU_CONFINED_NO_NEW_PRIVS ? "no_new_privs" : "",
           ll ? ", Landlock ABI " : "", ll ? cu_landlock_abi() : 0,
           ll ? ": " : "", bits & CU_CONFINED_FS ? "fs" : "",
           (bits & CU_CONFINED_FS) && (bits & CU_CONFINED_NET) ? "+" : "",
           bits & CU_CONFINED_NET ? "net" : "");
}

/*
 * Confinement: per stage, the program's project's rules (a first Landlock
 * layer) and the run's (a second one on top: the kernel enforces both, so
 * a run can only narrow what its project allows). Rulesets are built here
 * in the parent; each child only enforces them. Returns 0 or a CU_E* code
 * (message set); what was prepared is closed by setup_close().
 */
static int setup_confine(cu__job *job, const cu__job_spec *spec, setup *s) {
  const cu_run_opts *o = spec->opts;
  cu_confine run;
  bool run_wanted = false;
  if (o->confine) {
    int rc = cu__confine_load(o->confine, &run, "confine");
    if (rc != 0)
      return rc;
    run_wanted = cu__confine_wanted(&run);
  }
  bool any = false;
  unsigned all = ~0U;
  char skipped[256] = "";
  for (size_t i = 0; i < job->n; i++) {
    const cu_cmd *cmd = job->stages[i].cmd;
    const cu_confine *proj = cu_project_confine(cmd->project);
    unsigned bits = 0;
    int rc = 0;
    if (proj) {
      rc = cu__confine_prepare(proj, cmd->path, &s->confine[i], &bits,
                               skipped, sizeof skipped);
      if (rc != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", cu_last_error());
        int err_no = cu__last_fail_errno();
        cu__fail(rc, "project '%s': %s", cu_project_name(cmd->project), msg);
        cu__set_last_fail_errno(err_no);
      }
    }
    if (rc == 0 && run_wanted)
      rc = cu__confine_prepare(&run, cmd->path, &s->confine[i], &bits,
                               skipped, sizeof skipped);
    if (rc != 0)
      return rc;
    any = any || proj || run_wanted;
    all &= bits;
  }
  if (!any)
    return 0;
  job->confined = all;
  char what[96];
  confine_describe(all, what, sizeof what);
  snprintf(job->confine_note, sizeof job->confine_note, "%s%s%s",
           what[0] ? what : "nothing enforced",
           skipped[0] ? "; " : "", skipped);
  return 0;
}

int cu__job_start(struct cu_loop *loop, const cu__job_spec *spec,
                  cu__job **ret, cu_result *failed) {
  cu__ctx *ctx = NULL;
  int rc = cu__ctx_capture(&ctx);
  if (rc != 0)
    return fail_stage(failed, rc, CU_STEP_VALIDATE, 0);
  cu__ctx_defaults d;
  cu__ctx_get_defaults(ctx, &d);
  setup s = {.cwd_fd = -1, .in_child = -1, .out_child = -1};
  cu__job *job = NULL;
  rc = preflight(spec, ctx, &d, &s);
  for (size_t i = 0; rc == 0 && i < spec->n; i++)
    rc = cu__ctx_before(ctx, spec->cmds[i]);
  if (rc == 0)
    rc = alloc_job(spec, &job, &s);
  if (rc != 0) {
    if (job)
      job->ctx = ctx;
    else
      cu__ctx_release(ctx);
    setup_free(&s, spec->n);
    cu__job_free(job);
    return fail_stage(failed, rc, CU_STEP_VALIDATE, 0);
  }
  job->loop = loop;
  job->ctx = ctx;
  job->observed = cu__ctx_has_observers(ctx);
  job->batch_id = cu__current_batch.id;
  job->batch_index = cu__current_batch.index;
  job->wants_noise = job->observed && cu__ctx_wants_noise(ctx);
  adjust_outputs(&s, spec->opts, &d);
  rc = copy_opts(job, spec, &d);
  if (rc == 0)
    rc = cu__job_build_event_tags(job);
  if (rc != 0) {
    setup_free(&s, spec->n);
    cu__job_free(job);
    return fail_stage(failed, rc, CU_STEP_VALIDATE, 0);
  }
  rc = setup_confine(job, spec, &s);
  if (rc != 0) {
    int err_no = cu__last_fail_errno();
    setup_free(&s, spec->n);
    cu__job_free(job);
    return fail_stage(failed, rc, CU_STEP_CONFINE, err_no);
  }
  rc = setup_contain(job, spec->opts);
  if (rc != 0) {
    int err_no = cu__last_fail_errno();
    setup_free(&s, spec->n);
    cu__job_free(job);
    return fail_stage(failed, rc, CU_STEP_CGROUP, err_no);
  }
  rc = open_streams(job, spec, &s);
  if (rc != 0) {
    setup_free(&s, spec->n);
    cu__job_free(job);
    return fail_stage(failed, rc,
                      rc == CU_ECWD ? CU_STEP_CWD : CU_STEP_PIPES, s.err_no);
  }
  cu__job_emit_plan(job);
  job->start_wall = cu__now(CLOCK_REALTIME);
  job->start_mono = cu__now(CLOCK_MONOTONIC);
  rc = spawn_stages(job, &s, failed);
  setup_free(&s, spec->n);
  if (rc == 0)
    rc = cu__job_arm(job);
  if (rc != 0) {
    cu__job_free(job);
    return rc;
  }
  cu__job_emit_start(job);
  if (job->stdin_fed_at_start)
    cu__job_emit_stdin(job, 0, 0);
  *ret = job;
  return 0;
}
