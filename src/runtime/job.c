/* SPDX-License-Identifier: MIT */
/* The job state machine: events in, signals out, one result at the end. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "context/tags.h"
#include "runtime/job_internal.h"
#include "spawn/proc.h"

/* After SIGKILL, how long to keep waiting for EOF once every stage has
 * exited: a descendant that left the process group may hold our pipes. */
#define CU__GIVEUP_NS (200LL * 1000000)
/* Exit polling without pidfds: start fast, back off to this. */
#define CU__POLL_MAX_MS 20

/* Is the parent still reading a stage's output or feeding its stdin? An
 * fd is closed (set to -1) exactly when its stream is done. */
static bool streams_open(const cu__job *job) {
  if (job->w_out.fd >= 0 || job->w_in.fd >= 0)
    return true;
  for (size_t i = 0; i < job->n; i++)
    if (job->stages[i].w_err.fd >= 0 || job->stages[i].w_tap_in.fd >= 0)
      return true;
  return false;
}

static bool all_exited(const cu__job *job) {
  for (size_t i = 0; i < job->n; i++)
    if (!job->stages[i].exited)
      return false;
  return true;
}

static int timer_update(cu__job *job) {
  int64_t next = 0;
  int64_t cands[4] = {job->state == CU__J_RUNNING ? job->deadline_ns : 0,
                      job->state == CU__J_TERMINATING ? job->kill_at_ns : 0,
                      job->state == CU__J_KILLING ? job->giveup_at_ns : 0,
                      job->poll_at_ns};
  for (int i = 0; i < 4; i++)
    if (cands[i] > 0 && (next == 0 || cands[i] < next))
      next = cands[i];
  if (next == 0 && job->w_timer.fd < 0)
    return 0;
  if (job->w_timer.fd < 0) {
    job->w_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (job->w_timer.fd < 0)
      return cu__fail_errno(CU_ESYS, errno, "timerfd_create");
    int rc = cu__loop_watch(job->loop, &job->w_timer, EPOLLIN);
    if (rc != 0)
      return rc;
  }
  if (next == job->timer_at_ns)
    return 0; /* already armed for that: no system call per batch */
  struct itimerspec its = {0};
  if (next > 0) {
    its.it_value.tv_sec = next / 1000000000;
    its.it_value.tv_nsec = next % 1000000000;
  }
  if (timerfd_settime(job->w_timer.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
    return cu__fail_errno(CU_ESYS, errno, "timerfd_settime");
  job->timer_at_ns = next;
  return 0;
}

static void schedule_poll(cu__job *job, int64_t now, bool reset) {
  if (all_exited(job)) {
    job->poll_at_ns = 0;
    return;
  }
  if (reset || job->poll_step_ms == 0)
    job->poll_step_ms = 1;
  else if (job->poll_step_ms < CU__POLL_MAX_MS)
    job->poll_step_ms *= 2;
  job->poll_at_ns = now + job->poll_step_ms * 1000000;
}

int cu__job_arm(cu__job *job) {
  int rc = 0;
  bool polling = false;
  for (size_t i = 0; rc == 0 && i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    st->w_pid.fd = st->pidfd;
    if (st->pidfd >= 0)
      rc = cu__loop_watch(job->loop, &st->w_pid, EPOLLIN);
    else
      polling = true;
    if (rc == 0 && st->w_err.fd >= 0)
      rc = cu__loop_watch(job->loop, &st->w_err, EPOLLIN);
    if (rc == 0 && st->relay)
      rc = cu__loop_watch(job->loop, &st->w_tap_in, EPOLLIN);
  }
  if (rc == 0 && job->w_out.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_out, EPOLLIN);
  if (rc == 0 && job->w_in.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_in, EPOLLOUT);
  if (rc == 0 && job->cancel) {
    job->w_cancel.fd = fcntl(cu__cancel_fd(job->cancel), F_DUPFD_CLOEXEC, 3);
    rc = job->w_cancel.fd < 0
             ? cu__fail_errno(CU_ESYS, errno, "dup of the cancel token")
             : cu__loop_watch(job->loop, &job->w_cancel, EPOLLIN);
  }
  int64_t now = cu__mono_ns();
  if (job->deadline_ns > 0)
    job->deadline_ns += now;
  if (polling)
    schedule_poll(job, now, true);
  if (rc == 0)
    rc = timer_update(job);
  if (rc == 0)
    cu__loop_job_added(job->loop, job);
  return rc;
}

static void send_group(cu__job *job, int sig) {
  /* Stages are never reaped before the job ends, so the leader's pid (the
   * group id) cannot have been reused. */
  if (job->pgid > 0)
    kill(-job->pgid, sig);
  cu__stage *st0 = &job->stages[0];
  bool term = sig == SIGTERM;
  if (term)
    job->sent_term = true;
  else
    job->sent_kill = true;
  cu__job_emit_simple(job, st0, term ? CU_EV_TERM_SENT : CU_EV_KILL_SENT);
}

static void start_killing(cu__job *job, int64_t now) {
  job->state = CU__J_KILLING;
  send_group(job, SIGKILL);
  job->giveup_at_ns = now + CU__GIVEUP_NS;
}

/* Timeout, cancel, overflow or fail-fast: TERM, grace, KILL. */
static void terminate(cu__job *job) {
  if (job->state != CU__J_RUNNING)
    return;
  for (size_t i = 0; i < job->n; i++)
    if (!job->stages[i].exited)
      job->stages[i].terminated = true;
  int64_t now = cu__mono_ns();
  if (job->grace_ns < 0) {
    start_killing(job, now);
    return;
  }
  job->state = CU__J_TERMINATING;
  send_group(job, SIGTERM);
  job->kill_at_ns = now + job->grace_ns;
}

void cu__job_cancel(cu__job *job) {
  if (job->state == CU__J_DONE || job->cancelled)
    return;
  job->cancelled = true;
  cu__job_emit_simple(job, &job->stages[0], CU_EV_CANCEL);
  terminate(job);
}

static void close_watch(cu__job *job, cu__watch *w) {
  if (w->fd < 0)
    return;
  cu__loop_unwatch(job->loop, w);
  w->fd = cu__close(w->fd);
}

static void close_stream(cu__job *job, cu__watch *w, cu__outstream *s) {
  if (w->fd < 0)
    return;
  close_watch(job, w);
  cu__outstream_finish(s);
  if (!cu__pidfd_supported())
    schedule_poll(job, cu__mono_ns(), true); /* exit is likely near */
}

static void on_output(cu__job *job, cu__watch *w) {
  job->stamp_ok = false;
  cu__outstream *s = w->kind == CU__W_OUT ? job->out_stream
                                          : job->stages[w->stage].err_stream;
  int rc = cu__outstream_drain(s, w->fd);
  if (cu__outstream_overflowed(s) && !job->overflowed) {
    job->overflowed = true;
    terminate(job);
  }
  /* EOF, a read error, or nobody wants the bytes any more. */
  if (rc != 0 || cu__outstream_unwanted(s))
    close_stream(job, w, s);
}

static void close_relay(cu__job *job, cu__stage *st) {
  if (!st->relay || st->w_tap_in.fd < 0)
    return;
  /* Closing both ends: EOF downstream, SIGPIPE upstream if it writes. */
  close_watch(job, &st->w_tap_in);
  close_watch(job, &st->w_tap_out);
  cu__outstream_finish(st->relay->obs);
}

static void on_relay(cu__job *job, cu__stage *st) {
  job->stamp_ok = false;
  int v = cu__relay_step(st->relay);
  if (v == CU__RELAY_DONE) {
    close_relay(job, st);
    return;
  }
  /* Wait on one side only, or level-triggered epoll would spin on the
   * other (an empty pipe's write end is always writable). */
  bool want_out = v == CU__RELAY_WANT_OUT;
  cu__watch *on = want_out ? &st->w_tap_out : &st->w_tap_in;
  cu__watch *off = want_out ? &st->w_tap_in : &st->w_tap_out;
  cu__loop_unwatch(job->loop, off);
  if (!on->armed && cu__loop_watch(job->loop, on, want_out ? EPOLLOUT : EPOLLIN))
    close_relay(job, st);
  if (cu__outstream_overflowed(st->relay->obs) && !job->overflowed) {
    job->overflowed = true;
    terminate(job);
  }
}

static void on_stdin(cu__job *job) {
  int err_no = 0;
  size_t before = job->feeder.off;
  int rc = cu__feeder_pump(&job->feeder, job->w_in.fd, &err_no);
  job->stdin_bytes += job->feeder.off - before;
  if (rc == 0)
    return;
  close_watch(job, &job->w_in);
  cu__job_emit_stdin(job, rc < 0 ? rc : 0, err_no);
}

static void record_exit(cu__job *job, cu__stage *st, int status) {
  st->exited = true;
  st->new_exit = true;
  st->end_wall = cu__now(CLOCK_REALTIME);
  st->end_mono = cu__now(CLOCK_MONOTONIC);
  if (WIFSIGNALED(status)) {
    st->exit_code = -1;
    st->term_signal = WTERMSIG(status);
  } else {
    st->exit_code = WEXITSTATUS(status);
    st->term_signal = 0;
  }
  if (st->w_pid.fd >= 0)
    cu__loop_unwatch(job->loop, &st->w_pid); /* pidfd kept until reaped */
}

/* A stage's EXIT event comes after its last line: once it has exited and
 * every stream of its own that the parent reads is closed. */
static void emit_ready_exits(cu__job *job) {
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    bool open = st->w_err.fd >= 0 || st->w_tap_in.fd >= 0 ||
                (i + 1 == job->n && job->w_out.fd >= 0);
    if (st->exited && !st->exit_emitted && !open)
      cu__job_emit_exit(job, st);
  }
}

/*
 * Someone else reaped our child: code in the process that reaps every
 * child (libpipeline's SIGCHLD handler does). Its status is lost; the
 * run ends with CU_ESYS saying so instead of waiting (or spinning on a
 * pidfd that stays readable) for ever.
 */
static void exit_stolen(cu__job *job, cu__stage *st) {
  record_exit(job, st, 0);
  st->exit_code = -1;
  st->reaped = true; /* nothing left to reap */
  if (job->error == 0)
    job->error = cu__fail(CU_ESYS,
                          "the exit status of '%s' (pid %d) was taken by "
                          "other code in this process (a SIGCHLD handler "
                          "that reaps every child?)",
                          st->cmd->program.name, (int)st->pid);
}

static void check_exit(cu__job *job, cu__stage *st) {
  int status = 0;
  if (st->exited)
    return;
  int rc = cu__peek_exit(st->pid, st->pidfd, &status);
  if (rc == 1)
    record_exit(job, st, status);
  else if (rc < 0 && errno == ECHILD)
    exit_stolen(job, st);
}

static void on_timer(cu__job *job) {
  uint64_t ticks;
  while (read(job->w_timer.fd, &ticks, sizeof ticks) > 0) {
  }
  job->timer_at_ns = 0; /* a one-shot timer that fired is disarmed */
  int64_t now = cu__mono_ns();
  if (job->poll_at_ns > 0 && now >= job->poll_at_ns) {
    for (size_t i = 0; i < job->n; i++)
      check_exit(job, &job->stages[i]);
    schedule_poll(job, now, false);
  }
  if (job->state == CU__J_RUNNING && job->deadline_ns > 0 &&
      now >= job->deadline_ns) {
    job->timed_out = true;
    cu__job_emit_simple(job, &job->stages[0], CU_EV_TIMEOUT);
    terminate(job);
  } else if (job->state == CU__J_TERMINATING && now >= job->kill_at_ns) {
    start_killing(job, now);
  }
}

void cu__job_on_event(cu__job *job, cu__watch *w) {
  switch ((cu__wkind)w->kind) {
  case CU__W_OUT:
  case CU__W_ERR:
    on_output(job, w);
    break;
  case CU__W_IN:
    on_stdin(job);
    break;
  case CU__W_PID:
    check_exit(job, &job->stages[w->stage]);
    break;
  case CU__W_TIMER:
    on_timer(job);
    break;
  case CU__W_CANCEL:
    close_watch(job, &job->w_cancel);
    cu__job_cancel(job);
    break;
  case CU__W_TAP_IN:
  case CU__W_TAP_OUT:
    on_relay(job, &job->stages[w->stage]);
    break;
  case CU__W_WAKE:
    break;
  }
}

/* Does this stage's ending count as a failure under the policy? */
static bool stage_failed(const cu__job *job, const cu__stage *st) {
  if (st->terminated)
    return false; /* we signalled it; the cause is recorded elsewhere */
  if (st->term_signal == SIGPIPE && st != &job->stages[job->n - 1])
    return job->sigpipe_fails; /* its reader went away first */
  return st->exit_code != 0;
}

/* "First" failure: earliest observed exit; within one batch of events the
 * lowest stage index wins, so the choice does not depend on epoll order. */
static void apply_policy(cu__job *job) {
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    if (!st->new_exit)
      continue;
    st->new_exit = false;
    st->failed = stage_failed(job, st);
    if (st->failed && job->fail_index < 0) {
      job->fail_index = (int)i;
      if (job->fail_mode == CU__FAIL_FAST && job->n > 1)
        terminate(job);
    }
  }
}

