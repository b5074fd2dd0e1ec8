/* SPDX-License-Identifier: MIT */
/*
 * The thread-local scope stack: push/pop, allowlist narrowing and explicit
 * widening, hook registration, and the per-scope policy. This and the
 * thread's last-error buffer are the library's only mutable state, and both
 * are thread-local (see docs/design.md).
 * The immutable snapshots the runtime captures are built in snapshot.c.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/scope.h"
#include "context/tags.h"
#include "spawn/env.h"

struct tstack {
  struct cu__frame root; /* the thread's root scope: permits everything */
  struct cu__frame *top;
  int depth;
  uint64_t gen; /* bumped on every change, invalidating cached snapshots */
};

static _Thread_local struct tstack *tls;
static pthread_key_t tls_key;
static pthread_once_t tls_key_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------- frames */

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void frame_clear(struct cu__frame *f) {
  free_strv(f->allow, f->n_allow);
  cu__env_vars_free(f->env, f->n_env);
  cu__tags_free(f->tags, f->n_tags);
  cu__hook_list_clear(&f->hooks);
  cu__ctx_release(f->snap);
  *f = (struct cu__frame){0};
}

static void tstack_destroy(void *p) {
  struct tstack *ts = p;
  while (ts->top != &ts->root) {
    struct cu__frame *f = ts->top;
    ts->top = f->parent;
    frame_clear(f);
    free(f);
  }
  frame_clear(&ts->root);
  free(ts);
  if (tls == ts)
    tls = NULL;
}

static void make_key(void) {
  /* The destructor frees a thread's stack when the thread exits. If the key
   * cannot be made, stacks of exiting threads leak, nothing worse. */
  (void)pthread_key_create(&tls_key, tstack_destroy);
}

static int tstack_get(struct tstack **ret) {
  if (tls) {
    *ret = tls;
    return 0;
  }
  struct tstack *ts = calloc(1, sizeof *ts);
  if (!ts)
    return cu__fail(CU_ENOMEM, "out of memory creating the scope stack");
  static const cu_policy none;
  static const cu_echo no_echo;
  int rc = cu__policy_resolve(NULL, &none, &ts->root.policy);
  if (rc == 0)
    rc = cu__echo_resolve(NULL, &no_echo, &ts->root.echo);
  if (rc != 0) {
    free(ts);
    return rc;
  }
  ts->root.allow_all = true;
  ts->top = &ts->root;
  pthread_once(&tls_key_once, make_key);
  (void)pthread_setspecific(tls_key, ts);
  tls = ts;
  *ret = ts;
  return 0;
}

static void changed(struct tstack *ts) { ts->gen++; }

/* ------------------------------------------------------------- allowlist */

static bool parent_permits(const struct cu__frame *p, const char *name) {
  return p->allow_all || cu__strv_has(p->allow, p->n_allow, name);
}

/* Insert `name` keeping the list sorted and unique. */
static int list_insert(char ***v, size_t *n, const char *name) {
  if (cu__strv_has(*v, *n, name))
    return 0;
  char *copy = cu__strdup(name);
  char **nv = realloc(*v, (*n + 1) * sizeof *nv);
  if (!copy || !nv) {
    free(copy);
    if (nv)
      *v = nv;
    return cu__fail(CU_ENOMEM, "out of memory building an allowlist");
  }
  size_t i = *n;
  while (i > 0 && strcmp(nv[i - 1], copy) > 0) {
    nv[i] = nv[i - 1];
    i--;
  }
  nv[i] = copy;
  *v = nv;
  (*n)++;
  return 0;
}

/* f's allowlist = parent's, intersected with cfg's when it restricts. */
static int frame_allowlist(struct cu__frame *f, const struct cu__frame *p,
                           const cu_scope_config *cfg, bool restricted) {
  if (!restricted) {
    f->allow_all = p->allow_all;
    for (size_t i = 0; i < p->n_allow; i++)
      if (list_insert(&f->allow, &f->n_allow, p->allow[i]) != 0)
        return CU_ENOMEM;
    return 0;
  }
  f->allow_all = false;
  size_t n = cfg->allow.mode == CU_ALLOW_ONLY ? cfg->allow.n_programs : 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = cfg->allow.programs[i].name;
    if (parent_permits(p, name) &&
        list_insert(&f->allow, &f->n_allow, name) != 0)
      return CU_ENOMEM;
  }
  return 0;
}

/* ------------------------------------------------------------- config */

