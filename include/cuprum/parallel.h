/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/parallel.h
 * @brief The concurrency helper: run many commands and pipelines at once.
 *
 * cu_parallel_run() runs a batch of items (commands or pipelines) on one
 * event loop — no thread per process — with an optional limit on how many
 * run at once. Results come back in submission order. Every item is checked
 * against its catalogue and the scoped context before anything runs: one
 * refused item means nothing runs. Hooks and events behave exactly as for
 * single runs (the calling thread's context is captured once, up front).
 *
 * Fail-fast: the first item to fail (not ok) terminates the running ones
 * (TERM, grace, KILL) and the queued ones are never spawned; each item's
 * state says which of these happened to it. A per-item timeout applies to
 * items without their own, and an overall deadline bounds the whole batch.
 *
 * Thread-safety: reentrant; any number of threads may run batches at once.
 */
#ifndef CUPRUM_PARALLEL_H
#define CUPRUM_PARALLEL_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One unit of work: a command, or a pipeline (exactly one of them).
 * Frozen: callers pass arrays of it, so it never grows (new per-item
 * settings go into the size-versioned option structs it points to). */
typedef struct cu_batch_item {
  const cu_cmd *cmd;
  const cu_pipeline *pipeline;
  const cu_run_opts *opts;           /**< for cmd; NULL = defaults */
  const cu_pipeline_opts *pipe_opts; /**< for pipeline; NULL = defaults */
} cu_batch_item;

/** Batch options. NULL means every default; else start from
 * CU_PARALLEL_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_parallel_opts {
  size_t size;             /**< sizeof(cu_parallel_opts) */
  unsigned limit;          /**< at most this many at once; 0 = no limit */
  bool fail_fast;          /**< first failure stops the batch */
  int64_t item_timeout_ms; /**< for items whose opts have no timeout */
  int64_t deadline_ms;     /**< whole batch; 0 = none */
  cu_cancel *cancel;       /**< cancels the whole batch */
} cu_parallel_opts;

/** Initialiser of a cu_parallel_opts with every default. */
#define CU_PARALLEL_OPTS_INIT {.size = sizeof(cu_parallel_opts)}

typedef enum cu_item_state {
  CU_ITEM_DONE = 0,   /**< ran to completion (see its result) */
  CU_ITEM_FAILED_TO_START, /**< spawn failed; error set */
  CU_ITEM_TERMINATED, /**< running when the batch stopped: terminated */
  CU_ITEM_SKIPPED,    /**< queued when the batch stopped: never spawned */
} cu_item_state;

/** One item's outcome; allocated by the library, fields only appended. */
typedef struct cu_item_result {
  cu_item_state state;
  int error;                    /**< CU_E* for FAILED_TO_START, or for a
                                     DONE item whose result could not be
                                     collected (result and pipeline NULL,
                                     message set when memory allowed);
                                     else 0 */
  char *message;                /**< FAILED_TO_START: cu_last_error() text;
                                     spawn_step/spawn_errno are in result
                                     (or pipeline) */
  bool ok;                      /**< DONE and the run was ok */
  cu_result *result;            /**< command items (NULL when skipped) */
  cu_pipeline_result *pipeline; /**< pipeline items (NULL when skipped) */
  /* Appended for cu_parallel_stream(): */
  size_t index;                 /**< the item's index in the batch */
  unsigned retries;             /**< times it was run again after failing */
} cu_item_result;

/** A batch's outcome; allocated by the library, fields only appended. */
typedef struct cu_parallel_result {
  size_t n_items;         /**< number of items */
  cu_item_result **items; /**< in submission order */
  size_t n_ok;
  size_t n_failed;        /**< not ok: failed, failed to start, terminated */
  size_t n_skipped;
  bool ok;                /**< every item ok */
  bool timed_out;         /**< the overall deadline expired */
  bool cancelled;
  int first_failure;      /**< index of the item that failed first, or -1 */
  /* Appended for cu_parallel_stream(): */
  bool halted;            /**< a halt condition stopped the batch */
  size_t n_retries;       /**< runs again after failures, all items */
} cu_parallel_result;

/**
 * Run the batch to completion. Returns 0 when the batch ran (look at
 * (*ret)->ok and the items), or a negative CU_E* when nothing ran (bad
 * options, an item refused by the pre-flight check: the message names the
 * item and the program). *ret is a new result owned by the caller on
 * success; on error it is NULL (there is nothing to report beyond the code
 * and cu_last_error()). Errors: CU_EINVAL (ret NULL, bad opts, items NULL
 * with n > 0, an item with both or neither of cmd and pipeline, so a NULL
 * cmd from a failed constructor), the pre-flight's CU_EUNKNOWN_PROGRAM,
 * CU_EFORBIDDEN, CU_EPOLICY or an item's sticky builder code, CU_ENOMEM,
 * CU_ESYS (the event loop: creating it, or epoll_wait failing mid-batch,
 * which stops the batch after items may have run; no result then). Per-item
 * problems (environment, cwd, stdin, exec) are not errors here: the item
 * reports CU_ITEM_FAILED_TO_START. Release with
 * cu_parallel_result_free().
 */
int cu_parallel_run(const cu_batch_item *items, size_t n,
                    const cu_parallel_opts *opts, cu_parallel_result **ret)
    CU_NODISCARD CU_NONNULL(4);

/** Release a batch result (NULL ignored). Returns NULL. */
cu_parallel_result *cu_parallel_result_free(cu_parallel_result *result);

/* ------------------------------------------------------------------ */
/* Streaming batches                                                   */
/* ------------------------------------------------------------------ */

