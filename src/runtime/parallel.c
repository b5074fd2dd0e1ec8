/* SPDX-License-Identifier: MIT */
/* The concurrency helper: a batch of commands and pipelines on one loop. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "context/ctx.h"
#include "cuprum/parallel.h"
#include "runtime/job.h"

/* Batch ids, process-wide: unique across threads without a lock. */
static atomic_uint_fast64_t batch_counter;

typedef enum slot_state { SLOT_FREE = 0, SLOT_WAITING, SLOT_RUNNING } slot_state;

/* One item in flight: running, or waiting to run (again). */
typedef struct slot {
  slot_state state;
  size_t index;
  cu_batch_item item;     /* borrowed from the source until delivered */
  cu_task *task;          /* SLOT_RUNNING */
  unsigned retries;       /* runs so far after the first */
  int64_t not_before;     /* SLOT_WAITING: monotonic ns of the retry */
  bool fd_wait;           /* SLOT_WAITING: for descriptors, not time */
  cu_item_result *prev;   /* SLOT_WAITING for a retry: the failed run */
} slot;

typedef struct engine {
  uint64_t id;
  cu_parallel_stream_opts o; /* loaded: this library's layout */
  bool checked;              /* items were checked up front */
  cu_parallel_result *res;   /* the summary */
  cu_loop *loop;
  slot *slots;
  size_t n_slots;
  size_t busy;               /* slots not free */
  unsigned running;
  size_t pulled;             /* items taken from the source */
  bool source_done;
  bool stopping;             /* pull and start no more */
  bool killing;              /* the running items were terminated */
  int source_err;
  cu_item_result **held;     /* keep_order: ring of `window` results */
  size_t window, next_out;
  size_t n_ok, n_fail, n_skipped; /* final outcomes (halt, summary) */
} engine;

/* One item: exactly one of cmd and pipeline, valid options, every command
 * allowed by its catalogue and the scoped context. */
static int check_item(cu__ctx *ctx, const cu_batch_item *it, size_t i) {
  if (!it->cmd == !it->pipeline)
    return cu__fail(CU_EINVAL, "item %zu: set exactly one of cmd, pipeline",
                    i);
  /* The items' options too (the ABI rule and their values). */
  cu_run_opts ro;
  cu_pipeline_opts po;
  int rc = it->cmd ? cu__run_opts_load(it->opts, &ro)
                   : CU__OPTS_LOAD(&po, it->pipe_opts, cu_pipeline_opts,
                                   CU_PIPELINE_OPTS_INIT);
  if (rc == 0 && it->pipeline)
    rc = cu__run_opts_load(po.run, &ro);
  size_t stages = it->cmd ? 1 : cu_pipeline_stage_count(it->pipeline);
  for (size_t s = 0; rc == 0 && s < stages; s++) {
    const cu_cmd *cmd = it->cmd ? it->cmd : cu__pipeline_stage(it->pipeline, s);
    rc = cu__cmd_check(cmd);
    if (rc == 0)
      rc = cu__ctx_check(ctx, cmd);
  }
  if (rc != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", cu_last_error());
    rc = cu__fail(rc, "item %zu: %s", i, msg);
  }
  return rc;
}

/* Everything is checked before anything runs. */
static int preflight(const cu_batch_item *items, size_t n) {
  cu__ctx *ctx = NULL;
  int rc = cu__ctx_capture(&ctx);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = check_item(ctx, &items[i], i);
  cu__ctx_release(ctx);
  return rc;
}

/* Item options with the batch's defaults applied (already validated, so
 * loading cannot fail here). */
static void item_run_opts(const engine *e, const cu_run_opts *src,
                          cu_run_opts *o) {
  cu__run_opts_load(src, o);
  if (o->timeout_ms == 0)
    o->timeout_ms = e->o.item_timeout_ms;
  if (!o->cancel)
    o->cancel = e->o.cancel;
}