static void finish(cu__job *job) {
  job->state = CU__J_DONE;
  job->stamp_ok = false;
  job->end_wall = cu__now(CLOCK_REALTIME);
  job->end_mono = cu__now(CLOCK_MONOTONIC);
  close_stream(job, &job->w_out, job->out_stream);
  close_watch(job, &job->w_in);
  for (size_t i = 0; i < job->n; i++) {
    close_stream(job, &job->stages[i].w_err, job->stages[i].err_stream);
    close_relay(job, &job->stages[i]);
  }
  close_watch(job, &job->w_timer);
  close_watch(job, &job->w_cancel);
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    if (!st->reaped)
      cu__reap(st->pid, st->pidfd);
    st->reaped = true;
    st->pidfd = cu__close(st->pidfd);
    st->w_pid.fd = -1;
    if (st->err_stream)
      cu__outstream_take(st->err_stream, &st->err);
    if (st->relay && st->relay->obs)
      cu__outstream_take(st->relay->obs, &st->out);
  }
  if (job->out_stream)
    cu__outstream_take(job->out_stream, &job->out);
  emit_ready_exits(job);
  cu__loop_job_done(job->loop, job);
}

void cu__job_after_batch(cu__job *job) {
  job->dirty = false;
  if (job->state == CU__J_DONE)
    return;
  apply_policy(job);
  int64_t now = cu__mono_ns();
  bool exited = all_exited(job);
  if (exited && job->state == CU__J_KILLING && now >= job->giveup_at_ns) {
    /* A descendant outside the group holds our pipes: stop waiting. */
    close_stream(job, &job->w_out, job->out_stream);
    for (size_t i = 0; i < job->n; i++) {
      close_stream(job, &job->stages[i].w_err, job->stages[i].err_stream);
      close_relay(job, &job->stages[i]);
    }
    close_watch(job, &job->w_in);
  }
  if (exited && !streams_open(job)) {
    finish(job);
    return;
  }
  emit_ready_exits(job);
  if (timer_update(job) != 0 && job->error == 0)
    job->error = CU_ESYS;
}