static int check_allowlist(const cu_allowlist *a) {
  if ((unsigned)a->mode > CU_ALLOW_NONE)
    return cu__fail(CU_EINVAL, "scope config: allow.mode: unknown mode %d",
                    (int)a->mode);
  if (a->mode != CU_ALLOW_ONLY && (a->programs || a->n_programs))
    return cu__fail(CU_EINVAL, "scope config: allow.programs is set but "
                               "allow.mode is not CU_ALLOW_ONLY");
  for (size_t i = 0; i < a->n_programs; i++)
    if (!a->programs || !a->programs[i].name || !a->programs[i].name[0])
      return cu__fail(CU_EINVAL, "scope config: allow.programs[%zu] has no "
                                 "program name", i);
  return 0;
}

static int check_config(const cu_scope_config *cfg) {
  int rc = check_allowlist(&cfg->allow);
  if (rc != 0)
    return rc;
  if (cfg->timeout_ms < 0 || cfg->timeout_ms > CU_TIMEOUT_MAX_MS)
    return cu__fail(CU_EINVAL, "scope config: timeout_ms %lld out of range",
                    (long long)cfg->timeout_ms);
  if (cfg->grace_ms < CU_GRACE_NONE || cfg->grace_ms > CU_TIMEOUT_MAX_MS)
    return cu__fail(CU_EINVAL, "scope config: grace_ms %lld out of range",
                    (long long)cfg->grace_ms);
  for (size_t i = 0; i < cfg->n_env; i++) {
    const char *name = cfg->env ? cfg->env[i].name : NULL;
    if (!name || !name[0] || strchr(name, '='))
      return cu__fail(CU_EBADENV, "scope config: env[%zu] has an invalid "
                                  "name", i);
  }
  for (size_t i = 0; i < cfg->n_tags; i++)
    if (!cfg->tags || !cfg->tags[i].key || !cfg->tags[i].value)
      return cu__fail(CU_EINVAL, "scope config: tags[%zu] needs a key and a "
                                 "value", i);
  rc = cu__policy_validate(&cfg->policy, "scope config: policy");
  return rc ? rc : cu__echo_validate(&cfg->echo, "scope config: echo");
}

static int narrowing_refused(void) {
  return cu__fail(CU_EPOLICY, "cannot push a scope that restricts the "
                              "allowlist: narrowing is not permitted by the "
                              "policy (narrow=deny, %s)",
                  cu__policy_origin(CU__POLICY_NARROW));
}

static int frame_init(struct cu__frame *f, struct cu__frame *parent,
                      const cu_scope_config *cfg) {
  f->parent = parent;
  int rc = cu__policy_check_floor(&cfg->policy);
  if (rc == 0)
    rc = cu__policy_resolve(&parent->policy, &cfg->policy, &f->policy);
  if (rc == 0)
    rc = cu__echo_resolve(&parent->echo, &cfg->echo, &f->echo);
  if (rc != 0)
    return rc;
  f->policy_req = cfg->policy;
  f->echo_req = cfg->echo;
  bool restricted = cfg->allow.mode != CU_ALLOW_INHERIT;
  cu_policy eff = f->policy;
  if (restricted && (rc = cu__policy_apply_floor(&eff)) != 0)
    return rc;
  if (restricted && eff.narrow == CU_SWITCH_OFF)
    return narrowing_refused();
  if (frame_allowlist(f, parent, cfg, restricted) != 0 ||
      cu__env_copy(cfg->env, cfg->n_env, NULL, 0, &f->env, &f->n_env) != 0 ||
      cu__tags_copy(cfg->tags, cfg->n_tags, NULL, 0, &f->tags,
                    &f->n_tags) != 0)
    return cu__fail(CU_ENOMEM, "out of memory pushing a scope");
  f->timeout_ms = cfg->timeout_ms;
  f->grace_ms = cfg->grace_ms;
  f->echo_sink = cfg->echo_sink;
  f->echo_data = cfg->echo_sink_data;
  f->warn_sink = cfg->warn_sink;
  f->warn_data = cfg->warn_sink_data;
  return 0;
}

/* ------------------------------------------------------------- public */