static int start_cmd(engine *e, slot *s, cu_item_result *ir) {
  cu_run_opts o;
  item_run_opts(e, s->item.opts, &o);
  ir->result = cu__result_new();
  if (!ir->result)
    return CU_ENOMEM;
  /* Started directly so a failure keeps its step and errno. */
  const cu_cmd *cmds[1] = {s->item.cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = &o,
                       .stdin_borrowed = true};
  int rc = cu__loop_start_job(e->loop, &spec, false, &s->task, ir->result);
  if (rc != 0)
    ir->result->error = rc;
  else /* the task makes the real result */
    ir->result = cu_result_free(ir->result);
  return rc;
}

static int start_pipeline(engine *e, slot *s, cu_item_result *ir) {
  cu_pipeline_opts po;
  CU__OPTS_LOAD(&po, s->item.pipe_opts, cu_pipeline_opts,
                CU_PIPELINE_OPTS_INIT);
  cu_run_opts o;
  item_run_opts(e, po.run, &o);
  po.run = &o;
  int rc = cu_loop_spawn_pipeline(e->loop, s->item.pipeline, &po, &s->task);
  if (rc != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", cu_last_error());
    int err_no = cu__last_fail_errno();
    ir->pipeline = cu__pipeline_result_new();
    if (ir->pipeline)
      ir->pipeline->error = rc;
    cu__fail(rc, "%s", msg);
    cu__set_last_fail_errno(err_no); /* out of descriptors? (fill) */
  }
  return rc;
}

/* Did that failure come from running out of descriptors (ours or the
 * system's)? Such an item can wait for running items to give some back. */
static bool out_of_fds(void) {
  int e = cu__last_fail_errno();
  return e == EMFILE || e == ENFILE;
}

static cu_item_result *item_result_new(const slot *s) {
  cu_item_result *ir = calloc(1, sizeof *ir);
  if (ir) {
    ir->index = s->index;
    ir->retries = s->retries;
  }
  return ir;
}

static void deliver(engine *e, slot *s, cu_item_result *ir);

static void free_slot(engine *e, slot *s) {
  *s = (slot){0};
  e->busy--;
}

/* Terminate what runs and pull nothing more; a retry that was waiting is
 * delivered as its last run. */
static void stop(engine *e, bool kill) {
  e->stopping = true;
  if (!kill || e->killing)
    return;
  e->killing = true;
  for (size_t k = 0; k < e->n_slots; k++) {
    slot *s = &e->slots[k];
    if (s->state == SLOT_RUNNING)
      cu_task_cancel(s->task);
  }
}

/* Retries still waiting when the batch stops end with their last run (or,
 * waiting for descriptors, as never started: skipped). */
static void flush_waiting(engine *e) {
  for (size_t k = 0; k < e->n_slots; k++) {
    slot *s = &e->slots[k];
    if (s->state != SLOT_WAITING)
      continue;
    cu_item_result *ir = s->prev;
    s->prev = NULL;
    if (!ir && (ir = item_result_new(s)))
      ir->state = CU_ITEM_SKIPPED;
    deliver(e, s, ir);
  }
}

static size_t halt_threshold(const engine *e) {
  if (e->o.halt_percent == 0)
    return e->o.halt_count;
  size_t t = (e->o.total_hint * e->o.halt_percent + 99) / 100;
  return t ? t : 1;
}

/* Count a final outcome; halt when the condition holds. */
static void count_outcome(engine *e, const cu_item_result *ir) {
  bool failed = ir->state == CU_ITEM_FAILED_TO_START ||
                (ir->state == CU_ITEM_DONE && !ir->ok);
  if (ir->ok)
    e->n_ok++;
  else if (ir->state == CU_ITEM_SKIPPED)
    e->n_skipped++;
  else if (failed) {
    e->n_fail++;
    if (e->res->first_failure < 0)
      e->res->first_failure = (int)ir->index;
  }
  if (e->o.halt_when == CU_HALT_NEVER || e->res->halted)
    return;
  size_t n = e->o.halt_on == CU_HALT_ON_FAIL      ? e->n_fail
             : e->o.halt_on == CU_HALT_ON_SUCCESS ? e->n_ok
                                                  : e->n_ok + e->n_fail;
  if (n >= halt_threshold(e)) {
    e->res->halted = true;
    stop(e, e->o.halt_when == CU_HALT_NOW);
  }
}

