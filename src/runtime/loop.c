/* SPDX-License-Identifier: MIT */
/*
 * The event loop: epoll over every job's fds (pipes, pidfds, timers, cancel
 * tokens) plus one eventfd for cross-thread wake-ups. Level-triggered, so a
 * stream that stops early because of its per-call budget is simply reported
 * again. Tasks are the public handles on jobs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "runtime/job.h"
#include "stream/fdio.h"

#define CU__MAX_EVENTS 64

/*
 * The loop's wake eventfd, shared with its tasks by reference count, so
 * cu_task_cancel() on any thread writes to a descriptor that stays open
 * even if the loop is freed at that very moment (the last holder closes
 * it). Nothing else a cancel touches belongs to the loop thread.
 */
typedef struct waker {
  atomic_uint refs;
  int fd;
} waker;

static waker *waker_ref(waker *w) {
  if (w)
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
  return w;
}

static void waker_unref(waker *w) {
  if (w && atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
    cu__close(w->fd);
    free(w);
  }
}

static void waker_wake(waker *w) {
  if (!w)
    return;
  uint64_t one = 1;
  /* Async-signal-safe and thread-safe; EAGAIN means a wake is pending. */
  ssize_t n = write(w->fd, &one, sizeof one);
  (void)n;
}

struct cu_loop {
  int epfd;
  waker *waker; /* NULL for a private loop (cu_run's) */
  cu__watch w_wake;
  cu__job *jobs; /* live jobs (doubly linked) */
  unsigned active;
  int completed; /* jobs finished during the current step */
};

struct cu_task {
  cu_loop *loop;
  waker *waker; /* the loop's, for cu_task_cancel() from any thread */
  atomic_bool cancel_requested; /* set by cu_task_cancel(), any thread */
  cu__job *job; /* NULL once freed after completion */
  cu_result *result;           /* set at completion; owned by the task */
  cu_pipeline_result *presult; /* pipeline tasks */
  bool pipeline;
  atomic_bool done; /* read by cu_task_cancel() on any thread */
  bool orphaned; /* freed by the user before completion */
  int error;
  cu_task_done_fn fn;
  void *fn_data;
};

int cu_loop_new(cu_loop **ret) { return cu__loop_new(ret, true); }

