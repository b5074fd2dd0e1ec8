/* SPDX-License-Identifier: MIT */
/*
 * The immutable context snapshot (cu__ctx) the runtime captures at
 * submission, and the runtime contract of ctx.h that reads it: allowlist and
 * unsafe-policy check, runtime defaults, before/after hooks, the `set -x`
 * echo, and event delivery to observers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "context/scope.h"

/* Sorted allowlists (the scope stack builds them, snapshots read them). */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

bool cu__strv_has(char *const *v, size_t n, const char *name) {
  return n && bsearch(&name, v, n, sizeof *v, cmp_str) != NULL;
}

struct cu__ctx {
  atomic_uint refs;
  bool is_static; /* the shared root snapshot: never freed */
  cu_policy policy; /* the scope's, the floor applied at capture */
  cu_echo echo;
  bool allow_all;
  char **allow; /* sorted */
  size_t n_allow;
  cu_hook **hooks; /* every hook once, outer scope first; one ref each */
  size_t n_hooks;
  cu_hook **before; /* call order: FIFO, outer first */
  size_t n_before;
  cu_hook **after; /* call order: LIFO, inner first */
  size_t n_after;
  cu_hook **observers; /* call order: FIFO, outer first */
  size_t n_observers;
  bool wants_lines;
  bool wants_noise;
  cu__ctx_defaults defaults; /* env and tags point into the arrays below */
  cu_env_var *env;
  cu_tag *tags;
  cu_line_sink_fn echo_sink;
  void *echo_data;
  cu_line_sink_fn warn_sink;
  void *warn_data;
};

void cu__stderr_line(void *userdata, const char *line) {
  (void)userdata;
  size_t n = strlen(line);
  char *buf = malloc(n + 1);
  if (!buf)
    return;
  /* One write per line keeps lines from concurrent runs whole. */
  memcpy(buf, line, n);
  buf[n] = '\n';
  ssize_t w = write(STDERR_FILENO, buf, n + 1);
  (void)w;
  free(buf);
}

/* ------------------------------------------------------------- lifetime */

cu__ctx *cu__ctx_ref(cu__ctx *ctx) {
  if (!ctx->is_static)
    atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
  return ctx;
}

static void ctx_free(cu__ctx *ctx) {
  for (size_t i = 0; i < ctx->n_allow; i++)
    free(ctx->allow[i]);
  free(ctx->allow);
  for (size_t i = 0; i < ctx->n_hooks; i++)
    cu__hook_unref(ctx->hooks[i]);
  free(ctx->hooks);
  free(ctx->before);
  free(ctx->after);
  free(ctx->observers);
  for (size_t i = 0; i < ctx->defaults.n_env; i++) {
    free((char *)ctx->env[i].name);
    free((char *)ctx->env[i].value);
  }
  free(ctx->env);
  for (size_t i = 0; i < ctx->defaults.n_tags; i++) {
    free((char *)ctx->tags[i].key);
    free((char *)ctx->tags[i].value);
  }
  free(ctx->tags);
  free(ctx);
}

void cu__ctx_release(cu__ctx *ctx) {
  if (!ctx || ctx->is_static)
    return;
  if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
    ctx_free(ctx);
}

/* ------------------------------------------------------------- building */

/* Frames from the root to `top`, so that outer scopes come first. */
static size_t frame_chain(const struct cu__frame *top,
                          const struct cu__frame **out, size_t max) {
  size_t n = 0;
  for (const struct cu__frame *f = top; f; f = f->parent)
    n++;
  if (n > max)
    return 0;
  size_t i = n;
  for (const struct cu__frame *f = top; f; f = f->parent)
    out[--i] = f;
  return n;
}

static int build_allow(cu__ctx *ctx, const struct cu__frame *top) {
  ctx->allow_all = top->allow_all;
  if (!top->n_allow)
    return 0;
  ctx->allow = calloc(top->n_allow, sizeof *ctx->allow);
  if (!ctx->allow)
    return CU_ENOMEM;
  for (size_t i = 0; i < top->n_allow; i++, ctx->n_allow++)
    if (!(ctx->allow[i] = cu__strdup(top->allow[i])))
      return CU_ENOMEM;
  return 0;
}

