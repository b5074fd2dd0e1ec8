/* SPDX-License-Identifier: MIT */
/*
 * A job: one command or a pipeline of N commands running on a loop.
 *
 * The job is the runtime's state machine. cu_run() is a job of one stage on
 * a private loop; a pipeline is a job of N stages joined child-to-child by
 * kernel pipes; the concurrency helper runs many jobs on one loop.
 *
 * States: RUNNING → (timeout | cancel | fail-fast | overflow) TERMINATING
 * (SIGTERM sent to the group, waiting `grace`) → KILLING (SIGKILL sent) →
 * DONE once every stage's exit is known and every pipe the parent reads has
 * reached EOF (or, after SIGKILL, a short give-up delay has passed: a
 * process that escaped the group must not hold the run open forever).
 * Stages are reaped only at DONE, so the group leader's pid stays reserved
 * and kill(-pgid) can never reach a stranger.
 */
#ifndef CUPRUM_JOB_H
#define CUPRUM_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "context/ctx.h"
#include "cuprum/loop.h"
#include "cuprum/pipeline.h"
#include "spawn/cgroup.h"
#include "spawn/env.h"
#include "spawn/proc.h"
#include "stream/outstream.h"
#include "stream/relay.h"

struct cu__job;

typedef enum cu__wkind {
  CU__W_OUT,    /* final stage's stdout read end */
  CU__W_ERR,    /* a stage's stderr read end */
  CU__W_IN,     /* stage 0's stdin write end (feeding bytes) */
  CU__W_PID,    /* a stage's pidfd */
  CU__W_TIMER,  /* the job's timerfd */
  CU__W_CANCEL, /* the cancel token's eventfd (dup) */
  CU__W_WAKE,   /* the loop's own eventfd */
  CU__W_TAP_IN, /* a tapped stage's stdout (relay input) */
  CU__W_TAP_OUT,/* the next stage's stdin (relay output) */
  CU__W_OUT_SINK, /* the final stdout's echo fd, while it is full */
  CU__W_ERR_SINK, /* a stage's stderr echo fd, while it is full */
  CU__W_CGROUP, /* the run's cgroup.events (EPOLLPRI), while waiting for
                   the cgroup to empty */
} cu__wkind;

/* Something registered with epoll; epoll_event.data.ptr points here. */
typedef struct cu__watch {
  struct cu__job *job;
  int fd;
  uint8_t kind;
  bool armed; /* currently in the epoll set */
  uint16_t stage;
} cu__watch;

/* When a pipeline stage's failure ends the run. */
typedef enum cu__fail_mode {
  CU__FAIL_FAST = 0, /* first failure terminates the other stages */
  CU__FAIL_WAIT_ALL, /* let every stage finish; report (pipefail style) */
} cu__fail_mode;

typedef struct cu__stage {
  const cu_cmd *cmd;
  uint64_t exec_id;
  pid_t pid;
  int pidfd;
  bool exited;
  bool reaped;
  bool stolen;               /* reaped by other code: pid may be reused */
  bool new_exit;             /* exit observed in the current batch */
  bool exit_emitted;         /* EXIT event sent (after its output) */
  bool failed;               /* counts as a failure under the policy */
  bool terminated;           /* policy/timeout/cancel signalled it */
  int exit_code;             /* -1 when signalled */
  int term_signal;
  struct timespec start_wall, start_mono, end_wall, end_mono;
  cu__watch w_pid, w_err, w_err_sink;
  cu__outstream *err_stream; /* NULL unless the parent reads stderr */
  cu_bytes err;
  cu__relay *relay;          /* tapped stage: stdout relayed by the parent */
  cu__watch w_tap_in, w_tap_out;
  cu_bytes out;              /* tapped stage's captured stdout */
  cu_event line_ev;          /* line events: built once, per-line fields
                                updated (observers get it read-only) */
  bool line_ev_ready;
  cu_tag *ev_tags;           /* tags for this stage's events */
  size_t n_ev_tags;
  struct rusage ru;          /* the kernel's, from the exit (waitid) */
} cu__stage;

typedef enum cu__jstate {
  CU__J_RUNNING,
  CU__J_TERMINATING,
  CU__J_KILLING,
  CU__J_DONE,
} cu__jstate;

