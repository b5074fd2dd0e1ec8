/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/context.h
 * @brief Scoped execution context: allowlist, hooks, observers, defaults.
 *
 * Each thread has a stack of scopes. The bottom is the thread's root scope,
 * which permits every program its catalogue permits and has no hooks. A run
 * (cu_run(), cu_loop_spawn(), a pipeline) captures a snapshot of the calling
 * thread's current scope when it is submitted; the snapshot is immutable, so
 * a task running on a loop keeps the context of the thread that submitted it,
 * and later scope changes affect only later runs.
 *
 * Allowlist: a scope configured with a restricted allowlist permits only the
 * programs in both its list and its parent's (it can only remove). A
 * restricted scope with an empty list denies everything, and so does every
 * scope nested in it. cu_allow() is the explicit escape hatch: it adds one
 * program to the current scope, and is refused unless the policy permits
 * widening (cuprum/policy.h; off by default). At an unrestricted scope (the
 * root, or a scope that did not restrict) cu_allow() checks the policy and
 * otherwise changes nothing: everything catalogued stays permitted. (It
 * does not turn "everything" into "only this program".) A run refused by the
 * allowlist fails with CU_EFORBIDDEN naming the program; nothing is spawned.
 * Unsafe commands (cuprum/unsafe.h) are subject to restricted scopes as well,
 * by their program name, and to the unsafe policy.
 *
 * Hooks: before hooks run FIFO with the outer scope's first, then the
 * command's own (cu_cmd_before_hook()). A non-zero return vetoes the run:
 * CU_EVETO, nothing spawned. After hooks run when the result is final: the
 * command's own first, then the scopes' LIFO, inner scope first. Observers
 * receive every event (cuprum/events.h) FIFO, outer scope first; line events
 * only go to observers registered with CU_OBSERVE_LINES, and are not even
 * produced when nobody asked for them. Observers and after hooks cannot
 * break a run: a non-zero return is counted (cu_hook_failures()) and ignored.
 *
 * Snapshot semantics: the set of hooks a run calls is fixed when it is
 * submitted; hooks registered later are not called for it. A hook detached
 * with cu_hook_detach() is not called again once that returns, even by runs
 * already under way (a call already in progress on another thread may still
 * finish). Popping a scope removes its hooks from the context for later
 * runs, but runs already submitted from inside it keep calling them: keep
 * hook data alive until those runs have ended, or detach first.
 *
 * Handles and ownership: registration gives a cu_hook handle when `ret` is
 * not NULL. The handle is shared by the scope (until the scope is popped or
 * the hook detached), by every run snapshot that includes it, and by the
 * caller (until cu_hook_unref()). It is freed when all are done, so the
 * caller may call cu_hook_detach(), cu_hook_failures() etc. any time until
 * its own cu_hook_unref(), even after the scope was popped. cu_hook_unref()
 * does not detach: call cu_hook_detach() first to stop the hook.
 *
 * Thread-safety: scopes are thread-local; cu_scope_*, cu_allow and the
 * registration functions act on the calling thread only. cu_hook_detach(),
 * cu_hook_failures() and cu_hook_unref() may be called from any thread. Hook
 * functions are called on whatever thread drives the run (a loop's thread for
 * tasks), possibly concurrently for concurrent runs.
 */
#ifndef CUPRUM_CONTEXT_H
#define CUPRUM_CONTEXT_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "events.h"
#include "echo.h"
#include "policy.h"
#include "program.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A registered hook or observer. */
typedef struct cu_hook cu_hook;

/** Before hook: return 0 to let the run go ahead, non-zero to veto it. */
typedef int (*cu_before_fn)(void *userdata, const cu_cmd *cmd);

/** After hook: called once the result is final. Non-zero counts a failure. */
typedef int (*cu_after_fn)(void *userdata, const cu_cmd *cmd,
                           const cu_result *result);

/** Observer: one event (borrowed for the call). Non-zero counts a failure. */
typedef int (*cu_observe_fn)(void *userdata, const cu_event *event);

/** A text sink for one line (no trailing newline): echo and warnings. */
typedef void (*cu_line_sink_fn)(void *userdata, const char *line);

/** cu_observe() flag: also deliver stdout/stderr line events. */
#define CU_OBSERVE_LINES 0x1u
/** cu_observe() flag: classify line events against the project's noise
 * rules (cu_event.noise). Matching costs a regexec per line, so it is done
 * only when some observer asks; without it `noise` is always false. */