static void emit(engine *e, cu_item_result *ir) {
  if (!e->o.keep_order) {
    e->o.sink(e->o.sink_user, ir);
    return;
  }
  e->held[ir->index % e->window] = ir;
  cu_item_result **next;
  while (*(next = &e->held[e->next_out % e->window])) {
    cu_item_result *out = *next;
    *next = NULL;
    e->next_out++;
    e->o.sink(e->o.sink_user, out);
  }
}

static int64_t backoff_ns(const engine *e, unsigned retry) {
  int64_t ms = e->o.retry_backoff_ms;
  for (unsigned k = 1; k < retry && ms < 60000; k++)
    ms *= 2;
  return (ms > 60000 ? 60000 : ms) * 1000000;
}

/* An item's run ended (or could not start): run it again, or count it and
 * hand it on. `ir` NULL means out of memory: the item's result is lost. */
static void deliver(engine *e, slot *s, cu_item_result *ir) {
  if (ir && ir->state == CU_ITEM_DONE && !ir->ok && !e->stopping &&
      s->retries < e->o.retries) {
    s->retries++;
    e->res->n_retries++;
    s->state = SLOT_WAITING;
    s->fd_wait = false;
    s->not_before = cu__mono_ns() + backoff_ns(e, s->retries);
    s->prev = ir;
    return;
  }
  free_slot(e, s);
  if (!ir)
    return;
  count_outcome(e, ir);
  emit(e, ir);
}

/* Start the item in `s` (free or waiting). Returns false when it waits for
 * descriptors (try again when a running item ends). */
static bool start_slot(engine *e, slot *s) {
  cu_item_result *ir = item_result_new(s);
  if (!ir) {
    cu_item_result_free(s->prev);
    s->prev = NULL;
    deliver(e, s, NULL);
    return true;
  }
  cu__current_batch = (cu__batch_slot){.id = e->id, .index = (int)s->index};
  int rc = s->item.cmd ? start_cmd(e, s, ir) : start_pipeline(e, s, ir);
  cu__current_batch = (cu__batch_slot){0};
  if (rc == 0) {
    free(ir); /* the task makes the real result */
    s->prev = cu_item_result_free(s->prev);
    s->state = SLOT_RUNNING;
    e->running++;
    return true;
  }
  if (out_of_fds() && e->running > 0) {
    cu_item_result_free(ir);
    s->state = SLOT_WAITING;
    s->fd_wait = true;
    return false;
  }
  ir->state = CU_ITEM_FAILED_TO_START;
  ir->error = rc;
  ir->message = cu__strdup(cu_last_error());
  s->prev = cu_item_result_free(s->prev);
  s->task = NULL;
  deliver(e, s, ir);
  return true;
}

static slot *free_slot_of(engine *e) {
  for (size_t k = 0; k < e->n_slots; k++)
    if (e->slots[k].state == SLOT_FREE)
      return &e->slots[k];
  return NULL;
}

/* Pull one item into `s`. False at the end of the input (or an error), or
 * when it has to wait for descriptors. */
static bool pull(engine *e, slot *s, cu__ctx *ctx) {
  cu_batch_item item = {0};
  int rc = e->o.source(e->o.source_user, e->pulled, &item);
  if (rc <= 0) {
    e->source_done = true;
    if (rc < 0) {
      e->source_err = rc;
      stop(e, true);
    }
    return false;
  }
  *s = (slot){.state = SLOT_WAITING, .index = e->pulled++, .item = item};
  e->busy++;
  if (!e->checked && (rc = check_item(ctx, &item, s->index)) != 0) {
    cu_item_result *ir = item_result_new(s);
    if (ir) {
      ir->state = CU_ITEM_FAILED_TO_START;
      ir->error = rc;
      ir->message = cu__strdup(cu_last_error());
    }
    deliver(e, s, ir);
    return true;
  }
  return start_slot(e, s); /* false: wait for descriptors, pull no more */
}

/* Start retries that are due and items waiting for descriptors, then pull
 * new items while there is room (and, with keep_order, window). */
static void fill(engine *e, cu__ctx *ctx) {
  int64_t now = cu__mono_ns();
  for (size_t k = 0; k < e->n_slots && !e->stopping; k++) {
    slot *s = &e->slots[k];
    if (s->state == SLOT_WAITING && (s->fd_wait || s->not_before <= now) &&
        !start_slot(e, s))
      return;
  }
  while (!e->stopping && !e->source_done &&
         (!e->o.keep_order || e->pulled < e->next_out + e->window)) {
    slot *s = free_slot_of(e);
    if (!s || !pull(e, s, ctx))
      return;
  }
}

