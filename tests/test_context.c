/* SPDX-License-Identifier: MIT */
/*
 * Scoped context: allowlist narrowing/widening, hook ordering, detach,
 * veto, snapshots, defaults, thread isolation. These drive the runtime
 * contract (src/ctx.h) directly with hand-built commands; the real-process
 * tests are in test_events.c.
 * ctest-labels: threads
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "context/ctx.h"
#include "runtime/job.h" /* cu__result_new */
#include "base/internal.h"
#include "catalogue/cmd_int.h"

/* ------------------------------------------------------------- fixtures */

typedef struct fake {
  struct cu_cmd cmd;
  char *argv[4];
} fake;

static void fake_init(fake *f, const char *name, const char *arg) {
  memset(f, 0, sizeof *f);
  f->argv[0] = (char *)name;
  f->argv[1] = (char *)arg;
  f->cmd.program = CU_PROGRAM(name);
  f->cmd.path = (char *)"/bin/true";
  f->cmd.argv = f->argv;
  f->cmd.argc = arg ? 2 : 1;
}

static void fake_done(fake *f) {
  if (f->cmd.hooks)
    f->cmd.hooks_free(f->cmd.hooks);
}

static int check_name(const char *name) {
  fake f;
  fake_init(&f, name, NULL);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  int rc = cu__ctx_check(ctx, &f.cmd);
  cu__ctx_release(ctx);
  return rc;
}

static void push_allow(const char *const *names, size_t n) {
  cu_program progs[8];
  for (size_t i = 0; i < n; i++)
    progs[i] = CU_PROGRAM(names[i]);
  cu_scope_config cfg = {.size = sizeof(cu_scope_config),
                         .allow = {CU_ALLOW_ONLY, progs, n}};
  assert_int_equal(cu_scope_push(&cfg), 0);
}

static void allow_widening(void) {
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}), 0);
}

/* Tests share a process when the binary runs them all: undo root changes. */
static int reset_root(void **state) {
  (void)state;
  while (cu_scope_depth() > 0)
    cu_scope_pop();
  return cu_policy_set(&(cu_policy){.widen = CU_SWITCH_OFF});
}

/* A trace of hook calls: each hook appends its tag. */
typedef struct trace {
  char seq[64];
  int veto_at; /* tag character that vetoes, or 0 */
} trace;

typedef struct tagged {
  trace *t;
  char tag;
} tagged;

static void trace_add(trace *t, char c) {
  size_t n = strlen(t->seq);
  if (n + 1 < sizeof t->seq)
    t->seq[n] = c;
}

static int before_fn(void *data, const cu_cmd *cmd) {
  (void)cmd;
  tagged *tg = data;
  trace_add(tg->t, tg->tag);
  return tg->t->veto_at == tg->tag ? 7 : 0;
}

static int after_fn(void *data, const cu_cmd *cmd, const cu_result *r) {
  (void)cmd;
  (void)r;
  tagged *tg = data;
  trace_add(tg->t, tg->tag);
  return 0;
}

static int observe_fn(void *data, const cu_event *ev) {
  (void)ev;
  tagged *tg = data;
  trace_add(tg->t, tg->tag);
  return 0;
}

static void run_before(const char *name, trace *t, int expect) {
  fake f;
  fake_init(&f, name, NULL);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  memset(t->seq, 0, sizeof t->seq);
  assert_int_equal(cu__ctx_before(ctx, &f.cmd), expect);
  cu__ctx_release(ctx);
}

static void emit_on(cu__ctx *ctx, cu_event_phase phase) {
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.phase = phase;
  cu__ctx_emit(ctx, &ev);
}

/* ------------------------------------------------------------- allowlist */

static void test_root_permits_everything(void **state) {
  (void)state;
  assert_int_equal(cu_scope_depth(), 0);
  assert_int_equal(check_name("ls"), 0);
  assert_int_equal(check_name("anything-catalogued"), 0);
  assert_true(cu_scope_permits(CU_LS));
}