typedef struct cu__job_spec {
  const cu_cmd *const *cmds;
  size_t n;
  const cu_run_opts *opts; /* never NULL here */
  cu__fail_mode fail_mode;
  bool sigpipe_fails;      /* SIGPIPE death of a non-final stage = failure */
  int pipe_size;           /* F_SETPIPE_SZ between stages; <= 0 = kernel's */
  int *ret_failed_index;   /* optional: the stage whose spawn failed */
  uint64_t tap_stages;     /* bit i: relay stage i's stdout via the parent */
  bool capture_taps;       /* and capture it into that stage's result */
  bool stdin_borrowed;     /* the caller blocks until the job has ended
                              (cu_run, cu_pipeline_run, cu_parallel_run):
                              CU_STDIN_BYTES is written straight from its
                              buffer, which cannot change meanwhile;
                              write(2) copies, so the bytes are still the
                              ones of the start. Loop tasks copy. */
} cu__job_spec;

typedef void (*cu__job_done_fn)(struct cu__job *job, void *userdata);

typedef struct cu__job {
  struct cu_loop *loop;
  struct cu__job *prev, *next; /* the loop's list of live jobs */
  cu__ctx *ctx;
  bool observed;               /* any observer: build events */
  uint64_t batch_id;           /* cu_parallel_run() batch, 0 = none */
  int batch_index;
  cu__stage *stages;
  size_t n;
  pid_t pgid;
  cu__jstate state;
  cu__watch w_out, w_in, w_timer, w_cancel, w_out_sink;
  cu__outstream *out_stream;
  cu_bytes out;
  cu__feeder feeder;
  unsigned char *stdin_copy;    /* CU_STDIN_BYTES beyond what the pipe took
                                   at start: the run's own snapshot */
  size_t stdin_copy_len;
  bool stdin_copy_mapped;       /* mmap'd (large) rather than malloc'd */
  uint64_t stdin_bytes;
  bool stdin_fed_at_start;      /* all of it went into the pipe at set-up */
  cu_cancel *cancel;
  int64_t deadline_ns;          /* timeout; 0 = none */
  int64_t kill_at_ns;           /* TERMINATING → KILLING */
  int64_t giveup_at_ns;         /* KILLING: stop waiting for EOF */
  int64_t poll_at_ns;           /* no pidfd: next waitid poll */
  int64_t poll_step_ms;
  bool polling;                 /* some stage is watched without a pidfd */
  bool new_session;             /* each stage leads a session of its own */
  int64_t stop_check_at_ns;     /* observed runs: next look for stops */
  int64_t timer_at_ns;          /* what the timerfd is armed for (0: off) */
  int64_t grace_ns;             /* < 0: KILL at once */
  bool timed_out, cancelled, overflowed, sent_term, sent_kill;
  bool wants_noise;             /* classify line events (regexec) */
  bool stamp_ok;                /* line events share one clock reading */
  struct timespec stamp_wall, stamp_mono; /* per drain call */
  bool dirty;                   /* touched in the current batch */
  struct cu__job *dirty_next;   /* the loop's list of dirty jobs */
  int fail_index;               /* first failing stage or -1 */
  cu__fail_mode fail_mode;
  bool sigpipe_fails;
  int *ret_failed_index;
  int error;                    /* CU_E* that ended the job, or 0 */
  char *cwd;                    /* copies for events */
  cu_env_var *env;
  size_t n_env;
  cu_tag *tags;                 /* scope + call tags, for results */
  size_t n_tags;
  struct timespec start_wall, start_mono, end_wall, end_mono;
  cu_run_opts opts_copy;        /* sinks, limits (strings not used) */
  /* Containment and limits (job_setup.c, set-up; job.c, the end). */
  cu__cgroup *cg;               /* the run's cgroup, or NULL */
  cu__watch w_cg;               /* its cgroup.events, at the end */
  bool contained;               /* the run has (had) a cgroup */
  char contain_note[512];       /* the result's contain note */
  int64_t cg_cpu_us, cg_mem_peak; /* read at DONE (-1: none) */
  cu__rlimit_req rlimits[8];    /* set in each child before execve */
  /* Confinement (job_setup.c): what every stage enforces (CU_CONFINED_*)
   * and the result's confine note. */
  unsigned confined;
  char confine_note[384];
  size_t n_rlimits;
  cu__job_done_fn on_done;
  void *on_done_data;
} cu__job;