#define CU_OBSERVE_NOISE 0x2u

/** How a scope changes the allowlist (see above). */
typedef enum cu_allow_mode {
  CU_ALLOW_INHERIT = 0, /**< keep the parent's allowlist (default) */
  CU_ALLOW_ONLY,        /**< only `programs` that the parent also permits;
                             an empty list denies everything */
  CU_ALLOW_NONE,        /**< deny everything */
} cu_allow_mode;

/** A scope's allowlist: one setting, a mode and its list. `programs` is
 * read only with CU_ALLOW_ONLY; with the other modes it must be empty
 * (else CU_EINVAL). Frozen: embedded in cu_scope_config, it never grows. */
typedef struct cu_allowlist {
  cu_allow_mode mode;
  const cu_program *programs; /**< copied by cu_scope_push() */
  size_t n_programs;
} cu_allowlist;

/** What a new scope changes. NULL = inherit everything; else start from
 * CU_SCOPE_CONFIG_INIT (size-versioned like cu_run_opts; every other field
 * zero = inherit). The embedded cu_policy and cu_echo are frozen (never
 * grow). */
typedef struct cu_scope_config {
  size_t size; /**< sizeof(cu_scope_config); set by CU_SCOPE_CONFIG_INIT */
  /** The allowlist: inherit (zero), only these programs, or none. E.g.
   * `.allow = {CU_ALLOW_ONLY, progs, 2}`. */
  cu_allowlist allow;
  int64_t timeout_ms;    /**< default timeout for runs; 0 = inherit */
  int64_t grace_ms;      /**< default TERM→KILL grace; 0 = inherit */
  const cu_env_var *env; /**< overlay applied after the parent's */
  size_t n_env;
  const cu_tag *tags;    /**< tags added after the parent's */
  size_t n_tags;
  cu_policy policy;      /**< zero fields inherit (see cuprum/policy.h) */
  cu_line_sink_fn echo_sink; /**< `set -x` lines; NULL = inherit (stderr) */
  void *echo_sink_data;
  cu_line_sink_fn warn_sink; /**< warnings; NULL = inherit (stderr) */
  void *warn_sink_data;
  /** Echo settings: zero fields inherit (see cuprum/echo.h). Appended
   * (the ABI rule); frozen like cu_policy. */
  cu_echo echo;
} cu_scope_config;

/** Initialiser of a cu_scope_config that inherits everything. */
#define CU_SCOPE_CONFIG_INIT {.size = sizeof(cu_scope_config)}

/**
 * Push a scope configured by `cfg` (NULL = inherit everything) on the
 * calling thread's stack. Everything is copied. Errors: CU_EINVAL (bad
 * field: message names it; bad size), CU_EBADENV (env[i] without a name,
 * or with '=' in it; names are checked in full when a run uses them),
 * CU_EPOLICY (a restriction while the
 * policy forbids narrowing; a security switch looser than the parent's),
 * CU_ENOMEM. On error nothing is pushed.
 */
int cu_scope_push(const cu_scope_config *cfg) CU_NODISCARD;

/**
 * Pop the innermost scope pushed on this thread, removing its hooks from
 * the context. Errors: CU_ESTATE when no scope is pushed.
 */
int cu_scope_pop(void);

/** Number of scopes pushed on this thread (0 at the root). */
int cu_scope_depth(void);

/**
 * Widen the current scope's allowlist with `program`, visibly: permitted
 * only when the policy's widen switch is on, else CU_EPOLICY naming the
 * program. At an unrestricted scope it only checks the policy (see above).
 * The widening lasts until the scope is popped and is inherited by nested
 * scopes (which may narrow it again). Errors: CU_EINVAL, CU_EPOLICY,
 * CU_ENOMEM.
 */
int cu_allow(cu_program program) CU_NODISCARD;

/** Whether `program` is permitted by the current scope's allowlist. */
bool cu_scope_permits(cu_program program);

/**
 * Register a before hook in the current scope. `ret` may be NULL (no
 * handle; the hook lives until the scope is popped). Errors: CU_EINVAL,
 * CU_ENOMEM, CU_EPOLICY (CUPRUM_POLICY is invalid: read the first time a
 * thread uses its scopes; the same for cu_after_hook() and cu_observe()).
 */