int cu__loop_new(cu_loop **ret, bool wakeable) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_loop_new: ret is NULL");
  cu_loop *loop = calloc(1, sizeof *loop);
  if (!loop)
    return cu__fail(CU_ENOMEM, "allocating a loop");
  loop->epfd = cu__fd_above2(epoll_create1(EPOLL_CLOEXEC));
  /* A private loop (cu_run's) is never woken from outside: no eventfd. */
  if (wakeable && (loop->waker = calloc(1, sizeof *loop->waker))) {
    atomic_init(&loop->waker->refs, 1);
    loop->waker->fd = cu__fd_above2(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  loop->w_wake = (cu__watch){.fd = loop->waker ? loop->waker->fd : -1,
                             .kind = CU__W_WAKE};
  if (loop->epfd < 0 || (wakeable && loop->w_wake.fd < 0) ||
      (wakeable && cu__loop_watch(loop, &loop->w_wake, EPOLLIN) != 0)) {
    bool no_memory = loop->epfd >= 0 && wakeable && !loop->waker;
    int err = errno;
    cu__close(loop->epfd);
    waker_unref(loop->waker);
    free(loop);
    if (no_memory)
      return cu__fail(CU_ENOMEM, "allocating the event loop's waker");
    return cu__fail_errno(CU_ESYS, err, "creating the event loop");
  }
  *ret = loop;
  return 0;
}

int cu__loop_watch(cu_loop *loop, cu__watch *w, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
    return cu__fail_errno(CU_ESYS, errno, "epoll_ctl(ADD, fd %d)", w->fd);
  w->armed = true;
  return 0;
}

void cu__loop_unwatch(cu_loop *loop, cu__watch *w) {
  if (!w->armed || !loop)
    return;
  epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->armed = false;
}

void cu__loop_job_added(cu_loop *loop, cu__job *job) {
  job->prev = NULL;
  job->next = loop->jobs;
  if (loop->jobs)
    loop->jobs->prev = job;
  loop->jobs = job;
  loop->active++;
}

void cu__loop_job_done(cu_loop *loop, cu__job *job) {
  if (job->prev)
    job->prev->next = job->next;
  else
    loop->jobs = job->next;
  if (job->next)
    job->next->prev = job->prev;
  job->prev = job->next = NULL;
  loop->active--;
  loop->completed++;
  if (job->on_done)
    job->on_done(job, job->on_done_data);
}

int cu_loop_fd(const cu_loop *loop) { return loop ? loop->epfd : -1; }

unsigned cu_loop_active(const cu_loop *loop) {
  return loop ? loop->active : 0;
}

void cu_loop_wake(cu_loop *loop) {
  if (loop)
    waker_wake(loop->waker);
}

static void mark_dirty(cu__job **dirty, cu__job *job) {
  if (job->dirty)
    return;
  job->dirty = true;
  job->dirty_next = *dirty;
  *dirty = job;
}

static void task_done(cu__job *job, void *data);

static void on_wake(cu_loop *loop, cu__job **dirty) {
  uint64_t v;
  ssize_t n = read(loop->w_wake.fd, &v, sizeof v);
  (void)n;
  /* A cancel request from another thread: find the tasks that have one.
   * A job's task outlives it (an orphaned task is released only when its
   * job completes), so its flag is there to read. */
  for (cu__job *j = loop->jobs; j; j = j->next) {
    cu_task *t = j->on_done == task_done ? j->on_done_data : NULL;
    if (!t || !atomic_exchange(&t->cancel_requested, false))
      continue;
    cu__job_cancel(j);
    mark_dirty(dirty, j);
  }
}

/*
 * Writing to a pipe whose reader has gone raises SIGPIPE, which would kill
 * the caller's process by default. Without touching dispositions (that is
 * process-wide), the loop blocks SIGPIPE in its own thread while it moves
 * bytes and consumes any SIGPIPE its writes raised (stream/fdio.h).
 */
typedef struct pipe_guard {
  bool active;
  cu__sigpipe_guard g;
} pipe_guard;

static void guard_on(pipe_guard *g) {
  if (!g->active)
    cu__sigpipe_block(&g->g);
  g->active = true;
}

static void guard_off(pipe_guard *g) {
  if (!g->active)
    return;
  sigset_t pending;
  bool raised = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
  cu__sigpipe_restore(&g->g, raised);
  g->active = false;
}

/* Can handling this event write (to a pipe), or call code that might? A
 * capture-only stream just reads into memory: no guard, which saves four
 * system calls per run in the common case. */
static bool may_write(const cu__watch *w) {
  switch ((cu__wkind)w->kind) {
  case CU__W_IN:
  case CU__W_TAP_IN:
  case CU__W_TAP_OUT:
  case CU__W_OUT_SINK:
  case CU__W_ERR_SINK:
    return true;
  case CU__W_OUT:
    return !cu__outstream_quiet(w->job->out_stream);
  case CU__W_ERR:
    return !cu__outstream_quiet(w->job->stages[w->stage].err_stream);
  default:
    return false;
  }
}

int cu_loop_step(cu_loop *loop, int timeout_ms) {
  if (!loop)
    return cu__fail(CU_EINVAL, "cu_loop_step: loop is NULL");
  struct epoll_event evs[CU__MAX_EVENTS];
  int n = epoll_wait(loop->epfd, evs, CU__MAX_EVENTS, timeout_ms);
  if (n < 0)
    return errno == EINTR ? 0 : cu__fail_errno(CU_ESYS, errno, "epoll_wait");
  cu__job *dirty = NULL;
  pipe_guard guard = {0};
  loop->completed = 0;
  for (int i = 0; i < n; i++) {
    cu__watch *w = evs[i].data.ptr;
    if (w->kind == CU__W_WAKE) {
      on_wake(loop, &dirty);
      continue;
    }
    if (!w->armed)
      continue; /* closed earlier in this batch */
    mark_dirty(&dirty, w->job);
    if (may_write(w))
      guard_on(&guard);
    cu__job_on_event(w->job, w);
  }
  guard_off(&guard);
  while (dirty) {
    cu__job *job = dirty;
    dirty = job->dirty_next;
    cu__job_after_batch(job); /* may complete and free the job */
  }
  return loop->completed;
}

int cu_loop_run(cu_loop *loop) {
  if (!loop)
    return cu__fail(CU_EINVAL, "cu_loop_run: loop is NULL");
  while (loop->active > 0) {
    int rc = cu_loop_step(loop, -1);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* ------------------------------------------------------------ tasks */

static void task_release(cu_task *task) {
  waker_unref(task->waker);
  cu_result_free(task->result);
  cu_pipeline_result_free(task->presult);
  free(task);
}

/* A pipeline task's summary view as a single result: the last stage's exit,
 * the pipeline's outcome. */
static cu_result *pipeline_summary(const cu_pipeline_result *p) {
  cu_result *r = cu__result_new();
  if (!r)
    return NULL;
  const cu_result *last = p->n_stages ? p->stages[p->n_stages - 1] : NULL;
  r->exit_code = last ? last->exit_code : -1;
  r->term_signal = last ? last->term_signal : 0;
  r->pid = last ? last->pid : 0;
  r->ok = p->ok;
  r->timed_out = p->timed_out;
  r->cancelled = p->cancelled;
  r->error = p->error;
  r->spawn_step = p->spawn_step;
  r->spawn_errno = p->spawn_errno;
  r->start_mono = p->start_mono;
  r->end_mono = p->end_mono;
  r->duration_ns = p->duration_ns;
  if (!(r->out.data = calloc(1, 1)) || !(r->err.data = calloc(1, 1)))
    r = cu_result_free(r);
  return r;
}

static void task_done(cu__job *job, void *data) {
  cu_task *task = data;
  if (task->pipeline) {
    task->presult = cu__job_take_pipeline_result(job);
    task->error = task->presult ? task->presult->error : CU_ENOMEM;
    if (task->presult)
      task->result = pipeline_summary(task->presult);
  } else {
    task->result = cu__job_take_result(job);
    task->error = task->result ? task->result->error : CU_ENOMEM;
  }
  task->job = NULL;
  atomic_store(&task->done, true);
  cu__job_free(job);
  if (task->fn)
    task->fn(task->fn_data, task, task->result);
  if (task->orphaned)
    task_release(task);
}

int cu__loop_start_job(cu_loop *loop, const cu__job_spec *spec, bool pipeline,
                       cu_task **ret, cu_result *failed) {
  cu_task *task = calloc(1, sizeof *task);
  if (!task)
    return cu__fail(CU_ENOMEM, "allocating a task");
  task->loop = loop;
  task->pipeline = pipeline;
  atomic_init(&task->cancel_requested, false);
  atomic_init(&task->done, false);
  cu__job *job = NULL;
  int rc = cu__job_start(loop, spec, &job, failed);
  if (rc != 0) {
    free(task);
    return rc;
  }
  task->job = job;
  task->waker = waker_ref(loop->waker);
  job->on_done = task_done;
  job->on_done_data = task;
  *ret = task;
  return 0;
}

int cu_loop_spawn(cu_loop *loop, const cu_cmd *cmd, const cu_run_opts *opts,
                  cu_task **ret) {
  if (!cmd)
    return cu__cmd_null("cu_loop_spawn");
  if (!loop || !ret)
    return cu__fail(CU_EINVAL, "cu_loop_spawn: loop and ret are required");
  cu_run_opts o;
  int rc = cu__run_opts_load(opts, &o);
  if (rc != 0)
    return rc;
  const cu_cmd *cmds[1] = {cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = &o};
  return cu__loop_start_job(loop, &spec, false, ret, NULL);
}

void cu_task_on_done(cu_task *task, cu_task_done_fn fn, void *userdata) {
  if (!task)
    return;
  task->fn = fn;
  task->fn_data = userdata;
}

bool cu_task_done(const cu_task *task) {
  return task && atomic_load(&task->done);
}

const cu_result *cu_task_result(const cu_task *task) {
  return cu_task_done(task) ? task->result : NULL;
}

/* Any thread: touches only the task's own atomics and the shared waker,
 * never the job or the loop, which the loop thread may be freeing. */
void cu_task_cancel(cu_task *task) {
  if (!task || atomic_load(&task->done))
    return;
  atomic_store(&task->cancel_requested, true);
  waker_wake(task->waker);
}

static int drive_until_done(cu_task *task) {
  while (!atomic_load(&task->done)) {
    int rc = cu_loop_step(task->loop, -1);
    if (rc < 0)
      return rc;
  }
  return 0;
}

const cu_pipeline_result *cu_task_pipeline_result(const cu_task *task) {
  return cu_task_done(task) && task->pipeline ? task->presult : NULL;
}

int cu_task_wait(cu_task *task, const cu_result **ret) {
  if (!task)
    return cu__fail(CU_EINVAL, "cu_task_wait: task is NULL");
  int rc = drive_until_done(task);
  if (rc < 0)
    return rc;
  if (ret)
    *ret = task->result;
  return task->error;
}

int cu__task_error(const cu_task *task) { return task->error; }

cu_result *cu__task_take_result(cu_task *task) {
  int rc = drive_until_done(task);
  if (rc < 0) {
    task->error = rc;
    return NULL;
  }
  cu_result *r = task->result;
  task->result = NULL;
  return r;
}

cu_pipeline_result *cu__task_take_pipeline(cu_task *task) {
  int rc = drive_until_done(task);
  if (rc < 0) {
    task->error = rc;
    return NULL;
  }
  cu_pipeline_result *r = task->presult;
  task->presult = NULL;
  return r;
}

cu_task *cu_task_free(cu_task *task) {
  if (!task)
    return NULL;
  if (atomic_load(&task->done)) {
    task_release(task);
    return NULL;
  }
  /* Still running: cancel; the loop frees it when the job completes. */
  task->orphaned = true;
  task->fn = NULL;
  cu_task_cancel(task);
  return NULL;
}

cu_loop *cu_loop_free(cu_loop *loop) {
  if (!loop)
    return NULL;
  for (cu__job *j = loop->jobs; j; j = j->next)
    cu__job_cancel(j);
  while (loop->active > 0)
    if (cu_loop_step(loop, -1) < 0)
      break;
  cu__loop_unwatch(loop, &loop->w_wake);
  waker_unref(loop->waker); /* tasks still held keep the eventfd open */
  cu__close(loop->epfd);
  free(loop);
  return NULL;
}