/*
 * Validate, check the context, run before hooks, create pipes and spawn
 * every stage on `loop`. On failure nothing is left running (stages already
 * spawned are killed and reaped, every fd closed) and the CU_E* code is
 * returned with *ret_failed describing the spawn failure (optional).
 */
int cu__job_start(struct cu_loop *loop, const cu__job_spec *spec,
                  cu__job **ret, cu_result *ret_failed);

/* Dispatch one epoll event for a watch of this job. */
void cu__job_on_event(cu__job *job, cu__watch *w);

/* After a batch of events: policy, timers, completion. */
void cu__job_after_batch(cu__job *job);

/* Request cancellation (loop thread). */
void cu__job_cancel(cu__job *job);

/* Fill stage i's result (moves its stderr, and stdout when take_out). */
int cu__job_stage_result(cu__job *job, size_t i, bool take_out,
                         cu_result *r);

/* A new pipeline result (moves buffers out), running after hooks per
 * stage; NULL when out of memory. */
struct cu_pipeline_result;
struct cu_pipeline_result *cu__job_take_pipeline_result(cu__job *job);

/* A new single-command result from stage 0 (moves buffers out), after
 * hooks run on it; NULL when out of memory. */
cu_result *cu__job_take_result(cu__job *job);

/* A new pipeline result with every stage list empty (result.c). */
struct cu_pipeline_result *cu__pipeline_result_new(void);
/* A new zeroed result with the library's private part (result.c); NULL
 * (with CU_ENOMEM recorded) when out of memory. */
cu_result *cu__result_new(void);
/* Set the result's contain note (copied; NULL or "" = none): 0 or
 * CU_ENOMEM (result.c). */
int cu__result_set_contain_note(cu_result *r, const char *note);
/* The same for the confine note (cu_result_confine_note). */
int cu__result_set_confine_note(cu_result *r, const char *note);

/* Release a finished job. */
void cu__job_free(cu__job *job);

/* A loop; `wakeable` = false for private loops nobody else can reach
 * (no wake eventfd: cu_task_cancel and cu_loop_wake do nothing there). */
int cu__loop_new(struct cu_loop **ret, bool wakeable);

/* Start a job on a loop behind a new task (loop.c). */
struct cu_task;
int cu__loop_start_job(struct cu_loop *loop, const cu__job_spec *spec,
                       bool pipeline, struct cu_task **ret,
                       cu_result *failed);

/* Loop services used by jobs (loop.c). */
int cu__loop_watch(struct cu_loop *loop, cu__watch *w, uint32_t events);
void cu__loop_unwatch(struct cu_loop *loop, cu__watch *w);
void cu__loop_job_added(struct cu_loop *loop, cu__job *job);
void cu__loop_job_done(struct cu_loop *loop, cu__job *job);

/* Stage i of a pipeline, NULL past the end (pipeline.c). */
const cu_cmd *cu__pipeline_stage(const cu_pipeline *p, size_t i);

/* The cancel token's eventfd (cancel.c). */
int cu__cancel_fd(const cu_cancel *cancel);

/* The batch cu_parallel_run() (parallel.c) is starting an item of on this
 * thread: jobs started meanwhile record it for their events (defined in
 * job_setup.c). */
typedef struct cu__batch_slot {
  uint64_t id; /* 0 = none */
  int index;
} cu__batch_slot;
extern _Thread_local cu__batch_slot cu__current_batch;

/* Load a caller's run options (the ABI rule: any size; NULL = defaults)
 * into `dst` and validate them (opts.c). */
int cu__run_opts_load(const cu_run_opts *src, cu_run_opts *dst);

/* Drive the task's loop until done, then move its result out: for the
 * library's own one-shot tasks (cu_run, pipelines, batches), which free
 * the task right after (loop.c). */
cu_result *cu__task_take_result(struct cu_task *task);
struct cu_pipeline_result *cu__task_take_pipeline(struct cu_task *task);
int cu__task_error(const struct cu_task *task);

#endif /* CUPRUM_JOB_H */