static int build_hooks(cu__ctx *ctx, const struct cu__frame **chain,
                       size_t depth) {
  size_t total = 0;
  for (size_t d = 0; d < depth; d++)
    total += chain[d]->hooks.n;
  if (!total)
    return 0;
  ctx->hooks = calloc(total, sizeof *ctx->hooks);
  ctx->before = calloc(total, sizeof *ctx->before);
  ctx->after = calloc(total, sizeof *ctx->after);
  ctx->observers = calloc(total, sizeof *ctx->observers);
  if (!ctx->hooks || !ctx->before || !ctx->after || !ctx->observers)
    return CU_ENOMEM;
  for (size_t d = 0; d < depth; d++) {
    for (size_t i = 0; i < chain[d]->hooks.n; i++) {
      cu_hook *h = chain[d]->hooks.v[i];
      if (atomic_load(&h->detached))
        continue;
      ctx->hooks[ctx->n_hooks++] = cu__hook_ref(h);
      if (h->kinds & CU__HOOK_BEFORE)
        ctx->before[ctx->n_before++] = h;
      if (h->kinds & CU__HOOK_OBSERVE) {
        ctx->observers[ctx->n_observers++] = h;
        ctx->wants_lines |= (h->flags & CU_OBSERVE_LINES) != 0;
        ctx->wants_noise |= (h->flags & CU_OBSERVE_NOISE) != 0;
      }
    }
  }
  /* After hooks: LIFO, so inner scopes' (registered later) come first. */
  for (size_t i = ctx->n_hooks; i-- > 0;)
    if (ctx->hooks[i]->kinds & CU__HOOK_AFTER)
      ctx->after[ctx->n_after++] = ctx->hooks[i];
  return 0;
}

static int build_env_tags(cu__ctx *ctx, const struct cu__frame **chain,
                          size_t depth) {
  size_t n_env = 0, n_tags = 0;
  for (size_t d = 0; d < depth; d++) {
    n_env += chain[d]->n_env;
    n_tags += chain[d]->n_tags;
  }
  if ((n_env && !(ctx->env = calloc(n_env, sizeof *ctx->env))) ||
      (n_tags && !(ctx->tags = calloc(n_tags, sizeof *ctx->tags))))
    return CU_ENOMEM;
  cu__ctx_defaults *df = &ctx->defaults;
  for (size_t d = 0; d < depth; d++) {
    const struct cu__frame *f = chain[d];
    for (size_t i = 0; i < f->n_env; i++) {
      cu_env_var *e = &ctx->env[df->n_env++];
      e->name = cu__strdup(f->env[i].name);
      e->value = f->env[i].value ? cu__strdup(f->env[i].value) : NULL;
      if (!e->name || (f->env[i].value && !e->value))
        return CU_ENOMEM;
    }
    for (size_t i = 0; i < f->n_tags; i++) {
      cu_tag *t = &ctx->tags[df->n_tags++];
      t->key = cu__strdup(f->tags[i].key);
      t->value = cu__strdup(f->tags[i].value);
      if (!t->key || !t->value)
        return CU_ENOMEM;
    }
  }
  df->env = ctx->env;
  df->tags = ctx->tags;
  return 0;
}

/* Scalars: the innermost scope that sets one wins. */
static void build_scalars(cu__ctx *ctx, const struct cu__frame **chain,
                          size_t depth) {
  ctx->echo_sink = cu__stderr_line;
  ctx->warn_sink = cu__stderr_line;
  for (size_t d = 0; d < depth; d++) {
    const struct cu__frame *f = chain[d];
    if (f->timeout_ms)
      ctx->defaults.timeout_ms = f->timeout_ms;
    if (f->grace_ms)
      ctx->defaults.grace_ms = f->grace_ms;
    if (f->echo_sink) {
      ctx->echo_sink = f->echo_sink;
      ctx->echo_data = f->echo_data;
    }
    if (f->warn_sink) {
      ctx->warn_sink = f->warn_sink;
      ctx->warn_data = f->warn_data;
    }
  }
  ctx->defaults.echo_output = ctx->echo.output == CU_SWITCH_ON;
  ctx->defaults.echo_command = ctx->echo.cmd == CU_SWITCH_ON;
}

#define CU__MAX_SCOPE_DEPTH 4096