static void test_narrowing_intersects_parent(void **state) {
  (void)state;
  push_allow((const char *[]){"ls", "cat"}, 2);
  push_allow((const char *[]){"cat", "rm"}, 2);
  assert_int_equal(check_name("cat"), 0);
  assert_int_equal(check_name("rm"), CU_EFORBIDDEN);
  assert_non_null(strstr(cu_last_error(), "'rm'"));
  assert_non_null(strstr(cu_last_error(), "forbidden by the current context"));
  assert_int_equal(check_name("ls"), CU_EFORBIDDEN);
  assert_int_equal(cu_scope_pop(), 0);
  assert_int_equal(check_name("ls"), 0);
  assert_int_equal(check_name("rm"), CU_EFORBIDDEN);
  assert_int_equal(cu_scope_pop(), 0);
  assert_int_equal(check_name("rm"), 0);
}

static void test_unrestricted_scope_inherits_allowlist(void **state) {
  (void)state;
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(cu_scope_push(&(cu_scope_config){
                       .size = sizeof(cu_scope_config), .timeout_ms = 5}),
                   0);
  assert_int_equal(check_name("ls"), 0);
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  cu_scope_pop();
  cu_scope_pop();
}

static void test_empty_scope_denies_nested(void **state) {
  (void)state;
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow.mode = CU_ALLOW_NONE}),
      0);
  assert_int_equal(check_name("ls"), CU_EFORBIDDEN);
  assert_non_null(strstr(cu_last_error(), "empty"));
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(check_name("ls"), CU_EFORBIDDEN);
  assert_false(cu_scope_permits(CU_LS));
  cu_scope_pop();
  cu_scope_pop();
  assert_int_equal(check_name("ls"), 0);
}

static void test_allow_refused_by_default_policy(void **state) {
  (void)state;
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(cu_allow(CU_CAT), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "'cat'"));
  assert_non_null(strstr(cu_last_error(), "widen=deny"));
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  cu_scope_pop();
  /* at the root as well: the policy is checked even where it changes
   * nothing, so code behaves the same wherever it runs */
  assert_int_equal(cu_allow(CU_CAT), CU_EPOLICY);
}

static void test_allow_widens_when_permitted(void **state) {
  (void)state;
  allow_widening();
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(cu_allow(CU_CAT), 0);
  assert_int_equal(cu_allow(CU_CAT), 0); /* idempotent */
  assert_int_equal(check_name("cat"), 0);
  /* inherited by nested scopes, which may narrow it again */
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(check_name("cat"), 0);
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  cu_scope_pop();
  cu_scope_pop();
  cu_scope_pop();
  /* gone with the scope that widened */
  push_allow((const char *[]){"ls"}, 1);
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  cu_scope_pop();
}

static void test_allow_at_root_keeps_everything(void **state) {
  (void)state;
  allow_widening();
  assert_int_equal(cu_allow(CU_LS), 0);
  /* the Python design turns "everything" into "only ls" here: not us */
  assert_int_equal(check_name("cat"), 0);
  assert_int_equal(check_name("ls"), 0);
  assert_true(cu_scope_permits(CU_CAT));
}

static void test_allow_reopens_empty_scope_explicitly(void **state) {
  (void)state;
  allow_widening();
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow.mode = CU_ALLOW_NONE}),
      0);
  assert_int_equal(cu_allow(CU_LS), 0);
  assert_int_equal(check_name("ls"), 0);
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  cu_scope_pop();
}

static void test_pop_without_push_fails(void **state) {
  (void)state;
  assert_int_equal(cu_scope_pop(), CU_ESTATE);
  assert_int_equal(cu_scope_depth(), 0);
}

