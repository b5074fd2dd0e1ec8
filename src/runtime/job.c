/* SPDX-License-Identifier: MIT */
/* The job state machine: events in, signals out, one result at the end. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* The timerfd exists from job start (job_setup.c): running out of
 * descriptors later can never leave a run unable to escalate to SIGKILL. */
static int timer_update(cu__job *job) {
  int64_t next = 0;
  const int64_t cands[5] = {job->state == CU__J_RUNNING ? job->deadline_ns : 0,
                      job->state == CU__J_TERMINATING ? job->kill_at_ns : 0,
                      job->state == CU__J_KILLING ? job->giveup_at_ns : 0,
                      job->poll_at_ns, job->stop_check_at_ns};
  for (int i = 0; i < 5; i++)
    if (cands[i] > 0 && (next == 0 || cands[i] < next))
      next = cands[i];
  if (next == job->timer_at_ns || job->w_timer.fd < 0)
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

/* How often an observed run looks for stages stopped by a signal. */
#define CU__STOP_CHECK_MS 100

int cu__job_arm(cu__job *job) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    st->w_pid.fd = st->pidfd;
    if (st->pidfd >= 0)
      rc = cu__loop_watch(job->loop, &st->w_pid, EPOLLIN);
    else
      job->polling = true; /* no pidfds here, or none left (EMFILE) */
    if (rc == 0 && st->w_err.fd >= 0)
      rc = cu__loop_watch(job->loop, &st->w_err, EPOLLIN);
    if (rc == 0 && st->relay)
      rc = cu__loop_watch(job->loop, &st->w_tap_in, EPOLLIN);
  }
  if (rc == 0 && job->w_out.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_out, EPOLLIN);
  if (rc == 0 && job->w_in.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_in, EPOLLOUT);
  if (rc == 0 && job->w_cancel.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_cancel, EPOLLIN);
  if (rc == 0 && job->w_timer.fd >= 0)
    rc = cu__loop_watch(job->loop, &job->w_timer, EPOLLIN);
  int64_t now = cu__mono_ns();
  if (job->deadline_ns > 0)
    job->deadline_ns += now;
  if (job->polling)
    schedule_poll(job, now, true);
  if (job->observed)
    job->stop_check_at_ns = now + CU__STOP_CHECK_MS * 1000000LL;
  if (rc == 0)
    rc = timer_update(job);
  if (rc == 0)
    cu__loop_job_added(job->loop, job);
  return rc;
}

static void signal_pidfd(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
  syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
  (void)pidfd, (void)sig;
#endif
}

/*
 * A group id is its leader's pid, which stays reserved while the leader is
 * unreaped (and the job reaps stages only at DONE): kill(-leader) cannot
 * reach a stranger. A leader that other code reaped (exit_stolen) may have
 * been reused, so its group is never signalled; the stages still running
 * are then reached through their pidfds, or not at all.
 */
void cu__job_signal(cu__job *job, int sig) {
  cu__stage *st0 = &job->stages[0];
  if (sig == SIGKILL && job->cg)
    cu__cgroup_kill(job->cg); /* every process, daemons included */
  if (!job->new_session && job->pgid > 0 && !st0->reaped) {
    kill(-job->pgid, sig);
    return;
  }
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    if (st->pid <= 0 || st->reaped)
      continue;
    if (job->new_session)
      kill(-st->pid, sig); /* each stage leads its own session and group */
    else if (st->pidfd >= 0)
      signal_pidfd(st->pidfd, sig);
  }
}