/**
 * Where a streamed batch gets its items: called on the batch's thread when
 * there is room for one more (so at most `limit` + the reorder window are
 * ever built at once). Fill *item and return 1; return 0 at the end of the
 * input; or return a negative CU_E* to stop the batch (running items are
 * terminated, cu_parallel_stream() returns that code). The objects *item
 * points to are borrowed until the sink has been called with the same
 * index (then the caller may free them). `index` counts from 0.
 */
typedef int (*cu_batch_source)(void *user, size_t index, cu_batch_item *item);

/**
 * Where a streamed batch delivers results: called on the batch's thread
 * once per item that was pulled, as it ends (completion order), or in
 * index order with keep_order. `result` is the caller's: release it with
 * cu_item_result_free(). Also called for items that failed to start or
 * were refused (CU_ITEM_FAILED_TO_START) and for items terminated by a halt,
 * cancel or deadline (CU_ITEM_TERMINATED).
 *
 * Source and sink run on the batch's loop thread between loop steps: they
 * may do anything but wait long (every running item's output and timeout
 * waits for them), and must not call cu_parallel_stream() on the same
 * thread. Writing to a pipe that may block belongs on a thread of the
 * caller's or behind a non-blocking descriptor.
 */
typedef void (*cu_batch_sink)(void *user, cu_item_result *result);

/** When a halt condition stops a batch (GNU parallel's --halt WHEN,...). */
typedef enum cu_halt_when {
  CU_HALT_NEVER = 0, /**< run every item whatever happens */
  CU_HALT_NOW,       /**< terminate the running items, start no more */
  CU_HALT_SOON,      /**< let the running items end, start no more */
} cu_halt_when;

/** What a halt condition counts (GNU parallel's fail=, success=, done=). */
typedef enum cu_halt_on {
  CU_HALT_ON_FAIL = 0, /**< items that ended not ok (after their retries) */
  CU_HALT_ON_SUCCESS,  /**< items that ended ok */
  CU_HALT_ON_DONE,     /**< items that ended either way */
} cu_halt_on;

/** Options of cu_parallel_stream(); start from CU_PARALLEL_STREAM_OPTS_INIT.
 * Fields are only appended. */
typedef struct cu_parallel_stream_opts {
  size_t size;             /**< sizeof(cu_parallel_stream_opts) */
  cu_batch_source source;  /**< required */
  void *source_user;
  cu_batch_sink sink;      /**< required */
  void *sink_user;
  unsigned limit;          /**< at most this many at once; 0 = 1 */
  int64_t item_timeout_ms; /**< for items whose opts have no timeout */
  int64_t deadline_ms;     /**< whole batch; 0 = none */
  cu_cancel *cancel;       /**< cancels the whole batch */
  bool keep_order;         /**< deliver in index order (GNU parallel -k) */
  size_t reorder_window;   /**< keep_order: item i starts only once every
                                item below i - window was delivered;
                                0 = 4 * limit */
  cu_halt_when halt_when;  /**< CU_HALT_NEVER = no halt condition */
  cu_halt_on halt_on;
  size_t halt_count;       /**< halt when this many items count (>= 1) */
  unsigned halt_percent;   /**< or, when non-zero, this percentage (1-100)
                                of total_hint */
  size_t total_hint;       /**< number of items if known (0 = unknown):
                                needed by halt_percent; passed to tracers */
  unsigned retries;        /**< run an item that ended not ok (exit status,
                                signal, timeout) again, up to this often */
  int64_t retry_backoff_ms; /**< wait before the first retry; doubled for
                                each next one, at most 60 s; 0 = none */
} cu_parallel_stream_opts;

/** Initialiser of a cu_parallel_stream_opts with every default. */
#define CU_PARALLEL_STREAM_OPTS_INIT {.size = sizeof(cu_parallel_stream_opts)}

/**
 * Run a batch whose items come from a callback and whose results go to
 * one, on one event loop on the calling thread. Memory is bounded by the
 * items in flight: at most `limit` running plus, with keep_order, the
 * results held for the reorder window (each held result keeps its
 * captured output: bound it with the items' max_capture). Each item is
 * checked (catalogue, scoped policy) as it is pulled: a refused item is
 * delivered as CU_ITEM_FAILED_TO_START and counts as a failure; callers
 * who need "nothing runs unless all are allowed" check first, as
 * cu_parallel_run() does.
 *
 * Halting follows GNU parallel's --halt: with halt_when set, once
 * halt_count items (or halt_percent % of total_hint, rounded up) count as
 * halt_on says, no further item is pulled; CU_HALT_NOW also terminates the
 * running ones (TERM, grace, KILL: delivered CU_ITEM_TERMINATED). A retried
 * item counts once, by its last run. The deadline and the cancel token stop
 * the batch like CU_HALT_NOW.
 *
 * Events (cu_observe), hooks, metrics and spans work as for
 * cu_parallel_run(): the batch is one parent span of its items.
 *
 * Returns 0 when the batch ran (*ret: a summary owned by the caller,
 * n_items = items pulled, items = NULL; release with
 * cu_parallel_result_free()), or a negative CU_E*: CU_EINVAL (bad
 * options: no source or sink, halt_count 0 or halt_percent above 100 with a
 * halt, halt_percent without total_hint, out-of-range timeouts), CU_ENOMEM,
 * CU_ESYS (the event loop could not be made, or epoll_wait failed: then
 * items already pulled may never reach the sink, and their borrowed
 * objects are the caller's again once this returns), or the source's own
 * error (after every pulled item was delivered).
 * Thread-safety: reentrant; any number of threads may run batches.
 */
int cu_parallel_stream(const cu_parallel_stream_opts *opts,
                       cu_parallel_result **ret);

/** Release one item's result (NULL ignored). Returns NULL. */
cu_item_result *cu_item_result_free(cu_item_result *result);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_PARALLEL_H */