static void test_bad_config_rejected(void **state) {
  (void)state;
  cu_program bad[] = {CU_PROGRAM(NULL)};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, bad, 1}}),
      CU_EINVAL);
  assert_int_equal(cu_scope_push(&(cu_scope_config){
                       .size = sizeof(cu_scope_config), .timeout_ms = -1}),
                   CU_EINVAL);
  cu_env_var env[] = {{"A=B", "x"}};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){
          .size = sizeof(cu_scope_config), .env = env, .n_env = 1}),
      CU_EBADENV);
  assert_int_equal(cu_scope_push(&(cu_scope_config){
                       .size = sizeof(cu_scope_config), .policy.unsafe = 9}),
                   CU_EINVAL);
  assert_int_equal(cu_scope_depth(), 0);
}

/* ------------------------------------------------------------- hooks */

static void test_before_hooks_fifo_outer_first(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'}, d = {&t, 'd'};
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &a, NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &b, NULL), 0);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &c, NULL), 0);
  fake f;
  fake_init(&f, "ls", NULL);
  assert_int_equal(cu_cmd_before_hook(&f.cmd, before_fn, &d, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_int_equal(cu__ctx_before(ctx, &f.cmd), 0);
  assert_string_equal(t.seq, "abcd");
  cu__ctx_release(ctx);
  fake_done(&f);
  cu_scope_pop();
  cu_scope_pop();
}

static void test_after_hooks_lifo_inner_first(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'}, d = {&t, 'd'},
         e = {&t, 'e'};
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_after_hook(after_fn, &a, NULL), 0);
  assert_int_equal(cu_after_hook(after_fn, &b, NULL), 0);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_after_hook(after_fn, &c, NULL), 0);
  fake f;
  fake_init(&f, "ls", NULL);
  assert_int_equal(cu_cmd_after_hook(&f.cmd, after_fn, &d, NULL), 0);
  assert_int_equal(cu_cmd_after_hook(&f.cmd, after_fn, &e, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu_result *r = cu__result_new();
  assert_non_null(r);
  cu__ctx_after(ctx, &f.cmd, r);
  r = cu_result_free(r);
  assert_string_equal(t.seq, "edcba");
  cu__ctx_release(ctx);
  fake_done(&f);
  cu_scope_pop();
  cu_scope_pop();
}

static void test_observers_fifo_outer_first(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'};
  cu_hook *root_hook = NULL;
  assert_int_equal(cu_observe(observe_fn, &a, 0, &root_hook), 0); /* root */
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(observe_fn, &b, 0, NULL), 0);
  assert_int_equal(cu_observe(observe_fn, &c, 0, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  emit_on(ctx, CU_EV_START);
  assert_string_equal(t.seq, "abc");
  cu__ctx_release(ctx);
  cu_scope_pop();
  cu_hook_detach(root_hook); /* leave the root as found */
  cu_hook_unref(root_hook);
}

static void test_before_hook_veto(void **state) {
  (void)state;
  trace t = {.veto_at = 'b'};
  tagged a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'};
  cu_hook *hb = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &a, NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &b, &hb), 0);
  assert_int_equal(cu_hook_set_name(hb, "audit"), 0);
  assert_int_equal(cu_before_hook(before_fn, &c, NULL), 0);
  run_before("git", &t, CU_EVETO);
  assert_string_equal(t.seq, "ab"); /* c never ran */
  assert_non_null(strstr(cu_last_error(), "'audit'"));
  assert_non_null(strstr(cu_last_error(), "'git'"));
  assert_int_equal(cu_hook_failures(hb), 1);
  cu_hook_detach(hb);
  run_before("git", &t, 0);
  assert_string_equal(t.seq, "ac");
  cu_hook_unref(hb);
  cu_scope_pop();
}