static void send_group(cu__job *job, int sig) {
  cu__job_signal(job, sig);
  /* A stopped process cannot act on SIGTERM: continue the group so its
   * handler runs now rather than SIGKILL after the grace (GNU timeout
   * does the same). */
  if (sig == SIGTERM)
    cu__job_signal(job, SIGCONT);
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

/* One output stream the parent reads: the pipe's watch, the echo sink's
 * watch (armed only while the sink is full) and the stream. */
typedef struct ostream {
  cu__watch *in, *sink;
  cu__outstream *s;
} ostream;

static ostream stdout_of(cu__job *job) {
  return (ostream){&job->w_out, &job->w_out_sink, job->out_stream};
}

static ostream stderr_of(cu__job *job, size_t i) {
  cu__stage *st = &job->stages[i];
  return (ostream){&st->w_err, &st->w_err_sink, st->err_stream};
}

static void close_stream(cu__job *job, ostream o) {
  cu__loop_unwatch(job->loop, o.sink); /* the fd is the stream's own */
  if (o.in->fd < 0)
    return;
  close_watch(job, o.in);
  cu__outstream_finish(o.s);
  if (job->polling)
    schedule_poll(job, cu__mono_ns(), true); /* exit is likely near */
}

/* Backpressure: while the echo fd is full, watch it instead of the pipe,
 * so the loop neither spins nor reads more than it can pass on. */
static int watch_sink(cu__job *job, ostream o, bool stalled) {
  cu__watch *on = stalled ? o.sink : o.in;
  cu__watch *off = stalled ? o.in : o.sink;
  cu__loop_unwatch(job->loop, off);
  if (on->armed)
    return 0;
  if (stalled)
    o.sink->fd = cu__outstream_sink_fd(o.s);
  return cu__loop_watch(job->loop, on, stalled ? EPOLLOUT : EPOLLIN);
}

static void on_output(cu__job *job, cu__watch *w) {
  job->stamp_ok = false;
  bool out = w->kind == CU__W_OUT || w->kind == CU__W_OUT_SINK;
  ostream o = out ? stdout_of(job) : stderr_of(job, w->stage);
  int rc = cu__outstream_drain(o.s, o.in->fd);
  if (cu__outstream_overflowed(o.s) && !job->overflowed) {
    job->overflowed = true;
    terminate(job);
  }
  /* A read, capture or echo error loses output: the run must not look
   * ok. */
  if (rc < 0 && rc != CU__OUT_WAIT_SINK && job->error == 0)
    job->error = rc;
  int echo_err = cu__outstream_echo_errno(o.s);
  if (echo_err && job->error == 0)
    job->error = cu__fail_errno(CU_EIO, echo_err, "echoing the child's %s",
                                out ? "stdout" : "stderr");
  /* EOF, a read error, or nobody wants the bytes any more. */
  if ((rc != 0 && rc != CU__OUT_WAIT_SINK) || cu__outstream_unwanted(o.s)) {
    close_stream(job, o);
    return;
  }
  int wrc = watch_sink(job, o, rc == CU__OUT_WAIT_SINK);
  if (wrc != 0) {
    if (job->error == 0)
      job->error = wrc;
    cu__outstream_abandon(o.s);
    close_stream(job, o);
  }
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

/* Large snapshots get pages populated in one system call: faulting in
 * 100 MiB page by page cost about twice as much (docs/performance.md,
 * "Stdin snapshot"). */
#define CU__STDIN_MAP_MIN (1u << 20)

int cu__job_stdin_copy_alloc(cu__job *job, size_t len) {
  if (len >= CU__STDIN_MAP_MIN) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) {
      job->stdin_copy = p;
      job->stdin_copy_len = len;
      job->stdin_copy_mapped = true;
      return 0;
    }
  }
  job->stdin_copy = malloc(len);
  job->stdin_copy_len = len;
  job->stdin_copy_mapped = false;
  return job->stdin_copy
             ? 0
             : cu__fail(CU_ENOMEM, "copying %zu bytes of stdin", len);
}

void cu__job_stdin_copy_free(cu__job *job) {
  if (job->stdin_copy_mapped)
    munmap(job->stdin_copy, job->stdin_copy_len);
  else
    free(job->stdin_copy);
  job->stdin_copy = NULL;
  job->stdin_copy_len = 0;
  job->stdin_copy_mapped = false;
}