int cu_before_hook(cu_before_fn fn, void *userdata, cu_hook **ret)
    CU_NODISCARD CU_NONNULL(1);

/** Register an after hook in the current scope (as cu_before_hook()). */
int cu_after_hook(cu_after_fn fn, void *userdata, cu_hook **ret)
    CU_NODISCARD CU_NONNULL(1);

/**
 * Register an observer in the current scope (function, user data, then
 * `flags`, like the other registrations). `flags`: CU_OBSERVE_LINES to
 * receive line events too, CU_OBSERVE_NOISE to have them classified.
 * Errors: CU_EINVAL (unknown flag, NULL fn), CU_ENOMEM.
 */
int cu_observe(cu_observe_fn fn, void *userdata, unsigned flags,
               cu_hook **ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Attach a before hook to one command; it runs after the scopes' before
 * hooks, for every run of that command. The command owns the registration
 * until cu_cmd_free(). Not thread-safe with runs of the same command.
 * Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_cmd_before_hook(cu_cmd *cmd, cu_before_fn fn, void *userdata,
                       cu_hook **ret) CU_NODISCARD CU_NONNULL(2);

/** Attach an after hook to one command (as cu_cmd_before_hook()). */
int cu_cmd_after_hook(cu_cmd *cmd, cu_after_fn fn, void *userdata,
                      cu_hook **ret) CU_NODISCARD CU_NONNULL(2);

/**
 * Stop a hook: it is removed from its scope (or command) and not called
 * again. Idempotent; any order; any thread; NULL ignored. Does not free
 * the handle.
 */
void cu_hook_detach(cu_hook *hook);

/** Whether the hook is still registered (not detached, scope not popped). */
bool cu_hook_attached(const cu_hook *hook);

/**
 * Number of failures: non-zero returns of an observer or after hook, vetoes
 * of a before hook. 0 for NULL.
 */
unsigned long cu_hook_failures(const cu_hook *hook);

/**
 * Give the hook a name for messages (a veto names the hook). The string is
 * copied. Call before the hook can run. Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_hook_set_name(cu_hook *hook, const char *name);

/** Release the caller's reference (does not detach): hooks are shared with
 * scopes and run snapshots, hence _unref. NULL ignored. Returns NULL. */
cu_hook *cu_hook_unref(cu_hook *hook);

/* ------------------------------------------------------ block scope macro */

/** @cond internal */
struct cu__scope_guard {
  int depth; /* stack depth to return to; -1 if the push failed */
  int once;
};

static inline struct cu__scope_guard cu__scope_enter(const cu_scope_config *cfg,
                                                     int *rc) {
  struct cu__scope_guard g = {cu_scope_depth(), 0};
  *rc = cu_scope_push(cfg);
  if (*rc != 0)
    g.depth = -1;
  else
    g.once = 1;
  return g;
}

static inline void cu__scope_leave(struct cu__scope_guard *g) {
  if (g->depth < 0)
    return;
  while (cu_scope_depth() > g->depth)
    if (cu_scope_pop() != 0)
      break;
}
#define CU__SCOPE_CAT2(a, b) a##b
#define CU__SCOPE_CAT(a, b) CU__SCOPE_CAT2(a, b)
#define CU__SCOPE_VAR CU__SCOPE_CAT(cu__scope_guard_, __LINE__)
/** @endcond */

/**
 * Run a block inside a scope: `int rc; CU_SCOPE(rc, &cfg) { ... }`.
 * `rc` receives cu_scope_push()'s result and the block runs only when it is
 * 0. The configuration comes last so that a compound literal with commas
 * may be written in place:
 * `CU_SCOPE(rc, &(cu_scope_config){.size = sizeof(cu_scope_config), .a = 1})`.
 * The scope is popped however the block is left (end, break, return,
 * goto), via the cleanup attribute; scopes pushed inside and left open are
 * popped too. Do not use two CU_SCOPE on one source line.
 */
#define CU_SCOPE(rc, ...)                                                      \
  for (struct cu__scope_guard CU__SCOPE_VAR                                    \
           __attribute__((cleanup(cu__scope_leave))) =                         \
               cu__scope_enter((__VA_ARGS__), &(rc));                          \
       CU__SCOPE_VAR.once; CU__SCOPE_VAR.once = 0)

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_CONTEXT_H */
