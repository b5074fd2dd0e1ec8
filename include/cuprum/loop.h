/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/loop.h
 * @brief The event loop: many commands at once, on one thread, no SIGCHLD.
 *
 * A cu_loop multiplexes any number of running tasks on epoll. Child exit is
 * observed through pidfds where the kernel has them, else by polling
 * waitid(P_PID, pid, WNOHANG) on a short back-off timer: never a SIGCHLD
 * handler, never a wait for "any child". cu_run() is exactly this loop with
 * one task.
 *
 * A spawn either fails synchronously with a code (nothing is left running),
 * or succeeds with a task whose completion callback fires exactly once.
 *
 * Embedding: cu_loop_fd() is an epoll fd that becomes readable when
 * cu_loop_step(loop, 0) has work; put it in your own poll/epoll loop.
 *
 * Thread-safety: a loop is driven by one thread at a time (cu_loop_step,
 * cu_loop_run, cu_task_wait). cu_task_cancel() and cu_loop_wake() may be
 * called from any thread.
 */
#ifndef CUPRUM_LOOP_H
#define CUPRUM_LOOP_H

#include "attrs.h"

#include <stdbool.h>

#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_loop cu_loop;
typedef struct cu_task cu_task;

/** Called once when a task ends; the result is readable until task free
 * (NULL only if allocating it failed). User data comes first, as in every
 * callback type of the API. */
typedef void (*cu_task_done_fn)(void *userdata, cu_task *task,
                                const cu_result *result);

/** Create a loop; *ret is the caller's (cu_loop_free()). Errors: CU_EINVAL
 * (ret NULL), CU_ESYS (epoll/eventfd), CU_ENOMEM. */
int cu_loop_new(cu_loop **ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Free a loop. Tasks still running are cancelled (TERM, grace, KILL) and
 * reaped before it returns, so nothing outlives the loop. NULL ignored.
 */
cu_loop *cu_loop_free(cu_loop *loop);

/**
 * Start `cmd` on the loop. The current thread's scoped context is captured
 * now. On success *ret is a task owned by the caller (cu_task_free()); its
 * completion callback fires exactly once. Errors are those of cu_run(); on
 * error nothing is left running and *ret is untouched. `cmd` must
 * outlive the task; `opts` is copied, stdin bytes included (as for
 * cu_run(): the buffer may be reused as soon as this returns).
 */
int cu_loop_spawn(cu_loop *loop, const cu_cmd *cmd, const cu_run_opts *opts,
                  cu_task **ret) CU_NODISCARD CU_NONNULL(1);

/** Set the completion callback (before the loop is next driven). */
void cu_task_on_done(cu_task *task, cu_task_done_fn fn, void *userdata);

/** The pollable fd of the loop (readable when there is work). */
int cu_loop_fd(const cu_loop *loop);

/**
 * Process ready events, waiting at most timeout_ms (-1 = until something
 * happens, 0 = do not wait). Returns the number of tasks that completed in
 * this step (>= 0) or a negative error: CU_EINVAL (loop NULL), CU_ESYS
 * (epoll_wait failed; an interrupted wait returns 0).
 */
int cu_loop_step(cu_loop *loop, int timeout_ms) CU_NODISCARD;

/** Drive the loop until no task is running. Returns 0 or an error, as
 * cu_loop_step(). */
int cu_loop_run(cu_loop *loop) CU_NODISCARD;

/** Number of tasks still running. */
unsigned cu_loop_active(const cu_loop *loop);

/** Wake a loop blocked in cu_loop_step from another thread. */
void cu_loop_wake(cu_loop *loop);

/**
 * Drive the task's loop until this task is done: the one way to wait for
 * any task, command or pipeline. Nothing is moved: the result stays owned
 * by the task, and *ret (may be NULL) is set to cu_task_result()'s
 * borrowed pointer, valid until cu_task_free(). For a pipeline task read
 * cu_task_pipeline_result() for the stages. Returns 0, or the error that
 * ended the task (see the cu_run() contract); CU_EINVAL for a NULL task;
 * a loop error (CU_ESYS) leaves the task running and *ret untouched.
 */
int cu_task_wait(cu_task *task, const cu_result **ret) CU_NODISCARD;

/** Whether the task has ended. */
bool cu_task_done(const cu_task *task);

/**
 * The task's result once done (NULL before, or if allocating it failed);
 * owned by the task, valid until cu_task_free(). For a pipeline task it is
 * a summary: the last stage's exit code and signal, the pipeline's ok,
 * timed_out, cancelled and error.
 */
const cu_result *cu_task_result(const cu_task *task);

/**
 * Request cancellation: the loop's thread then terminates the task as for
 * a timeout (TERM, grace, KILL). Idempotent; does nothing once the task is
 * done. Thread-safe: any thread may call it at any time until the task is
 * freed with cu_task_free(), even while the loop thread completes the task
 * or frees the loop (it touches only the task and a reference-counted wake
 * descriptor). NULL ignored.
 */
void cu_task_cancel(cu_task *task);

/**
 * Release a task. A task still running is cancelled and the loop finishes
 * cleaning it up on its next steps (or in cu_loop_free()). NULL ignored.
 */
cu_task *cu_task_free(cu_task *task);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_LOOP_H */