static void on_stdin(cu__job *job) {
  int err_no = 0;
  size_t before = job->feeder.off;
  int rc = cu__feeder_pump(&job->feeder, job->w_in.fd, &err_no);
  job->stdin_bytes += job->feeder.off - before;
  if (rc == 0)
    return;
  /* EPIPE: the child stopped reading, which is its right. Any other error
   * means it got less input than it was given: the run must not look ok. */
  if (rc < 0 && err_no != EPIPE && job->error == 0)
    job->error = rc;
  close_watch(job, &job->w_in);
  cu__job_stdin_copy_free(job); /* fed, or the child stopped reading */
  job->feeder.data = NULL;
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
  /* A contained run's EXIT events wait for its cgroup to be empty, and
   * carry the whole cgroup's figures. */
  if (job->contained && job->state != CU__J_DONE)
    return;
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
  st->stolen = true; /* and its pid (a group id) may be reused */
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
  int rc = cu__peek_exit(st->pid, st->pidfd, &status, &st->ru);
  if (rc == 1)
    record_exit(job, st, status);
  else if (rc < 0 && errno == ECHILD)
    exit_stolen(job, st);
}

/*
 * A stage stopped by a signal (SIGTTIN reading a terminal it does not own,
 * SIGTSTP, SIGSTOP) makes a run that just waits: tell the observers why.
 * waitid(WSTOPPED) without WEXITED never touches an exit status; without
 * WNOWAIT it consumes the stop report, so each stop is reported once and a
 * stop after a SIGCONT is reported again.
 */
static void check_stops(cu__job *job, int64_t now) {
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    int sig = 0;
    if (!st->exited && !st->reaped &&
        cu__peek_stop(st->pid, st->pidfd, &sig) == 1)
      cu__job_emit_stopped(job, st, sig);
  }
  job->stop_check_at_ns = now + CU__STOP_CHECK_MS * 1000000LL;
}