static int build_from(const struct cu__frame *top, cu__ctx **ret) {
  const struct cu__frame *chain_small[64];
  const struct cu__frame **chain = chain_small;
  size_t depth = frame_chain(top, chain_small, CU__ARRAY_LEN(chain_small));
  if (depth == 0) {
    chain = malloc(CU__MAX_SCOPE_DEPTH * sizeof *chain);
    depth = chain ? frame_chain(top, chain, CU__MAX_SCOPE_DEPTH) : 0;
    if (!depth) {
      free(chain);
      return cu__fail(CU_ENOMEM, "scope stack too deep or out of memory");
    }
  }
  cu__ctx *ctx = calloc(1, sizeof *ctx);
  int rc = ctx ? 0 : CU_ENOMEM;
  if (rc == 0) {
    atomic_init(&ctx->refs, 1);
    ctx->policy = top->policy;
    ctx->echo = top->echo;
    /* The process-wide floor, on top of the thread's scopes. */
    rc = cu__policy_apply_floor(&ctx->policy) == 0 ? 0 : CU_EPOLICY;
  }
  if (rc == 0)
    rc = build_allow(ctx, top);
  if (rc == 0)
    rc = build_hooks(ctx, chain, depth);
  if (rc == 0)
    rc = build_env_tags(ctx, chain, depth);
  if (rc == 0)
    build_scalars(ctx, chain, depth);
  if (chain != chain_small)
    free(chain);
  if (rc != 0) {
    if (ctx)
      ctx_free(ctx);
    /* An invalid CUPRUM_POLICY has said so already. */
    return rc == CU_EPOLICY ? rc
                            : cu__fail(CU_ENOMEM, "out of memory capturing "
                                                  "the context");
  }
  *ret = ctx;
  return 0;
}

/* The snapshot of a thread that never touched its scopes: shared, built
 * once (it depends only on the operator's policy). */
static cu__ctx *root_snap;
static int root_rc;
static pthread_once_t root_once = PTHREAD_ONCE_INIT;

static int root_frame(struct cu__frame *root) {
  *root = (struct cu__frame){.allow_all = true};
  static const cu_policy none;
  static const cu_echo no_echo;
  int rc = cu__policy_resolve(NULL, &none, &root->policy);
  return rc ? rc : cu__echo_resolve(NULL, &no_echo, &root->echo);
}

static void build_root(void) {
  struct cu__frame root;
  root_rc = root_frame(&root);
  if (root_rc == 0)
    root_rc = build_from(&root, &root_snap);
  if (root_rc == 0)
    root_snap->is_static = true;
}

/*
 * Once code has tightened the floor, the root snapshot depends on it: one
 * is cached per floor generation (refcounted like any snapshot), so threads
 * that never touched their scopes still share one and see the floor.
 */
static pthread_mutex_t floor_root_lock = PTHREAD_MUTEX_INITIALIZER;
static cu__ctx *floor_root;
static uint64_t floor_root_gen;

static int build_floor_root(uint64_t gen, cu__ctx **ret) {
  pthread_mutex_lock(&floor_root_lock);
  int rc = 0;
  if (!floor_root || floor_root_gen != gen) {
    struct cu__frame root;
    cu__ctx *snap = NULL;
    rc = root_frame(&root);
    if (rc == 0)
      rc = build_from(&root, &snap);
    if (rc == 0) {
      cu__ctx_release(floor_root);
      floor_root = snap;
      floor_root_gen = gen;
    }
  }
  if (rc == 0)
    *ret = cu__ctx_ref(floor_root);
  pthread_mutex_unlock(&floor_root_lock);
  return rc;
}

int cu__ctx_build(const struct cu__frame *top, cu__ctx **ret) {
  if (top)
    return build_from(top, ret);
  uint64_t gen = cu__policy_floor_gen();
  if (gen != 0)
    return build_floor_root(gen, ret);
  pthread_once(&root_once, build_root);
  if (root_rc != 0) {
    /* Repeat the reason on this thread (the message is thread-local). */
    struct cu__frame root;
    int rc = root_frame(&root);
    return rc ? rc : cu__fail(root_rc, "cannot build the root context");
  }
  *ret = root_snap;
  return 0;
}

/* ------------------------------------------------------------- contract */

static bool ctx_permits(const cu__ctx *ctx, const char *name) {
  return ctx->allow_all || cu__strv_has(ctx->allow, ctx->n_allow, name);
}

static int forbidden(const cu__ctx *ctx, const char *name) {
  if (ctx->n_allow == 0)
    return cu__fail(CU_EFORBIDDEN, "program '%s' is forbidden by the current "
                                   "context (its allowlist is empty)", name);
  return cu__fail(CU_EFORBIDDEN, "program '%s' is forbidden by the current "
                                 "context (allowed: %s%s)", name,
                  ctx->allow[0], ctx->n_allow > 1 ? ", ..." : "");
}

static int check_unsafe(const cu__ctx *ctx, const cu_cmd *cmd) {
  const char *name = cmd->program.name ? cmd->program.name : "?";
  if (ctx->policy.unsafe == CU_UNSAFE_DENY)
    return cu__fail(CU_EPOLICY, "unsafe command '%s' is denied by policy "
                                "(unsafe=deny, %s)", name,
                    cu__policy_origin(CU__POLICY_UNSAFE));
  if (ctx->policy.unsafe == CU_UNSAFE_WARN) {
    char line[512];
    snprintf(line, sizeof line, "cuprum: warning: running unsafe command "
             "'%s' (%s), not from the catalogue (policy unsafe=warn)", name,
             cmd->path ? cmd->path : "?");
    ctx->warn_sink(ctx->warn_data, line);
  }
  return 0;
}