static void test_command_hook_veto(void **state) {
  (void)state;
  trace t = {.veto_at = 'x'};
  tagged x = {&t, 'x'};
  fake f;
  fake_init(&f, "ls", NULL);
  assert_int_equal(cu_cmd_before_hook(&f.cmd, before_fn, &x, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_int_equal(cu__ctx_before(ctx, &f.cmd), CU_EVETO);
  assert_non_null(strstr(cu_last_error(), "command before hook #1"));
  cu__ctx_release(ctx);
  fake_done(&f);
}

static void test_detach_idempotent_out_of_order(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'};
  cu_hook *ha = NULL, *hb = NULL, *hc = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &a, &ha), 0);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &b, &hb), 0);
  assert_int_equal(cu_before_hook(before_fn, &c, &hc), 0);
  assert_true(cu_hook_attached(hb));
  cu_hook_detach(hb);
  cu_hook_detach(hb);
  cu_hook_detach(ha); /* an outer hook, detached from inside */
  assert_false(cu_hook_attached(ha));
  assert_false(cu_hook_attached(hb));
  assert_true(cu_hook_attached(hc));
  run_before("ls", &t, 0);
  assert_string_equal(t.seq, "c");
  cu_scope_pop();
  assert_false(cu_hook_attached(hc)); /* popping removes */
  cu_hook_detach(hc);                 /* still fine after the pop */
  cu_scope_pop();
  cu_hook_detach(NULL);
  cu_hook_unref(ha);
  cu_hook_unref(hb);
  cu_hook_unref(hc);
}

static void test_snapshot_fixed_at_capture(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'};
  cu_hook *ha = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(observe_fn, &a, 0, &ha), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  /* registered after the capture: not part of that run */
  assert_int_equal(cu_observe(observe_fn, &b, 0, NULL), 0);
  emit_on(ctx, CU_EV_START);
  assert_string_equal(t.seq, "a");
  /* popping the scope: the run keeps its context */
  cu_scope_pop();
  emit_on(ctx, CU_EV_EXIT);
  assert_string_equal(t.seq, "aa");
  /* an explicit detach stops even runs under way */
  cu_hook_detach(ha);
  emit_on(ctx, CU_EV_EXIT);
  assert_string_equal(t.seq, "aa");
  cu__ctx_release(ctx);
  cu_hook_unref(ha);
  /* later captures see neither */
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_false(cu__ctx_has_observers(ctx));
  cu__ctx_release(ctx);
}

static void test_caller_free_keeps_hook_until_pop(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'};
  cu_hook *ha = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &a, &ha), 0);
  assert_null(cu_hook_unref(ha)); /* caller done; the scope still holds it */
  run_before("ls", &t, 0);
  assert_string_equal(t.seq, "a");
  cu_scope_pop(); /* freed here (ASan/valgrind check) */
  run_before("ls", &t, 0);
  assert_string_equal(t.seq, "");
}

static int failing_observer(void *data, const cu_event *ev) {
  (void)data;
  (void)ev;
  return -1;
}

static void test_observer_failure_counted(void **state) {
  (void)state;
  trace t = {0};
  tagged b = {&t, 'b'};
  cu_hook *bad = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(failing_observer, NULL, 0, &bad), 0);
  assert_int_equal(cu_observe(observe_fn, &b, 0, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  for (int i = 0; i < 3; i++)
    emit_on(ctx, CU_EV_START);
  assert_int_equal(cu_hook_failures(bad), 3);
  assert_string_equal(t.seq, "bbb"); /* later observers still called */
  cu__ctx_release(ctx);
  cu_hook_unref(bad);
  cu_scope_pop();
}

static void test_line_events_only_when_asked(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, l = {&t, 'l'};
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_false(cu__ctx_has_observers(ctx));
  assert_false(cu__ctx_wants_lines(ctx));
  cu__ctx_release(ctx);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(observe_fn, &a, 0, NULL), 0);
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_true(cu__ctx_has_observers(ctx));
  assert_false(cu__ctx_wants_lines(ctx));
  cu__ctx_release(ctx);
  assert_int_equal(cu_observe(observe_fn, &l, CU_OBSERVE_LINES, NULL), 0);
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_true(cu__ctx_wants_lines(ctx));
  emit_on(ctx, CU_EV_STDOUT_LINE);
  emit_on(ctx, CU_EV_STDERR_LINE);
  emit_on(ctx, CU_EV_EXIT);
  assert_string_equal(t.seq, "llal");
  cu__ctx_release(ctx);
  assert_int_equal(cu_observe(observe_fn, &l, 0x80, NULL), CU_EINVAL);
  cu_scope_pop();
}

