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

typedef struct batch {
  uint64_t id;
  const cu_batch_item *items;
  size_t n;
  const cu_parallel_opts *opts; /* loaded: this library's layout */
  cu_parallel_result *res;
  cu_loop *loop;
  cu_task **tasks; /* running task per item, else NULL */
  size_t next;     /* next item to start */
  unsigned running;
  bool stopping;
} batch;

/* Everything is checked before anything runs. */
static int preflight(const cu_batch_item *items, size_t n) {
  cu__ctx *ctx = NULL;
  int rc = cu__ctx_capture(&ctx);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const cu_batch_item *it = &items[i];
    if (!it->cmd == !it->pipeline) {
      rc = cu__fail(CU_EINVAL, "item %zu: set exactly one of cmd, pipeline",
                    i);
      break;
    }
    /* The items' options too (the ABI rule and their values). */
    cu_run_opts ro;
    cu_pipeline_opts po;
    rc = it->cmd ? cu__run_opts_load(it->opts, &ro)
                 : CU__OPTS_LOAD(&po, it->pipe_opts, cu_pipeline_opts,
                                 CU_PIPELINE_OPTS_INIT);
    if (rc == 0 && it->pipeline)
      rc = cu__run_opts_load(po.run, &ro);
    size_t stages = it->cmd ? 1 : cu_pipeline_stage_count(it->pipeline);
    if (rc != 0) {
      char msg[400];
      snprintf(msg, sizeof msg, "%s", cu_last_error());
      rc = cu__fail(rc, "item %zu: %s", i, msg);
    }
    for (size_t s = 0; rc == 0 && s < stages; s++) {
      const cu_cmd *cmd = it->cmd ? it->cmd : cu__pipeline_stage(it->pipeline, s);
      rc = cu__cmd_check(cmd);
      if (rc == 0)
        rc = cu__ctx_check(ctx, cmd);
      if (rc != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", cu_last_error());
        rc = cu__fail(rc, "item %zu: %s", i, msg);
      }
    }
  }
  cu__ctx_release(ctx);
  return rc;
}

/* Item options with the batch's defaults applied (already validated by
 * the pre-flight, so loading cannot fail here). */
static void item_run_opts(const batch *b, const cu_run_opts *src,
                          cu_run_opts *o) {
  cu__run_opts_load(src, o);
  if (o->timeout_ms == 0)
    o->timeout_ms = b->opts->item_timeout_ms;
  if (!o->cancel)
    o->cancel = b->opts->cancel;
}

static int start_cmd(batch *b, size_t i, cu_item_result *ir) {
  const cu_batch_item *it = &b->items[i];
  cu_run_opts o;
  item_run_opts(b, it->opts, &o);
  ir->result = cu__result_new();
  if (!ir->result)
    return CU_ENOMEM;
  /* Started directly so a failure keeps its step and errno. */
  const cu_cmd *cmds[1] = {it->cmd};
  cu__job_spec spec = {.cmds = cmds, .n = 1, .opts = &o,
                       .stdin_borrowed = true};
  int rc = cu__loop_start_job(b->loop, &spec, false, &b->tasks[i], ir->result);
  if (rc != 0)
    ir->result->error = rc;
  else /* the task makes the real result */
    ir->result = cu_result_free(ir->result);
  return rc;
}

static int start_pipeline(batch *b, size_t i, cu_item_result *ir) {
  const cu_batch_item *it = &b->items[i];
  cu_pipeline_opts po;
  CU__OPTS_LOAD(&po, it->pipe_opts, cu_pipeline_opts, CU_PIPELINE_OPTS_INIT);
  cu_run_opts o;
  item_run_opts(b, po.run, &o);
  po.run = &o;
  int rc = cu_loop_spawn_pipeline(b->loop, it->pipeline, &po, &b->tasks[i]);
  if (rc != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", cu_last_error());
    int err_no = cu__last_fail_errno();
    ir->pipeline = cu__pipeline_result_new();
    if (ir->pipeline)
      ir->pipeline->error = rc;
    cu__fail(rc, "%s", msg);
    cu__set_last_fail_errno(err_no); /* out of descriptors? (fill_more) */
  }
  return rc;
}

/* Did that failure come from running out of descriptors (ours or the
 * system's)? Such an item can wait for running items to give some back. */
static bool out_of_fds(void) {
  int e = cu__last_fail_errno();
  return e == EMFILE || e == ENFILE;
}

/* Forget a start that failed for want of descriptors: the item is queued
 * again, as if never tried. */
static void unstart_item(batch *b, size_t i) {
  cu_item_result *ir = b->res->items[i];
  ir->result = cu_result_free(ir->result);
  ir->pipeline = cu_pipeline_result_free(ir->pipeline);
  free(ir->message);
  ir->message = NULL;
  ir->state = CU_ITEM_DONE;
  ir->error = 0;
}

static int start_item(batch *b, size_t i) {
  cu_item_result *ir = b->res->items[i];
  cu__current_batch = (cu__batch_slot){.id = b->id, .index = (int)i};
  int rc = b->items[i].cmd ? start_cmd(b, i, ir) : start_pipeline(b, i, ir);
  cu__current_batch = (cu__batch_slot){0};
  if (rc != 0) {
    ir->state = CU_ITEM_FAILED_TO_START;
    ir->error = rc;
    ir->message = cu__strdup(cu_last_error());
    return rc;
  }
  b->running++;
  return 0;
}