int cu__ctx_check(const cu__ctx *ctx, const cu_cmd *cmd) {
  if (!ctx || !cmd)
    return cu__fail(CU_EINVAL, "context check: no context or command");
  const char *name = cmd->program.name ? cmd->program.name : "";
  if (!ctx_permits(ctx, name))
    return forbidden(ctx, name);
  return cmd->unsafe ? check_unsafe(ctx, cmd) : 0;
}

void cu__ctx_get_defaults(const cu__ctx *ctx, cu__ctx_defaults *ret) {
  *ret = ctx->defaults;
}

static int vetoed(const cu_cmd *cmd, const cu_hook *hook, size_t index,
                  const char *where, int rc) {
  char label[128];
  cu__hook_label(hook, index, label, sizeof label);
  return cu__fail(CU_EVETO, "run of '%s' vetoed by %s before hook %s "
                            "(returned %d)",
                  cmd->program.name ? cmd->program.name : "?", where, label,
                  rc);
}

static void echo_command(const cu__ctx *ctx, const cu_cmd *cmd) {
  char *rendered = NULL;
  if (cu_cmd_render(cmd, &rendered) != 0)
    return;
  char *line = cu__asprintf("+ %s", rendered);
  free(rendered);
  if (line)
    ctx->echo_sink(ctx->echo_data, line);
  free(line);
}

int cu__ctx_before(const cu__ctx *ctx, const cu_cmd *cmd) {
  for (size_t i = 0; i < ctx->n_before; i++) {
    int rc = cu__hook_call_before(ctx->before[i], cmd);
    if (rc != 0)
      return vetoed(cmd, ctx->before[i], i, "scope", rc);
  }
  if (cmd->hooks) {
    const cu__hook_list *l = &cmd->hooks->list;
    for (size_t i = 0; i < l->n; i++) {
      int rc = cu__hook_call_before(l->v[i], cmd);
      if (rc != 0)
        return vetoed(cmd, l->v[i], i, "command", rc);
    }
  }
  if (ctx->echo.cmd == CU_SWITCH_ON)
    echo_command(ctx, cmd);
  return 0;
}

void cu__ctx_after(const cu__ctx *ctx, const cu_cmd *cmd,
                   const cu_result *result) {
  if (cmd->hooks) {
    const cu__hook_list *l = &cmd->hooks->list;
    for (size_t i = l->n; i-- > 0;)
      cu__hook_call_after(l->v[i], cmd, result);
  }
  for (size_t i = 0; i < ctx->n_after; i++)
    cu__hook_call_after(ctx->after[i], cmd, result);
}

bool cu__ctx_wants_lines(const cu__ctx *ctx) { return ctx->wants_lines; }

bool cu__ctx_wants_noise(const cu__ctx *ctx) { return ctx->wants_noise; }

bool cu__ctx_has_observers(const cu__ctx *ctx) {
  return ctx->n_observers != 0;
}

bool cu__ctx_propagates(const cu__ctx *ctx) {
  for (size_t i = 0; i < ctx->n_observers; i++)
    if (ctx->observers[i]->propagate && cu_hook_attached(ctx->observers[i]))
      return true;
  return false;
}

bool cu__ctx_traceparent(const cu__ctx *ctx, const cu_event *ev, char *tp,
                         size_t tp_cap, char *ts, size_t ts_cap) {
  ts[0] = '\0';
  for (size_t i = 0; i < ctx->n_observers; i++) {
    cu_hook *h = ctx->observers[i];
    if (h->propagate && !atomic_load(&h->detached) &&
        h->propagate(h->data, ev, tp, tp_cap, ts, ts_cap))
      return true; /* the outermost tracer owns the trace */
  }
  return false;
}

void cu__ctx_batch(const cu__ctx *ctx, uint64_t batch_id, size_t n_items,
                   bool end) {
  for (size_t i = 0; i < ctx->n_observers; i++) {
    cu_hook *h = ctx->observers[i];
    if (h->batch && !atomic_load(&h->detached))
      h->batch(h->data, batch_id, n_items, end);
  }
}

void cu__ctx_emit(const cu__ctx *ctx, const cu_event *ev) {
  for (size_t i = 0; i < ctx->n_observers; i++)
    cu__hook_call_observe(ctx->observers[i], ev);
}