static void test_capture_reuses_unchanged_snapshot(void **state) {
  (void)state;
  assert_int_equal(cu_scope_push(NULL), 0);
  cu__ctx *a = NULL, *b = NULL, *c = NULL;
  assert_int_equal(cu__ctx_capture(&a), 0);
  assert_int_equal(cu__ctx_capture(&b), 0);
  assert_ptr_equal(a, b); /* cheap: nothing changed */
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_scope_pop();
  assert_int_equal(cu__ctx_capture(&c), 0);
  assert_ptr_not_equal(a, c);
  cu__ctx_release(a);
  cu__ctx_release(b);
  cu__ctx_release(c);
  cu_scope_pop();
}

/* ------------------------------------------------------------- defaults */

static void test_defaults_inherit_and_accumulate(void **state) {
  (void)state;
  cu_env_var env1[] = {{"A", "1"}, {"B", NULL}};
  cu_tag tags1[] = {{"team", "ops"}};
  cu_env_var env2[] = {{"A", "2"}};
  cu_tag tags2[] = {{"job", "backup"}};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .timeout_ms = 1000,
                                       .env = env1,
                                       .n_env = 2,
                                       .tags = tags1,
                                       .n_tags = 1}),
      0);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .grace_ms = 200,
                                       .env = env2,
                                       .n_env = 1,
                                       .tags = tags2,
                                       .n_tags = 1,
                                       .echo.output = CU_SWITCH_ON}),
      0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu__ctx_defaults d;
  cu__ctx_get_defaults(ctx, &d);
  assert_int_equal(d.timeout_ms, 1000);
  assert_int_equal(d.grace_ms, 200);
  assert_true(d.echo_output);
  assert_false(d.echo_command);
  assert_int_equal(d.n_env, 3);
  assert_string_equal(d.env[0].name, "A");
  assert_string_equal(d.env[0].value, "1");
  assert_null(d.env[1].value);
  assert_string_equal(d.env[2].value, "2"); /* inner applied last */
  assert_int_equal(d.n_tags, 2);
  assert_string_equal(d.tags[0].key, "team");
  assert_string_equal(d.tags[1].value, "backup");
  cu_scope_pop();
  cu_scope_pop();
  /* the snapshot owns copies: still valid after the pops */
  assert_string_equal(d.tags[1].value, "backup");
  cu__ctx_release(ctx);
}

static void collect_line(void *data, const char *line) {
  char *buf = data;
  strncat(buf, line, 255 - strlen(buf));
  strncat(buf, "\n", 255 - strlen(buf));
}

static void test_echo_command_policy(void **state) {
  (void)state;
  char buf[256] = "";
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .echo.cmd = CU_SWITCH_ON,
                                       .echo_sink = collect_line,
                                       .echo_sink_data = buf}),
      0);
  fake f;
  fake_init(&f, "ls", "-l");
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu__ctx_defaults d;
  cu__ctx_get_defaults(ctx, &d);
  assert_true(d.echo_command);
  assert_int_equal(cu__ctx_before(ctx, &f.cmd), 0);
  assert_string_equal(buf, "+ ls -l\n");
  cu__ctx_release(ctx);
  cu_scope_pop();
  /* off by default */
  buf[0] = '\0';
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .echo_sink = collect_line,
                                       .echo_sink_data = buf}),
      0);
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  assert_int_equal(cu__ctx_before(ctx, &f.cmd), 0);
  assert_string_equal(buf, "");
  cu__ctx_release(ctx);
  cu_scope_pop();
}

/* ------------------------------------------------------------- macro */

