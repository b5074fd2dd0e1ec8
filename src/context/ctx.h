/* SPDX-License-Identifier: MIT */
/*
 * The runtime's view of the scoped context (implemented in context.c).
 *
 * At submission the runtime captures a snapshot of the calling thread's
 * scope stack: allowlist, hooks, observers, runtime defaults and tags as
 * they are at that moment. The snapshot is immutable and reference-counted,
 * so a task keeps the context of the thread that submitted it while it runs
 * on the loop's thread, and later scope changes do not affect it.
 */
#ifndef CUPRUM_CTX_H
#define CUPRUM_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "cuprum/events.h"
#include "cuprum/run.h"

typedef struct cu__ctx cu__ctx;

/* Snapshot the current thread's context. Errors: CU_ENOMEM. Never NULL on
 * success (the root context is a valid snapshot). */
int cu__ctx_capture(cu__ctx **ret);
void cu__ctx_release(cu__ctx *ctx);

/*
 * May `cmd` run under this context? Checks the allowlist (CU_EFORBIDDEN,
 * message naming the program) and, for unsafe commands, the unsafe policy
 * (CU_EPOLICY when denied; a warning is recorded when the policy warns).
 */
int cu__ctx_check(const cu__ctx *ctx, const cu_cmd *cmd);

/* Runtime defaults the context supplies; zero fields mean "none". */
typedef struct cu__ctx_defaults {
  int64_t timeout_ms;
  int64_t grace_ms;
  const cu_env_var *env; /* applied before the run's own overlay */
  size_t n_env;
  const cu_tag *tags; /* placed before the run's own tags */
  size_t n_tags;
  bool echo_output;  /* CAPTURE becomes TEE for stdout and stderr */
  bool echo_command; /* informational: cu__ctx_before() already echoes */
} cu__ctx_defaults;

/* Fill `ret`; pointers stay valid while the snapshot is held. */
void cu__ctx_get_defaults(const cu__ctx *ctx, cu__ctx_defaults *ret);

/* Run before hooks (scope hooks FIFO outer first, then the command's own).
 * A non-zero hook return vetoes: CU_EVETO, message naming the hook. When
 * the echo setting's cmd is on and nothing vetoed, it then prints
 * "+ <cu_cmd_render()>" to the scope's echo sink (stderr by default), so
 * the runtime must not echo the command itself. */
int cu__ctx_before(const cu__ctx *ctx, const cu_cmd *cmd);

/* Run after hooks (the command's own, then scope hooks LIFO inner first). */
void cu__ctx_after(const cu__ctx *ctx, const cu_cmd *cmd,
                   const cu_result *result);

/* Whether any observer wants line events. */
bool cu__ctx_wants_lines(const cu__ctx *ctx);

/* Whether any observer wants line events classified as noise. */
bool cu__ctx_wants_noise(const cu__ctx *ctx);

/* Whether anyone observes events at all (skip building them otherwise). */
bool cu__ctx_has_observers(const cu__ctx *ctx);

/* Deliver an event to the observers (FIFO). Observer failures are counted,
 * never propagated. */
void cu__ctx_emit(const cu__ctx *ctx, const cu_event *ev);

/* Trace context propagation: whether an observer (a tracer) wants
 * TRACEPARENT set in children, and its values for the stage described by
 * `ev` (a PLAN event). Returns true when `tp` (and `ts`, possibly empty)
 * were filled; false leaves the environment alone. */
bool cu__ctx_propagates(const cu__ctx *ctx);
bool cu__ctx_traceparent(const cu__ctx *ctx, const cu_event *ev, char *tp,
                         size_t tp_cap, char *ts, size_t ts_cap);

/* A cu_parallel_run() batch begins (end false) or ends: tells observers
 * that track batches (tracers). Not an event: the public event stream
 * stays per command. */
void cu__ctx_batch(const cu__ctx *ctx, uint64_t batch_id, size_t n_items,
                   bool end);

#endif /* CUPRUM_CTX_H */