/* Hand on every finished task's result. */
static void collect(engine *e) {
  for (size_t k = 0; k < e->n_slots; k++) {
    slot *s = &e->slots[k];
    if (s->state != SLOT_RUNNING || !cu_task_done(s->task))
      continue;
    cu_item_result *ir = item_result_new(s);
    /* The task is done: taking its result moves it out whole, and the task
     * is freed at once. */
    const cu_result *summary = cu_task_result(s->task);
    bool stopped = summary && summary->cancelled && !summary->timed_out;
    if (ir && s->item.cmd) {
      ir->result = cu__task_take_result(s->task);
      ir->ok = ir->result && ir->result->ok;
    } else if (ir) {
      ir->pipeline = cu__task_take_pipeline(s->task);
      ir->ok = ir->pipeline && ir->pipeline->ok;
    }
    /* Stopped by the batch (a halt, the deadline, the batch's token). */
    bool by_batch = e->killing ||
                    (e->o.cancel && cu_cancel_triggered(e->o.cancel));
    if (ir)
      ir->state = by_batch && stopped ? CU_ITEM_TERMINATED : CU_ITEM_DONE;
    if (ir && !ir->result && !ir->pipeline) {
      /* It ran, but its result could not be allocated: say so rather than
       * leave a DONE item with nothing to show. */
      int err = cu__task_error(s->task);
      ir->error = err ? err : CU_ENOMEM;
      ir->message = cu__strdup("out of memory collecting the item's result");
    }
    s->task = cu_task_free(s->task);
    e->running--;
    deliver(e, s, ir);
  }
}

/* How long the next loop step may wait: the deadline, the next retry. */
static int step_timeout(const engine *e, int64_t deadline) {
  int64_t now = cu__mono_ns(), until = deadline;
  for (size_t k = 0; k < e->n_slots; k++) {
    const slot *s = &e->slots[k];
    if (s->state == SLOT_WAITING && !s->fd_wait &&
        (until == 0 || s->not_before < until))
      until = s->not_before;
  }
  if (until == 0)
    return -1;
  int64_t left = (until - now) / 1000000;
  /* A waiting retry does not wake the loop on cancel: look again soon. */
  int cap = e->running < e->busy ? 100 : 1000;
  return left <= 0 ? 0 : left >= cap ? cap : (int)left + 1;
}

static int run_engine(engine *e) {
  cu__ctx *ctx = NULL;
  if (cu__ctx_capture(&ctx) == 0) /* failure: the batch just is not traced */
    cu__ctx_batch(ctx, e->id, e->o.total_hint, false);
  int64_t deadline =
      e->o.deadline_ms > 0 ? cu__mono_ns() + e->o.deadline_ms * 1000000 : 0;
  int rc = cu_loop_new(&e->loop);
  if (rc == 0)
    fill(e, ctx);
  while (rc == 0 && e->busy > 0) {
    rc = cu_loop_step(e->loop, step_timeout(e, deadline));
    if (rc < 0)
      break;
    rc = 0;
    collect(e);
    if (e->o.cancel && cu_cancel_triggered(e->o.cancel) && !e->killing) {
      e->res->cancelled = true;
      stop(e, true);
    }
    if (deadline && cu__mono_ns() >= deadline && !e->killing) {
      e->res->timed_out = true;
      stop(e, true);
    }
    if (e->stopping)
      flush_waiting(e);
    else
      fill(e, ctx);
  }
  if (rc != 0)
    stop(e, true);
  cu_loop_free(e->loop); /* cancels and reaps anything left */
  for (size_t k = 0; k < e->n_slots; k++) {
    cu_task_free(e->slots[k].task);
    cu_item_result_free(e->slots[k].prev);
  }
  if (e->held) /* only after an error: deliver nothing more */
    for (size_t k = 0; k < e->window; k++)
      cu_item_result_free(e->held[k]);
  if (ctx)
    cu__ctx_batch(ctx, e->id, e->o.total_hint, true);
  cu__ctx_release(ctx);
  return rc;
}