static int scoped_return(void) {
  int rc;
  CU_SCOPE(rc, &(cu_scope_config){.size = sizeof(cu_scope_config),
                                  .allow.mode = CU_ALLOW_NONE}) {
    assert_int_equal(cu_scope_depth(), 1);
    assert_int_equal(check_name("ls"), CU_EFORBIDDEN);
    return 42; /* early return: the scope must still be popped */
  }
  return rc;
}

static void test_scope_macro_pops_on_every_exit(void **state) {
  (void)state;
  assert_int_equal(scoped_return(), 42);
  assert_int_equal(cu_scope_depth(), 0);
  int rc = -1, ran = 0;
  CU_SCOPE(rc, NULL) {
    ran++;
    assert_int_equal(cu_scope_push(NULL), 0); /* left open on purpose */
    break;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(ran, 1);
  assert_int_equal(cu_scope_depth(), 0);
  /* a failing push skips the body */
  CU_SCOPE(rc, &(cu_scope_config){.size = sizeof(cu_scope_config),
                                  .timeout_ms = -5}) {
    ran++;
  }
  assert_int_equal(rc, CU_EINVAL);
  assert_int_equal(ran, 1);
  assert_int_equal(cu_scope_depth(), 0);
}

/* ------------------------------------------------------------- threads */

static void *restricted_thread(void *arg) {
  (void)arg;
  push_allow((const char *[]){"ls"}, 1);
  for (int i = 0; i < 200; i++) {
    assert_int_equal(cu_scope_push(NULL), 0);
    if (check_name("cat") != CU_EFORBIDDEN || check_name("ls") != 0)
      return (void *)1;
    cu_scope_pop();
  }
  cu_scope_pop();
  return NULL;
}

static void *open_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    assert_int_equal(cu_scope_push(NULL), 0);
    if (check_name("cat") != 0 || cu_scope_depth() != 1)
      return (void *)1;
    cu_scope_pop();
  }
  return NULL;
}

static void test_scopes_are_thread_local(void **state) {
  (void)state;
  /* The main thread is restricted; new threads start at their own root. */
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow.mode = CU_ALLOW_NONE}),
      0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL,
                                    i % 2 ? open_thread : restricted_thread,
                                    NULL),
                     0);
  for (int i = 0; i < 4; i++) {
    void *res = (void *)2;
    pthread_join(th[i], &res);
    assert_null(res);
  }
  assert_int_equal(check_name("cat"), CU_EFORBIDDEN);
  assert_int_equal(cu_scope_depth(), 1);
  cu_scope_pop();
}

struct detach_arg {
  cu_hook *hook;
};

static void *detach_thread(void *arg) {
  cu_hook_detach(((struct detach_arg *)arg)->hook);
  return NULL;
}

static void test_detach_from_another_thread(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'}, b = {&t, 'b'};
  cu_hook *ha = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_before_hook(before_fn, &a, &ha), 0);
  assert_int_equal(cu_before_hook(before_fn, &b, NULL), 0);
  struct detach_arg arg = {ha};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, detach_thread, &arg), 0);
  pthread_join(th, NULL);
  assert_false(cu_hook_attached(ha));
  run_before("ls", &t, 0);
  assert_string_equal(t.seq, "b");
  cu_hook_unref(ha);
  cu_scope_pop();
}

static void *hook_in_thread(void *arg) {
  tagged *tg = arg;
  /* registered at this thread's root, never popped: freed at thread exit */
  cu_hook *h = NULL;
  if (cu_before_hook(before_fn, tg, &h) != 0)
    return (void *)1;
  cu_hook_unref(h);
  return NULL;
}

static void test_thread_exit_releases_its_stack(void **state) {
  (void)state;
  trace t = {0};
  tagged a = {&t, 'a'};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, hook_in_thread, &a), 0);
  void *res = (void *)2;
  pthread_join(th, &res);
  assert_null(res);
  run_before("ls", &t, 0);
  assert_string_equal(t.seq, ""); /* not visible here */
}