static void fill_result(const cu__job *job, const cu__stage *st,
                        cu_result *r) {
  r->exit_code = st->exit_code;
  r->term_signal = st->term_signal;
  r->pid = st->pid;
  r->start_wall = st->start_wall;
  r->start_mono = st->start_mono;
  r->end_wall = st->exited ? st->end_wall : job->end_wall;
  r->end_mono = st->exited ? st->end_mono : job->end_mono;
  r->duration_ns = cu__ts_ns(r->end_mono) - cu__ts_ns(r->start_mono);
  r->timed_out = job->timed_out;
  r->cancelled = job->cancelled;
  r->overflowed = job->overflowed;
  r->sent_term = job->sent_term;
  r->sent_kill = job->sent_kill;
  r->terminated = st->terminated;
  r->error = job->error;
}

static int empty_bytes(cu_bytes *b) {
  if (b->data)
    return 0;
  b->data = calloc(1, 1);
  return b->data ? 0 : CU_ENOMEM;
}

int cu__job_stage_result(cu__job *job, size_t i, bool take_out,
                         cu_result *r) {
  cu__stage *st = &job->stages[i];
  fill_result(job, st, r);
  r->err = st->err;
  st->err = (cu_bytes){0};
  if (take_out) {
    r->out = job->out;
    job->out = (cu_bytes){0};
  } else {
    r->out = st->out; /* a tapped stage's capture, else empty */
    st->out = (cu_bytes){0};
  }
  r->ok = r->exit_code == 0 && !r->timed_out && !r->cancelled &&
          !r->overflowed && r->error == 0;
  int rc = cu__tags_copy(job->tags, job->n_tags, NULL, 0, &r->tags,
                         &r->n_tags);
  if (rc == 0)
    rc = empty_bytes(&r->out);
  if (rc == 0)
    rc = empty_bytes(&r->err);
  return rc;
}