static int stream_opts_check(const cu_parallel_stream_opts *o) {
  if (!o->source || !o->sink)
    return cu__fail(CU_EINVAL, "cu_parallel_stream: source and sink are "
                               "required");
  if (o->item_timeout_ms < 0 || o->item_timeout_ms > CU_TIMEOUT_MAX_MS ||
      o->deadline_ms < 0 || o->deadline_ms > CU_TIMEOUT_MAX_MS ||
      o->retry_backoff_ms < 0 || o->retry_backoff_ms > CU_TIMEOUT_MAX_MS)
    return cu__fail(CU_EINVAL, "item_timeout_ms/deadline_ms/"
                               "retry_backoff_ms out of range");
  if (o->halt_when > CU_HALT_SOON || o->halt_on > CU_HALT_ON_DONE)
    return cu__fail(CU_EINVAL, "halt_when/halt_on: unknown value");
  if (o->halt_when != CU_HALT_NEVER &&
      (o->halt_percent > 100 ||
       (o->halt_percent == 0 && o->halt_count == 0) ||
       (o->halt_percent > 0 && o->total_hint == 0)))
    return cu__fail(CU_EINVAL, "halt: halt_count must be >= 1, or "
                               "halt_percent 1-100 with total_hint");
  return 0;
}

/* The engine under both entry points; `checked` when the caller already
 * checked every item. */
static int stream(const cu_parallel_stream_opts *o, bool checked,
                  cu_parallel_result **ret) {
  engine e = {.o = *o, .checked = checked};
  e.n_slots = o->limit ? o->limit : 1;
  e.window = o->keep_order ? (o->reorder_window ? o->reorder_window
                                                : 4 * e.n_slots)
                           : 0;
  if (e.window && e.window < e.n_slots)
    e.window = e.n_slots; /* never fewer than may run */
  e.slots = calloc(e.n_slots, sizeof *e.slots);
  e.res = calloc(1, sizeof *e.res);
  e.held = e.window ? calloc(e.window, sizeof *e.held) : NULL;
  if (!e.slots || !e.res || (e.window && !e.held)) {
    free(e.slots);
    free(e.res);
    free(e.held);
    return cu__fail(CU_ENOMEM, "allocating a batch");
  }
  e.res->first_failure = -1;
  e.id = (uint64_t)atomic_fetch_add(&batch_counter, 1) + 1;
  int rc = run_engine(&e);
  free(e.slots);
  free(e.held);
  if (rc == 0)
    rc = e.source_err;
  if (rc != 0) {
    free(e.res);
    return rc;
  }
  cu_parallel_result *r = e.res;
  r->n_items = e.pulled;
  r->n_ok = e.n_ok;
  r->n_skipped = e.n_skipped;
  r->n_failed = e.pulled - e.n_ok - e.n_skipped;
  r->ok = r->n_ok == r->n_items;
  *ret = r;
  return 0;
}

int cu_parallel_stream(const cu_parallel_stream_opts *opts,
                       cu_parallel_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_parallel_stream: ret is NULL");
  *ret = NULL;
  if (!opts)
    return cu__fail(CU_EINVAL, "cu_parallel_stream: opts is NULL (source "
                               "and sink are required)");
  cu_parallel_stream_opts o;
  int rc = CU__OPTS_LOAD(&o, opts, cu_parallel_stream_opts,
                         CU_PARALLEL_STREAM_OPTS_INIT);
  if (rc == 0)
    rc = stream_opts_check(&o);
  return rc == 0 ? stream(&o, false, ret) : rc;
}

cu_item_result *cu_item_result_free(cu_item_result *ir) {
  if (!ir)
    return NULL;
  cu_result_free(ir->result);
  cu_pipeline_result_free(ir->pipeline);
  free(ir->message);
  free(ir);
  return NULL;
}

/* ------------------------------------------------- cu_parallel_run() */

typedef struct array_batch {
  const cu_batch_item *items;
  cu_parallel_result *res;
  size_t pulled;
  bool *delivered; /* by index */
} array_batch;