static void on_timer(cu__job *job) {
  uint64_t ticks;
  while (read(job->w_timer.fd, &ticks, sizeof ticks) > 0) {
  }
  job->timer_at_ns = 0; /* a one-shot timer that fired is disarmed */
  int64_t now = cu__mono_ns();
  if (job->stop_check_at_ns > 0 && now >= job->stop_check_at_ns)
    check_stops(job, now);
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
  case CU__W_OUT_SINK:
  case CU__W_ERR_SINK:
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
  case CU__W_CGROUP: /* cgroup.events changed: after_batch reads it */
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

/* A contained run ends when its cgroup is empty: every stage has exited,
 * so whatever is left (a daemon, a background child) is killed now
 * (cgroup.kill), and the job waits for cgroup.events to say "populated 0"
 * on the loop (EPOLLPRI), never blocking. true = still waiting. */
static bool cgroup_busy(cu__job *job) {
  if (!job->cg)
    return false;
  if (cu__cgroup_populated(job->cg) != 1)
    return false;
  cu__cgroup_kill(job->cg);
  if (job->w_cg.fd < 0) {
    job->w_cg.fd = job->cg->events_fd;
    if (cu__loop_watch(job->loop, &job->w_cg, EPOLLPRI) != 0) {
      job->w_cg.fd = -1;
      return false; /* cannot wait on the loop: do not hang the run */
    }
  }
  /* The kill may have emptied it between the read and the watch. */
  return cu__cgroup_populated(job->cg) == 1;
}

static void end_cgroup(cu__job *job) {
  if (!job->cg)
    return;
  if (job->w_cg.fd >= 0) {
    cu__loop_unwatch(job->loop, &job->w_cg);
    job->w_cg.fd = -1;
  }
  cu__cgroup_stats(job->cg, &job->cg_cpu_us, &job->cg_mem_peak);
  cu__cgroup_free(job->cg);
  job->cg = NULL;
}

static void finish(cu__job *job) {
  job->state = CU__J_DONE;
  job->stamp_ok = false;
  job->end_wall = cu__now(CLOCK_REALTIME);
  job->end_mono = cu__now(CLOCK_MONOTONIC);
  close_stream(job, stdout_of(job));
  close_watch(job, &job->w_in);
  for (size_t i = 0; i < job->n; i++) {
    close_stream(job, stderr_of(job, i));
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
  end_cgroup(job);
  emit_ready_exits(job);
  cu__loop_job_done(job->loop, job);
}

static void abandon_one(cu__job *job, ostream o) {
  if (o.in->fd >= 0 && cu__outstream_stalled(o.s)) {
    cu__outstream_abandon(o.s);
    close_stream(job, o);
  }
}

/* A timeout, cancel or policy ended the run and every stage has exited:
 * an echo whose reader is not reading must not hold the run open past its
 * deadline. Its unsent bytes (what is left in the pipe, and at most one
 * read's worth in the stream) are dropped; a sink that is still taking
 * bytes is drained to EOF as usual. */
static void abandon_stalled(cu__job *job) {
  abandon_one(job, stdout_of(job));
  for (size_t i = 0; i < job->n; i++)
    abandon_one(job, stderr_of(job, i));
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
    close_stream(job, stdout_of(job));
    for (size_t i = 0; i < job->n; i++) {
      close_stream(job, stderr_of(job, i));
      close_relay(job, &job->stages[i]);
    }
    close_watch(job, &job->w_in);
  }
  if (exited && job->state != CU__J_RUNNING)
    abandon_stalled(job);
  if (exited && job->cg && cgroup_busy(job)) {
    /* leftovers killed: their pipes reach EOF as they die */
  } else if (exited && !streams_open(job)) {
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
  r->user_cpu_us = (int64_t)st->ru.ru_utime.tv_sec * 1000000 +
                   st->ru.ru_utime.tv_usec;
  r->sys_cpu_us = (int64_t)st->ru.ru_stime.tv_sec * 1000000 +
                  st->ru.ru_stime.tv_usec;
  r->max_rss_kb = st->ru.ru_maxrss;
  r->contained = job->contained;
  r->cgroup_cpu_us = r->contained ? job->cg_cpu_us : -1;
  r->cgroup_mem_peak = r->contained ? job->cg_mem_peak : -1;
  r->confined = job->confined;
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
  if (rc == 0)
    rc = cu__result_set_contain_note(r, job->contain_note);
  if (rc == 0)
    rc = cu__result_set_confine_note(r, job->confine_note);
  return rc;
}

cu_result *cu__job_take_result(cu__job *job) {
  cu_result *ret = cu__result_new();
  if (!ret)
    return NULL;
  if (cu__job_stage_result(job, 0, true, ret) != 0) {
    ret->error = CU_ENOMEM;
    ret->ok = false;
  }
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
  if (spawned)
    cu__job_signal(job, SIGKILL);
  if (job->cg) {
    /* Set-up failed after a spawn: wait (bounded) for the kill to empty
     * the cgroup so it can be removed. Not on a loop's normal path: a
     * finished job's cgroup is already gone (finish). */
    cu__cgroup_kill(job->cg);
    for (int i = 0; i < 100 && cu__cgroup_populated(job->cg) == 1; i++) {
      struct pollfd pfd = {.fd = job->cg->events_fd, .events = POLLPRI};
      poll(&pfd, 1, 20);
    }
    if (job->w_cg.fd >= 0)
      cu__loop_unwatch(job->loop, &job->w_cg);
    cu__cgroup_free(job->cg);
  }
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    if (st->pid > 0 && !st->reaped)
      cu__reap(st->pid, st->pidfd);
    cu__loop_unwatch(job->loop, &st->w_err_sink);
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
  cu__loop_unwatch(job->loop, &job->w_out_sink);
  close_watch(job, &job->w_out);
  close_watch(job, &job->w_in);
  close_watch(job, &job->w_timer);
  close_watch(job, &job->w_cancel);
  cu__outstream_free(job->out_stream);
  free(job->out.data);
  cu__job_stdin_copy_free(job);
  free(job->stages);
  cu__env_vars_free(job->env, job->n_env);
  cu__tags_free(job->tags, job->n_tags);
  free(job->cwd);
  cu__ctx_release(job->ctx);
  free(job);
}
