/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/pipeline.h
 * @brief Pipelines: N commands joined child-to-child by kernel pipes.
 *
 * Bytes between stages never cross the parent: stage i's stdout is stage
 * i+1's stdin, a kernel pipe between two children, so a pipeline streams at
 * the kernel's speed with the kernel's backpressure (a slow consumer slows
 * the producers; the parent's memory stays flat whatever the payload).
 * All stages share one process group: a timeout or cancel terminates the
 * whole tree (TERM, grace, KILL), grandchildren included.
 *
 * Every stage is checked against its catalogue and the scoped context
 * before anything is spawned: one forbidden stage means nothing runs. A
 * spawn failure in stage k kills and reaps stages 0..k-1 before returning.
 *
 * Failure policy: CU_FAIL_FAST (default) — the first stage to fail
 * terminates the others and the result names it. "First" is the earliest
 * observed exit; exits observed in the same loop iteration are ordered by
 * stage index (lowest wins), so the choice never depends on epoll's order.
 * A non-final stage killed by SIGPIPE (its reader exited first, as in
 * `yes | head -n1`) is not a failure unless sigpipe_is_failure is set.
 * CU_FAIL_WAIT_ALL lets every stage finish and reports pipefail-style.
 *
 * Thread-safety: a built pipeline may be run from many threads at once.
 * The commands are borrowed: they must outlive the pipeline's runs.
 */
#ifndef CUPRUM_PIPELINE_H
#define CUPRUM_PIPELINE_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_pipeline cu_pipeline;

typedef enum cu_fail_policy {
  CU_FAIL_FAST = 0, /**< first failure terminates the other stages */
  CU_FAIL_WAIT_ALL, /**< no termination; report the first failure */
} cu_fail_policy;

/** Capacity of the pipes between stages of pipelines of 3 or more stages
 * when pipe_size is 0 (docs/performance.md: with 4 stages a 1 MiB pipe is
 * 1.15-1.35x faster than 64 KiB; with 2 stages it gains nothing and can
 * lose, so 2-stage pipelines keep the kernel's size by default). */
#define CU_PIPE_SIZE_DEFAULT (1024 * 1024)
/** pipe_size value keeping the kernel's default (64 KiB). */
#define CU_PIPE_SIZE_KERNEL (-1)

/** Options for a pipeline run. A NULL pointer means every default; else
 * start from CU_PIPELINE_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_pipeline_opts {
  size_t size; /**< sizeof(cu_pipeline_opts); set by CU_PIPELINE_OPTS_INIT */
  /** Run options for the whole pipeline (NULL = defaults; borrowed for the
   * call): stdin → stage 0; out → the last stage's stdout; err → every
   * stage's stderr, captured separately per stage; env, cwd, timeout,
   * grace, cancel, tags, backend and max_capture apply to the whole
   * pipeline. A pointer, not an embedded struct, so both can grow. */
  const cu_run_opts *run;
  cu_fail_policy policy;
  bool sigpipe_is_failure; /**< count SIGPIPE deaths of non-final stages */
  int pipe_size; /**< between stages: 0 = CU_PIPE_SIZE_DEFAULT from 3
                      stages up, the kernel's below; KERNEL; or bytes */
  /** Bit i: stage i's stdout (i < n-1) is relayed through the parent so it
   * can be observed: line events for stage i when observers want lines,
   * and a capture into stages[i].out when capture_taps is set. With the
   * splice backend the bytes still move in the kernel (tee(2)); the parent
   * reads a copy. Backpressure is kept. Other stages stay child-to-child. */
  uint64_t tap_stages;
  bool capture_taps; /**< capture tapped stages (max_capture applies) */
} cu_pipeline_opts;

/** Initialiser of a cu_pipeline_opts with every default. */
#define CU_PIPELINE_OPTS_INIT {.size = sizeof(cu_pipeline_opts)}

/** The outcome of a pipeline, allocated by the library (fields only ever
 * appended, like cu_result). Release with cu_pipeline_result_free(). */
typedef struct cu_pipeline_result {
  size_t n_stages;    /**< number of stages */
  cu_result **stages; /**< per stage: exit code, signal, pid, timings,
                           stderr (err), terminated; stdout only in the
                           last stage's `out` */
  int fail_index;     /**< first failing stage, or -1 */
  int error;          /**< CU_E* the run returned, or 0 */
  bool ok;            /**< no failure, timeout, cancel or overflow */
  bool timed_out;
  bool cancelled;
  struct timespec start_mono, end_mono;
  int64_t duration_ns;
  cu_spawn_step spawn_step; /**< spawn failure: where */
  int spawn_errno;            /**< and its errno */
  int spawn_index;            /**< and which stage (-1 if none) */
} cu_pipeline_result;

/** An empty pipeline. Errors: CU_EINVAL, CU_ENOMEM. */
int cu_pipeline_new(cu_pipeline **ret) CU_NODISCARD CU_NONNULL(1);

/** Append a stage (borrowed: it must outlive the pipeline). Errors:
 * CU_EINVAL (NULL pipeline), a NULL command's failed constructor code
 * (cuprum/cmd.h; CU_EINVAL when none failed), CU_ENOMEM. */
int cu_pipeline_add(cu_pipeline *p, const cu_cmd *cmd) CU_NODISCARD;

/**
 * A pipeline of the given commands (borrowed, as by cu_pipeline_add()); the
 * list ends with NULL. *ret is the caller's (cu_pipeline_free()). Errors:
 * CU_EINVAL (ret NULL), CU_ENOMEM. The first NULL ends the list, so a
 * command whose constructor failed (left NULL) would end the pipeline
 * there: check each constructor's return first, or build with
 * cu_pipeline_add(), which returns that constructor's code for a NULL
 * command. Running a pipeline of fewer than two stages is CU_EINVAL.
 */
int cu_pipeline_of(cu_pipeline **ret, const cu_cmd *first, ...)
    CU_NODISCARD CU_NONNULL(1) CU_SENTINEL;

/** Number of stages. */
size_t cu_pipeline_stage_count(const cu_pipeline *p);

/** Release (NULL ignored; the commands are not freed). Returns NULL. */
cu_pipeline *cu_pipeline_free(cu_pipeline *p);

/**
 * Run a pipeline of at least 2 stages to completion. The return contract
 * is cu_run()'s: 0 when it ran (look at (*ret)->ok and fail_index), a
 * negative CU_E* when nothing ran or a stage could not be spawned (then
 * nothing is left running). *ret is a new result owned by the caller, also
 * on error (it carries the error, spawn step and stage), NULL only when
 * allocating it failed (CU_ENOMEM).
 */
int cu_pipeline_run(const cu_pipeline *p, const cu_pipeline_opts *opts,
                    cu_pipeline_result **ret) CU_NODISCARD;

/** Start a pipeline on a loop; wait with cu_task_wait(), then read
 * cu_task_pipeline_result(). Errors: those of cu_pipeline_run(). */
int cu_loop_spawn_pipeline(cu_loop *loop, const cu_pipeline *p,
                           const cu_pipeline_opts *opts, cu_task **ret)
    CU_NODISCARD CU_NONNULL(1);

/** The pipeline result of a finished pipeline task (NULL before, and for
 * command tasks). Owned by the task: valid until cu_task_free(). */
const cu_pipeline_result *cu_task_pipeline_result(const cu_task *task);

/** Release a pipeline result (NULL ignored). Returns NULL. */
cu_pipeline_result *cu_pipeline_result_free(cu_pipeline_result *result);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_PIPELINE_H */