static int array_source(void *user, size_t i, cu_batch_item *item) {
  array_batch *a = user;
  if (i >= a->res->n_items)
    return 0;
  *item = a->items[i];
  a->pulled = i + 1;
  return 1;
}

static void array_sink(void *user, cu_item_result *ir) {
  array_batch *a = user;
  cu_item_result_free(a->res->items[ir->index]);
  a->res->items[ir->index] = ir;
  a->delivered[ir->index] = true;
}

static cu_parallel_result *result_new(size_t n) {
  cu_parallel_result *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->first_failure = -1;
  r->items = calloc(n ? n : 1, sizeof *r->items);
  if (!r->items)
    return cu_parallel_result_free(r);
  for (size_t i = 0; i < n; i++) {
    if (!(r->items[i] = calloc(1, sizeof *r->items[i])))
      return cu_parallel_result_free(r);
    r->items[i]->state = CU_ITEM_SKIPPED; /* until it is delivered */
    r->items[i]->index = i;
    r->n_items = i + 1;
  }
  return r;
}

int cu_parallel_run(const cu_batch_item *items, size_t n,
                    const cu_parallel_opts *opts, cu_parallel_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_parallel_run: ret is NULL");
  *ret = NULL;
  cu_parallel_opts po;
  int rc = CU__OPTS_LOAD(&po, opts, cu_parallel_opts, CU_PARALLEL_OPTS_INIT);
  if (rc != 0)
    return rc;
  if (n && !items)
    return cu__fail(CU_EINVAL, "cu_parallel_run: %zu items but NULL", n);
  if (po.item_timeout_ms < 0 || po.item_timeout_ms > CU_TIMEOUT_MAX_MS ||
      po.deadline_ms < 0 || po.deadline_ms > CU_TIMEOUT_MAX_MS)
    return cu__fail(CU_EINVAL, "item_timeout_ms/deadline_ms out of range");
  rc = preflight(items, n);
  if (rc != 0)
    return rc;
  array_batch a = {.items = items, .res = result_new(n),
                   .delivered = calloc(n ? n : 1, sizeof(bool))};
  if (!a.res || !a.delivered) {
    cu_parallel_result_free(a.res);
    free(a.delivered);
    return cu__fail(CU_ENOMEM, "allocating batch results");
  }
  /* fail_fast is GNU parallel's --halt now,fail=1. */
  cu_parallel_stream_opts so = {
      .size = sizeof so, .source = array_source, .source_user = &a,
      .sink = array_sink, .sink_user = &a,
      .limit = po.limit && po.limit < n ? po.limit : (unsigned)(n ? n : 1),
      .item_timeout_ms = po.item_timeout_ms, .deadline_ms = po.deadline_ms,
      .cancel = po.cancel, .total_hint = n,
      .halt_when = po.fail_fast ? CU_HALT_NOW : CU_HALT_NEVER,
      .halt_count = 1};
  cu_parallel_result *sum = NULL;
  rc = stream(&so, true, &sum);
  if (rc != 0) {
    cu_parallel_result_free(a.res);
    free(a.delivered);
    return rc;
  }
  cu_parallel_result *r = a.res;
  r->timed_out = sum->timed_out;
  r->cancelled = sum->cancelled;
  r->halted = sum->halted;
  r->first_failure = sum->first_failure;
  cu_parallel_result_free(sum);
  for (size_t i = 0; i < n; i++) {
    cu_item_result *ir = r->items[i];
    if (i < a.pulled && !a.delivered[i]) {
      /* Pulled but never delivered: its result could not be allocated. */
      ir->state = CU_ITEM_FAILED_TO_START;
      ir->error = CU_ENOMEM;
      ir->message = cu__strdup("out of memory for the item's result");
    }
    if (ir->state == CU_ITEM_SKIPPED)
      r->n_skipped++;
    else if (ir->ok)
      r->n_ok++;
    else
      r->n_failed++;
  }
  free(a.delivered);
  r->ok = r->n_ok == r->n_items;
  *ret = r;
  return 0;
}

cu_parallel_result *cu_parallel_result_free(cu_parallel_result *r) {
  if (!r)
    return NULL;
  for (size_t i = 0; r->items && i < r->n_items; i++)
    cu_item_result_free(r->items[i]);
  free(r->items);
  free(r);
  return NULL;
}
