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
} cu_parallel_result;

/**
 * Run the batch to completion. Returns 0 when the batch ran (look at
 * (*ret)->ok and the items), or a negative CU_E* when nothing ran (bad
 * options, an item refused by the pre-flight check: the message names the
 * item and the program). *ret is a new result owned by the caller on
 * success; on error it is NULL (nothing ran, there is nothing to report
 * beyond the code and cu_last_error()). Release with
 * cu_parallel_result_free().
 */
int cu_parallel_run(const cu_batch_item *items, size_t n,
                    const cu_parallel_opts *opts, cu_parallel_result **ret);

/** Release a batch result (NULL ignored). Returns NULL. */
cu_parallel_result *cu_parallel_result_free(cu_parallel_result *result);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_PARALLEL_H */