/* The allowlist is one setting: a mode and a list. A list with a mode that
 * does not read it is a mistake, refused; NONE and an empty ONLY deny. */
static void test_allowlist_is_one_setting(void **state) {
  (void)state;
  static const cu_program ls[] = {CU_LS};
  cu_scope_config cfg = CU_SCOPE_CONFIG_INIT;
  cfg.allow = (cu_allowlist){CU_ALLOW_INHERIT, ls, 1};
  assert_int_equal(cu_scope_push(&cfg), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "allow.mode"));
  cfg.allow = (cu_allowlist){CU_ALLOW_NONE, ls, 1};
  assert_int_equal(cu_scope_push(&cfg), CU_EINVAL);
  cfg.allow = (cu_allowlist){(cu_allow_mode)7, NULL, 0};
  assert_int_equal(cu_scope_push(&cfg), CU_EINVAL);
  cfg.allow = (cu_allowlist){CU_ALLOW_ONLY, NULL, 1};
  assert_int_equal(cu_scope_push(&cfg), CU_EINVAL);
  assert_int_equal(cu_scope_depth(), 0);
  cfg.allow = (cu_allowlist){CU_ALLOW_ONLY, ls, 1};
  assert_int_equal(cu_scope_push(&cfg), 0);
  assert_true(cu_scope_permits(CU_LS));
  assert_false(cu_scope_permits(CU_CAT));
  cfg.allow = (cu_allowlist){CU_ALLOW_NONE, NULL, 0};
  assert_int_equal(cu_scope_push(&cfg), 0);
  assert_false(cu_scope_permits(CU_LS));
  cu_scope_pop();
  cfg.allow = (cu_allowlist){CU_ALLOW_ONLY, NULL, 0};
  assert_int_equal(cu_scope_push(&cfg), 0);
  assert_false(cu_scope_permits(CU_LS));
  cu_scope_pop();
  cu_scope_pop();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_allowlist_is_one_setting),
    cmocka_unit_test(test_root_permits_everything),
    cmocka_unit_test(test_narrowing_intersects_parent),
    cmocka_unit_test(test_unrestricted_scope_inherits_allowlist),
    cmocka_unit_test(test_empty_scope_denies_nested),
    cmocka_unit_test(test_allow_refused_by_default_policy),
    cmocka_unit_test_teardown(test_allow_widens_when_permitted, reset_root),
    cmocka_unit_test_teardown(test_allow_at_root_keeps_everything, reset_root),
    cmocka_unit_test_teardown(test_allow_reopens_empty_scope_explicitly,
                              reset_root),
    cmocka_unit_test(test_pop_without_push_fails),
    cmocka_unit_test(test_bad_config_rejected),
    cmocka_unit_test(test_before_hooks_fifo_outer_first),
    cmocka_unit_test(test_after_hooks_lifo_inner_first),
    cmocka_unit_test(test_observers_fifo_outer_first),
    cmocka_unit_test(test_before_hook_veto),
    cmocka_unit_test(test_command_hook_veto),
    cmocka_unit_test(test_detach_idempotent_out_of_order),
    cmocka_unit_test(test_snapshot_fixed_at_capture),
    cmocka_unit_test(test_caller_free_keeps_hook_until_pop),
    cmocka_unit_test(test_observer_failure_counted),
    cmocka_unit_test(test_line_events_only_when_asked),
    cmocka_unit_test(test_capture_reuses_unchanged_snapshot),
    cmocka_unit_test(test_defaults_inherit_and_accumulate),
    cmocka_unit_test(test_echo_command_policy),
    cmocka_unit_test(test_scope_macro_pops_on_every_exit),
    cmocka_unit_test(test_scopes_are_thread_local),
    cmocka_unit_test(test_detach_from_another_thread),
    cmocka_unit_test(test_thread_exit_releases_its_stack),
};

CU_TEST_MAIN(tests)