static void stop(batch *b) {
  if (b->stopping)
    return;
  b->stopping = true;
  for (size_t i = 0; i < b->n; i++)
    if (b->tasks[i])
      cu_task_cancel(b->tasks[i]);
}

static void note_failure(batch *b, size_t i) {
  if (b->res->first_failure < 0)
    b->res->first_failure = (int)i;
  if (b->opts->fail_fast)
    stop(b);
}

/* Collect finished tasks in index order (ties in one step: lowest wins). */
static void collect(batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    cu_task *t = b->tasks[i];
    if (!t || !cu_task_done(t))
      continue;
    cu_item_result *ir = b->res->items[i];
    /* The task is done: taking its result moves it out whole, and the task
     * is freed at once. */
    const cu_result *summary = cu_task_result(t);
    bool stopped = summary && summary->cancelled && !summary->timed_out;
    if (b->items[i].cmd) {
      ir->result = cu__task_take_result(t);
      ir->ok = ir->result && ir->result->ok;
    } else {
      ir->pipeline = cu__task_take_pipeline(t);
      ir->ok = ir->pipeline && ir->pipeline->ok;
    }
    ir->state = b->stopping && stopped ? CU_ITEM_TERMINATED : CU_ITEM_DONE;
    if (!ir->result && !ir->pipeline) {
      /* It ran, but its result could not be allocated: say so rather than
       * leave a DONE item with nothing to show. */
      int e = cu__task_error(t);
      ir->error = e ? e : CU_ENOMEM;
      ir->message = cu__strdup("out of memory collecting the item's result");
    }
    b->tasks[i] = cu_task_free(t);
    b->running--;
    if (!ir->ok && ir->state == CU_ITEM_DONE)
      note_failure(b, i);
  }
}

/*
 * Start items up to the limit. An item that cannot start for want of
 * descriptors (EMFILE/ENFILE while setting up) is held back while others
 * run, and tried again when one finishes; it fails only when nothing is
 * running, so no finish can ever free what it needs.
 */
static void fill_more(batch *b) {
  unsigned limit = b->opts->limit ? b->opts->limit : (unsigned)-1;
  while (!b->stopping && b->next < b->n && b->running < limit) {
    size_t i = b->next;
    if (start_item(b, i) != 0) {
      if (out_of_fds() && b->running > 0) {
        unstart_item(b, i);
        return;
      }
      note_failure(b, i);
    }
    b->next++;
  }
}

static int step_timeout(const batch *b, int64_t deadline) {
  if (deadline == 0)
    return -1;
  int64_t left = (deadline - cu__mono_ns()) / 1000000;
  return left <= 0 ? 0 : left > 1000 ? 1000 : (int)left + 1;
}

static void summarise(batch *b) {
  cu_parallel_result *r = b->res;
  for (size_t i = 0; i < b->n; i++) {
    cu_item_result *ir = r->items[i];
    if (i >= b->next && ir->state == CU_ITEM_DONE)
      ir->state = CU_ITEM_SKIPPED;
    if (ir->state == CU_ITEM_SKIPPED)
      r->n_skipped++;
    else if (ir->ok)
      r->n_ok++;
    else
      r->n_failed++;
  }
  r->ok = r->n_ok == r->n_items;
}

static int run_batch(batch *b) {
  int64_t deadline =
      b->opts->deadline_ms > 0 ? cu__mono_ns() + b->opts->deadline_ms * 1000000
                               : 0;
  fill_more(b);
  while (b->running > 0) {
    int rc = cu_loop_step(b->loop, step_timeout(b, deadline));
    if (rc < 0)
      return rc;
    collect(b);
    if (b->opts->cancel && cu_cancel_triggered(b->opts->cancel) &&
        !b->stopping) {
      b->res->cancelled = true;
      stop(b);
    }
    if (deadline && cu__mono_ns() >= deadline && !b->stopping) {
      b->res->timed_out = true;
      stop(b);
    }
    fill_more(b);
  }
  summarise(b);
  return 0;
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
  batch b = {.items = items, .n = n, .opts = &po, .res = result_new(n)};
  b.tasks = calloc(n ? n : 1, sizeof *b.tasks);
  if (!b.res || !b.tasks) {
    free(b.tasks);
    cu_parallel_result_free(b.res);
    return cu__fail(CU_ENOMEM, "allocating batch results");
  }
  b.id = (uint64_t)atomic_fetch_add(&batch_counter, 1) + 1;
  cu__ctx *ctx = NULL;
  if (cu__ctx_capture(&ctx) == 0) /* failure: the batch just is not traced */
    cu__ctx_batch(ctx, b.id, n, false);
  rc = cu_loop_new(&b.loop);
  if (rc == 0)
    rc = run_batch(&b);
  if (rc != 0)
    stop(&b);
  cu_loop_free(b.loop); /* cancels and reaps anything left */
  for (size_t i = 0; i < n; i++)
    cu_task_free(b.tasks[i]);
  free(b.tasks);
  if (ctx)
    cu__ctx_batch(ctx, b.id, n, true);
  cu__ctx_release(ctx);
  if (rc != 0) {
    cu_parallel_result_free(b.res);
    return rc;
  }
  *ret = b.res;
  return 0;
}

cu_parallel_result *cu_parallel_result_free(cu_parallel_result *r) {
  if (!r)
    return NULL;
  for (size_t i = 0; r->items && i < r->n_items; i++) {
    cu_item_result *ir = r->items[i];
    cu_result_free(ir->result);
    cu_pipeline_result_free(ir->pipeline);
    free(ir->message);
    free(ir);
  }
  free(r->items);
  free(r);
  return NULL;
}