int cu_scope_push(const cu_scope_config *user) {
  cu_scope_config loaded;
  const cu_scope_config *cfg = &loaded;
  int rc = CU__OPTS_LOAD(&loaded, user, cu_scope_config, CU_SCOPE_CONFIG_INIT);
  if (rc == 0)
    rc = check_config(cfg);
  struct tstack *ts = NULL;
  if (rc == 0)
    rc = tstack_get(&ts);
  if (rc != 0)
    return rc;
  struct cu__frame *f = calloc(1, sizeof *f);
  if (!f)
    return cu__fail(CU_ENOMEM, "out of memory pushing a scope");
  rc = frame_init(f, ts->top, cfg);
  if (rc != 0) {
    frame_clear(f);
    free(f);
    return rc;
  }
  ts->top = f;
  ts->depth++;
  changed(ts);
  return 0;
}

int cu_scope_pop(void) {
  struct tstack *ts = tls;
  if (!ts || ts->depth == 0)
    return cu__fail(CU_ESTATE, "cu_scope_pop: no scope is pushed on this "
                               "thread");
  struct cu__frame *f = ts->top;
  ts->top = f->parent;
  ts->depth--;
  frame_clear(f);
  free(f);
  changed(ts);
  return 0;
}

int cu_scope_depth(void) { return tls ? tls->depth : 0; }

int cu_allow(cu_program program) {
  if (!program.name || !program.name[0])
    return cu__fail(CU_EINVAL, "cu_allow: no program name");
  struct tstack *ts = NULL;
  int rc = tstack_get(&ts);
  if (rc != 0)
    return rc;
  struct cu__frame *f = ts->top;
  cu_policy eff = f->policy;
  rc = cu__policy_apply_floor(&eff); /* the floor: any thread, any time */
  if (rc != 0)
    return rc;
  if (eff.widen != CU_SWITCH_ON)
    return cu__fail(CU_EPOLICY, "cu_allow('%s'): widening the allowlist is "
                                "not permitted by the policy (widen=deny, %s)",
                    program.name, cu__policy_origin(CU__POLICY_WIDEN));
  /* At an unrestricted scope everything catalogued is already permitted:
   * widening must never turn "everything" into "only this program". */
  if (f->allow_all)
    return 0;
  rc = list_insert(&f->allow, &f->n_allow, program.name);
  if (rc == 0)
    changed(ts);
  return rc;
}

bool cu_scope_permits(cu_program program) {
  if (!program.name)
    return false;
  return !tls || parent_permits(tls->top, program.name);
}

int cu__scope_register(cu_hook *hook, cu_hook **ret) {
  struct tstack *ts = NULL;
  int rc = tstack_get(&ts);
  if (rc == 0)
    rc = cu__hook_list_add(&ts->top->hooks, hook);
  if (rc != 0) {
    cu__hook_unref(hook);
    return rc;
  }
  hook->owner = ts;
  hook->frame = ts->top;
  atomic_store(&hook->registered, true);
  changed(ts);
  if (ret)
    *ret = cu__hook_ref(hook);
  return 0;
}

static void scope_forget(cu_hook *hook) {
  /* Only the registering thread may edit its stack; a detach from another
   * thread relies on the detached flag alone, and the entry is dropped when
   * the scope is popped. */
  if (!tls || hook->owner != tls || !hook->frame)
    return;
  if (cu__hook_list_remove(&hook->frame->hooks, hook)) {
    atomic_store(&hook->registered, false);
    hook->frame = NULL;
    cu__hook_unref(hook);
    changed(tls);
  }
}

/* Detaching drops the hook from its scope, so it lives with the stack. */
void cu_hook_detach(cu_hook *hook) {
  if (!hook || atomic_exchange(&hook->detached, true))
    return;
  scope_forget(hook);
}

static int register_new(cu_hook *hook, cu_hook **ret) {
  if (!hook)
    return cu__fail(CU_ENOMEM, "out of memory registering a hook");
  return cu__scope_register(hook, ret);
}

int cu_before_hook(cu_before_fn fn, void *userdata, cu_hook **ret) {
  if (!fn)
    return cu__fail(CU_EINVAL, "cu_before_hook: no function");
  cu_hook *hook = cu__hook_new(CU__HOOK_BEFORE, userdata);
  if (hook)
    hook->before = fn;
  return register_new(hook, ret);
}

int cu_after_hook(cu_after_fn fn, void *userdata, cu_hook **ret) {
  if (!fn)
    return cu__fail(CU_EINVAL, "cu_after_hook: no function");
  cu_hook *hook = cu__hook_new(CU__HOOK_AFTER, userdata);
  if (hook)
    hook->after = fn;
  return register_new(hook, ret);
}