cu_result *cu__job_take_result(cu__job *job) {
  cu_result *ret = cu__result_new();
  if (!ret)
    return NULL;
  if (cu__job_stage_result(job, 0, true, ret) != 0)
    ret->error = CU_ENOMEM;
  cu__ctx_after(job->ctx, job->stages[0].cmd, ret);
  return ret;
}

cu_pipeline_result *cu__job_take_pipeline_result(cu__job *job) {
  cu_pipeline_result *ret = cu__pipeline_result_new();
  if (!ret)
    return NULL;
  ret->fail_index = job->fail_index;
  ret->spawn_index = -1;
  ret->error = job->error;
  ret->timed_out = job->timed_out;
  ret->cancelled = job->cancelled;
  ret->start_mono = job->start_mono;
  ret->end_mono = job->end_mono;
  ret->duration_ns = cu__ts_ns(job->end_mono) - cu__ts_ns(job->start_mono);
  ret->stages = calloc(job->n, sizeof *ret->stages);
  if (!ret->stages) {
    ret->error = CU_ENOMEM;
    return ret;
  }
  ret->n_stages = job->n;
  for (size_t i = 0; i < job->n; i++) {
    cu_result *r = ret->stages[i] = cu__result_new();
    if (!r) {
      ret->error = CU_ENOMEM;
      continue;
    }
    if (cu__job_stage_result(job, i, i + 1 == job->n, r) != 0)
      ret->error = CU_ENOMEM;
    /* A stage is ok when it did not fail under the policy. */
    r->ok = !job->stages[i].failed && !r->timed_out && !r->cancelled &&
            !r->overflowed && r->error == 0 &&
            (r->exit_code == 0 || r->term_signal == SIGPIPE);
    cu__ctx_after(job->ctx, job->stages[i].cmd, r);
  }
  ret->ok = ret->fail_index < 0 && !job->timed_out && !job->cancelled &&
            !job->overflowed && ret->error == 0;
  return ret;
}

