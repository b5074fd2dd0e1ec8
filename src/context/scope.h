/* SPDX-License-Identifier: MIT */
/*
 * Internals of the scoped context shared by context.c (the thread-local
 * scope stack), snapshot.c (the immutable cu__ctx the runtime captures),
 * hooks.c (hook handles) and policy.c (the policy rules). Not installed.
 */
#ifndef CUPRUM_SCOPE_H
#define CUPRUM_SCOPE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "context/ctx.h"
#include "cuprum/context.h"
#include "cuprum/policy.h"

/* ------------------------------------------------------------- hooks */

#define CU__HOOK_BEFORE 0x1u
#define CU__HOOK_AFTER 0x2u
#define CU__HOOK_OBSERVE 0x4u

struct cu__frame;

/*
 * A hook handle. Reference-counted: the scope list or command list holding
 * it, every snapshot including it, and the caller each own one reference.
 * `owner` and `frame` are only touched by the thread that registered it.
 */
struct cu_hook {
  atomic_uint refs;
  atomic_bool detached;   /* cu_hook_detach() was called */
  atomic_bool registered; /* still in a scope / command list */
  atomic_ulong failures;
  unsigned kinds;         /* CU__HOOK_* */
  unsigned flags;         /* CU_OBSERVE_LINES */
  cu_before_fn before;
  cu_after_fn after;
  cu_observe_fn observe;
  /* Tracers only (observers with trace context): see cu__ctx_traceparent
   * and cu__ctx_batch in ctx.h. NULL for every other hook. */
  bool (*propagate)(void *data, const cu_event *ev, char *tp, size_t tp_cap,
                    char *ts, size_t ts_cap);
  void (*batch)(void *data, uint64_t batch_id, size_t n_items, bool end);
  void *data;
  void (*free_data)(void *data); /* called when the handle is freed */
  char *name;
  const void *owner;       /* registering thread's stack (scope hooks) */
  struct cu__frame *frame; /* scope holding it, NULL once removed */
};

cu_hook *cu__hook_new(unsigned kinds, void *data);
cu_hook *cu__hook_ref(cu_hook *hook);
void cu__hook_unref(cu_hook *hook);

/* Calls that skip a detached hook and count failures. */
int cu__hook_call_before(cu_hook *hook, const cu_cmd *cmd);
void cu__hook_call_after(cu_hook *hook, const cu_cmd *cmd,
                         const cu_result *result);
void cu__hook_call_observe(cu_hook *hook, const cu_event *ev);

/* Human name of a hook for messages: its name, or "#<n>". */
void cu__hook_label(const cu_hook *hook, size_t index, char *buf, size_t len);

/* A list of hook references (scopes and commands). */
typedef struct cu__hook_list {
  cu_hook **v;
  size_t n;
  size_t cap;
} cu__hook_list;

int cu__hook_list_add(cu__hook_list *list, cu_hook *hook);
bool cu__hook_list_remove(cu__hook_list *list, const cu_hook *hook);
void cu__hook_list_clear(cu__hook_list *list);

/* Per-command hooks (cmd->hooks). */
struct cu__hooks {
  cu__hook_list list;
};

/* Release per-command hooks (NULL ignored): what hooks.c stores in
 * cmd->hooks_free for cu_cmd_free() to call. */
void cu__hooks_free(struct cu__hooks *hooks);

/* Register `hook` (fresh, one reference) in the current scope, taking over
 * that reference; with `ret`, a second reference goes to the caller. */
int cu__scope_register(cu_hook *hook, cu_hook **ret);


/* ------------------------------------------------------------- frames */

/* One scope on a thread's stack. Everything it holds is owned. */
struct cu__frame {
  struct cu__frame *parent;
  /* Effective allowlist (parent ∩ own restriction ∪ widened), sorted. */
  bool allow_all;
  char **allow;
  size_t n_allow;
  int64_t timeout_ms;
  int64_t grace_ms;
  cu_env_var *env; /* own overlay */
  size_t n_env;
  cu_tag *tags; /* own tags */
  size_t n_tags;
  cu_policy policy_req; /* own requests (INHERIT where unset) */
  cu_policy policy;     /* effective, every field concrete (no floor) */
  cu_echo echo_req;     /* own echo requests */
  cu_echo echo;         /* effective echo settings */
  cu_line_sink_fn echo_sink;
  void *echo_data;
  cu_line_sink_fn warn_sink;
  void *warn_data;
  cu__hook_list hooks; /* registration order */
  cu__ctx *snap;       /* cached snapshot of this frame (top only) */
  uint64_t snap_gen;
  uint64_t snap_floor_gen; /* the floor generation the snapshot applied */
};

/* Whether a sorted string array contains `name` (binary search;
 * snapshot.c). */
bool cu__strv_has(char *const *v, size_t n, const char *name);

/* Build a snapshot of `top` and its ancestors (snapshot.c). */
int cu__ctx_build(const struct cu__frame *top, cu__ctx **ret);
cu__ctx *cu__ctx_ref(cu__ctx *ctx);

/* ------------------------------------------------------------- policy */

/* The operator's policy (CUPRUM_POLICY), parsed once. CU_EPOLICY if bad. */
int cu__policy_operator(const cu_policy **ret);
/* The operator's echo settings (CUPRUM_ECHO), parsed once. CU_EINVAL if
 * bad. */
int cu__echo_operator(const cu_echo **ret);
/* Check that every field is in range. CU_EINVAL naming the field. */
int cu__policy_validate(const cu_policy *p, const char *what);
int cu__echo_validate(const cu_echo *e, const char *what);
/* Resolve a frame's requests against its parent's effective policy (NULL
 * at the root, where the built-in defaults and the operator apply). A
 * request looser than the parent's is CU_EPOLICY. The floor is not applied
 * here (it changes over time; it is applied when a run is captured). */
int cu__policy_resolve(const cu_policy *parent, const cu_policy *req,
                       cu_policy *ret);
/* CU_EPOLICY when a requested switch is looser than the process-wide
 * floor (checked on the changes a call makes, not on older settings). */
int cu__policy_check_floor(const cu_policy *changes);
/* The floor (operator + cu_policy_floor_tighten), and `p` tightened by it. */
int cu__policy_floor(cu_policy *ret);
int cu__policy_apply_floor(cu_policy *p);
/* Bumped on every cu_policy_floor_tighten(): cached snapshots compare it. */
uint64_t cu__policy_floor_gen(void);
/* Resolve echo requests against the parent's (NULL at the root); the
 * operator's CUPRUM_ECHO wins. */
int cu__echo_resolve(const cu_echo *parent, const cu_echo *req,
                     cu_echo *ret);

/* A security switch, for messages. */
typedef enum cu__policy_key {
  CU__POLICY_NARROW,
  CU__POLICY_WIDEN,
  CU__POLICY_UNSAFE,
} cu__policy_key;
/* Where the strict value of a switch comes from, for messages ("set by
 * the operator's CUPRUM_POLICY", "... the process-wide floor ..."). */
const char *cu__policy_origin(cu__policy_key key);

/* Default sink: one line to fd 2. */
void cu__stderr_line(void *userdata, const char *line);

#endif /* CUPRUM_SCOPE_H */