int cu_observe(cu_observe_fn fn, void *userdata, unsigned flags,
               cu_hook **ret) {
  if (!fn)
    return cu__fail(CU_EINVAL, "cu_observe: no function");
  if (flags & ~(CU_OBSERVE_LINES | CU_OBSERVE_NOISE))
    return cu__fail(CU_EINVAL, "cu_observe: unknown flags 0x%x", flags);
  cu_hook *hook = cu__hook_new(CU__HOOK_OBSERVE, userdata);
  if (hook) {
    hook->observe = fn;
    hook->flags = flags;
  }
  return register_new(hook, ret);
}

/* ------------------------------------------------------------- policy */

static int scope_policy(cu_policy *ret) {
  if (tls) {
    *ret = tls->top->policy;
    return 0;
  }
  static const cu_policy none;
  return cu__policy_resolve(NULL, &none, ret);
}

static void overlay(cu_policy *dst, const cu_policy *src) {
  if (src->narrow)
    dst->narrow = src->narrow;
  if (src->widen)
    dst->widen = src->widen;
  if (src->unsafe)
    dst->unsafe = src->unsafe;
}

static int scope_update_policy(const cu_policy *changes) {
  struct tstack *ts = NULL;
  int rc = tstack_get(&ts);
  if (rc == 0)
    rc = cu__policy_check_floor(changes);
  if (rc != 0)
    return rc;
  struct cu__frame *f = ts->top;
  cu_policy req = f->policy_req, eff;
  overlay(&req, changes);
  rc = cu__policy_resolve(f->parent ? &f->parent->policy : NULL, &req, &eff);
  if (rc != 0)
    return rc;
  f->policy_req = req;
  f->policy = eff;
  changed(ts);
  return 0;
}

/* The policy is a setting of the current scope, so its public functions
 * live with the scope stack; policy.c has the rules. */
int cu_policy_set(const cu_policy *changes) {
  if (!changes)
    return cu__fail(CU_EINVAL, "cu_policy_set: changes is NULL");
  int rc = cu__policy_validate(changes, "cu_policy_set");
  return rc ? rc : scope_update_policy(changes);
}

int cu_policy_get(cu_policy *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_policy_get: ret is NULL");
  int rc = scope_policy(ret);
  return rc ? rc : cu__policy_apply_floor(ret);
}

/* ------------------------------------------------------------- echo */

static int scope_echo(cu_echo *ret) {
  if (tls) {
    *ret = tls->top->echo;
    return 0;
  }
  static const cu_echo none;
  return cu__echo_resolve(NULL, &none, ret);
}

/* Echo settings nested in a frame are resolved once, when pushed: a change
 * here applies to this frame and to frames pushed later. */
static int scope_update_echo(const cu_echo *changes) {
  struct tstack *ts = NULL;
  int rc = tstack_get(&ts);
  if (rc != 0)
    return rc;
  struct cu__frame *f = ts->top;
  cu_echo req = f->echo_req, eff;
  if (changes->cmd)
    req.cmd = changes->cmd;
  if (changes->output)
    req.output = changes->output;
  rc = cu__echo_resolve(f->parent ? &f->parent->echo : NULL, &req, &eff);
  if (rc != 0)
    return rc;
  f->echo_req = req;
  f->echo = eff;
  changed(ts);
  return 0;
}

int cu_echo_set(const cu_echo *changes) {
  if (!changes)
    return cu__fail(CU_EINVAL, "cu_echo_set: changes is NULL");
  int rc = cu__echo_validate(changes, "cu_echo_set");
  return rc ? rc : scope_update_echo(changes);
}

int cu_echo_get(cu_echo *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_echo_get: ret is NULL");
  return scope_echo(ret);
}

/* ------------------------------------------------------------- capture */

int cu__ctx_capture(cu__ctx **ret) {
  struct tstack *ts = tls;
  if (!ts)
    return cu__ctx_build(NULL, ret);
  struct cu__frame *top = ts->top;
  /* Read the floor's generation before building: a tighten racing the
   * build leaves the cache stale, and the next capture rebuilds. */
  uint64_t floor_gen = cu__policy_floor_gen();
  if (!top->snap || top->snap_gen != ts->gen ||
      top->snap_floor_gen != floor_gen) {
    cu__ctx *snap = NULL;
    int rc = cu__ctx_build(top, &snap);
    if (rc != 0)
      return rc;
    cu__ctx_release(top->snap);
    top->snap = snap;
    top->snap_gen = ts->gen;
    top->snap_floor_gen = floor_gen;
  }
  *ret = cu__ctx_ref(top->snap);
  return 0;
}