void cu__job_free(cu__job *job) {
  if (!job)
    return;
  /* A job freed before DONE (set-up failure after spawn): kill and reap so
   * nothing outlives it. */
  bool spawned = false;
  for (size_t i = 0; i < job->n; i++)
    spawned |= job->stages[i].pid > 0 && !job->stages[i].reaped;
  if (spawned && job->pgid > 0)
    kill(-job->pgid, SIGKILL);
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    if (st->pid > 0 && !st->reaped)
      cu__reap(st->pid, st->pidfd);
    close_watch(job, &st->w_err);
    if (st->w_pid.armed)
      cu__loop_unwatch(job->loop, &st->w_pid);
    cu__close(st->pidfd);
    cu__outstream_free(st->err_stream);
    free(st->err.data);
    close_watch(job, &st->w_tap_in);
    close_watch(job, &st->w_tap_out);
    if (st->relay) {
      cu__outstream_free(st->relay->obs);
      cu__relay_free(st->relay);
      free(st->relay);
    }
    free(st->out.data);
    cu__tags_free(st->ev_tags, st->n_ev_tags);
  }
  close_watch(job, &job->w_out);
  close_watch(job, &job->w_in);
  close_watch(job, &job->w_timer);
  close_watch(job, &job->w_cancel);
  cu__outstream_free(job->out_stream);
  free(job->out.data);
  free(job->stages);
  cu__env_vars_free(job->env, job->n_env);
  cu__tags_free(job->tags, job->n_tags);
  free(job->cwd);
  cu__ctx_release(job->ctx);
  free(job);
}
