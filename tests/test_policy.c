/* SPDX-License-Identifier: MIT */
/*
 * Policy toggles: defaults, parsing of CUPRUM_POLICY, how the operator's
 * value and the program's combine, nested scopes only tightening, and the
 * effect of each switch.
 * ctest-labels: threads
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context/ctx.h"
#include "base/internal.h"
#include "catalogue/cmd_int.h"

/*
 * CUPRUM_POLICY is read once per process, so a test that needs it set runs
 * its body in a fresh copy of this executable with the variable set: in the
 * parent WITH_OPERATOR() re-executes and asserts the child passed, in the
 * child (the variable already has the value) it falls through.
 */
static bool in_operator_child(const char *test, const char *var,
                              const char *policy) {
  const char *cur = getenv(var);
  if (cur && strcmp(cur, policy) == 0)
    return true;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setenv(var, policy, 1);
    /* by path, not /proc/self/exe, which is valgrind under valgrind */
    execl(CU_TEST_BINARY_DIR "/tests/test_policy", "test_policy", test,
          (char *)NULL);
    _exit(127);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  return false;
}

#define WITH_ENV(var, value)                                                   \
  do {                                                                         \
    if (!in_operator_child(__func__, (var), (value)))                          \
      return;                                                                  \
  } while (0)
#define WITH_OPERATOR(policy) WITH_ENV(CU_POLICY_ENV, policy)

static int check_fake(const char *name, bool unsafe) {
  char *argv[] = {(char *)name, NULL};
  struct cu_cmd cmd = {.program = CU_PROGRAM(name), .path = (char *)"/bin/x",
                       .argv = argv, .argc = 1, .unsafe = unsafe};
  cu__ctx *ctx = NULL;
  int rc = cu__ctx_capture(&ctx);
  if (rc != 0)
    return rc;
  rc = cu__ctx_check(ctx, &cmd);
  cu__ctx_release(ctx);
  return rc;
}

static cu_policy current(void) {
  cu_policy p;
  assert_int_equal(cu_policy_get(&p), 0);
  return p;
}

static void drop_warning(void *data, const char *line) {
  (void)line;
  (*(int *)data)++;
}

static int reset_root(void **state) {
  (void)state;
  while (cu_scope_depth() > 0)
    cu_scope_pop();
  int rc = cu_policy_set(&(cu_policy){.narrow = CU_SWITCH_ON,
                                      .widen = CU_SWITCH_OFF,
                                      .unsafe = CU_UNSAFE_WARN});
  return rc ? rc
            : cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_OFF,
                                     .output = CU_SWITCH_OFF});
}

/* ------------------------------------------------------------- defaults */

static void test_defaults_are_safe(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  cu_policy p = current();
  assert_int_equal(p.narrow, CU_SWITCH_ON);
  assert_int_equal(p.widen, CU_SWITCH_OFF);
  assert_int_equal(p.unsafe, CU_UNSAFE_WARN);
  cu_echo e;
  assert_int_equal(cu_echo_get(&e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_OFF);
  assert_int_equal(e.output, CU_SWITCH_OFF);
  cu_policy op = {.widen = 5};
  assert_int_equal(cu_policy_operator(&op), 0);
  assert_int_equal(op.widen, CU_SWITCH_INHERIT);
}

/* ------------------------------------------------------------- parsing */

static void test_parse_valid(void **state) {
  (void)state;
  cu_policy p;
  assert_int_equal(cu_policy_parse(" unsafe=deny , widen=allow,"
                                   "narrow=deny ",
                                   &p),
                   0);
  assert_int_equal(p.unsafe, CU_UNSAFE_DENY);
  assert_int_equal(p.widen, CU_SWITCH_ON);
  assert_int_equal(p.narrow, CU_SWITCH_OFF);
  assert_int_equal(cu_policy_parse("widen=yes", &p), 0);
  assert_int_equal(p.widen, CU_SWITCH_ON);
  assert_int_equal(p.unsafe, CU_UNSAFE_INHERIT);
  cu_echo e;
  assert_int_equal(cu_echo_parse(" cmd=on , output=0", &e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_ON);
  assert_int_equal(e.output, CU_SWITCH_OFF);
  assert_int_equal(cu_echo_parse("cmd=maybe", &e), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "cmd=on|off"));
  assert_int_equal(cu_echo_parse("unsafe=deny", &e), CU_EINVAL);
  assert_int_equal(cu_policy_parse("", &p), 0);
  assert_int_equal(p.widen, CU_SWITCH_INHERIT);
  assert_int_equal(cu_policy_parse(NULL, &p), 0);
  assert_int_equal(cu_policy_parse("unsafe=warn,,", &p), 0);
  assert_int_equal(p.unsafe, CU_UNSAFE_WARN);
}

static void test_parse_invalid_lists_valid_keys(void **state) {
  (void)state;
  cu_policy p = {.widen = CU_SWITCH_ON};
  assert_int_equal(cu_policy_parse("wide=allow", &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "unknown key 'wide'"));
  assert_non_null(strstr(cu_last_error(), "unsafe=allow|warn|deny"));
  assert_null(strstr(cu_last_error(), "echo"));
  /* The echo switches are not security switches any more: say where. */
  assert_int_equal(cu_policy_parse("echo_cmd=on", &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CUPRUM_ECHO (cmd=on)"));
  assert_int_equal(p.widen, CU_SWITCH_ON); /* untouched on error */
  assert_int_equal(cu_policy_parse("unsafe=maybe", &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "invalid value 'maybe'"));
  assert_int_equal(cu_policy_parse("unsafe=on", &p), CU_EINVAL);
  assert_int_equal(cu_policy_parse("widen", &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "not key=value"));
  assert_int_equal(cu_policy_parse("widen=allow,widen=deny", &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "twice"));
  assert_int_equal(cu_policy_parse("x", NULL), CU_EINVAL);
}

static void test_set_rejects_out_of_range(void **state) {
  (void)state;
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = 3}), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "widen"));
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = 4}), CU_EINVAL);
  assert_int_equal(cu_policy_set(NULL), CU_EINVAL);
  assert_int_equal(cu_policy_get(NULL), CU_EINVAL);
}

/* ------------------------------------------------------------- program */

static void test_root_sets_anything_then_nested_only_tightens(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  /* the root may loosen again what the root set */
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  assert_int_equal(current().unsafe, CU_UNSAFE_ALLOW);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .policy.unsafe = CU_UNSAFE_WARN}),
      0);
  assert_int_equal(current().unsafe, CU_UNSAFE_WARN);
  /* nested: looser than the parent is refused, all or nothing */
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_OFF,
                                              .unsafe = CU_UNSAFE_ALLOW}),
                   CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "nested scope"));
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .policy.unsafe = CU_UNSAFE_ALLOW}),
      CU_EPOLICY);
  assert_int_equal(cu_scope_depth(), 2);
  cu_scope_pop();
  /* tightening is fine; echo switches are free either way */
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  assert_int_equal(cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_ON}), 0);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(current().unsafe, CU_UNSAFE_DENY); /* inherited */
  cu_echo e;
  assert_int_equal(cu_echo_get(&e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_ON); /* inherited */
  assert_int_equal(cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_OFF}), 0);
  assert_int_equal(cu_echo_get(&e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_OFF);
  cu_scope_pop();
  assert_int_equal(cu_echo_get(&e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_ON);
  cu_scope_pop();
  assert_int_equal(current().unsafe, CU_UNSAFE_ALLOW); /* restored */
}

static void test_widen_cannot_be_loosened_inside(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  /* a library scope cannot grant itself widening */
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .policy.widen = CU_SWITCH_ON}),
      CU_EPOLICY);
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}), 0);
  cu_program ls[] = {CU_LS};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, ls, 1},
                                       .policy.widen = CU_SWITCH_OFF}),
      0);
  assert_int_equal(cu_allow(CU_CAT), CU_EPOLICY);
  cu_scope_pop();
}

static void test_narrowing_can_be_forbidden(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.narrow = CU_SWITCH_OFF}), 0);
  cu_program ls[] = {CU_LS};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, ls, 1}}),
      CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "narrow=deny"));
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow.mode = CU_ALLOW_NONE}),
      CU_EPOLICY);
  assert_int_equal(cu_scope_depth(), 0);
  /* unrestricted scopes are fine; a scope may re-permit narrowing for
   * itself, since that is the stricter setting */
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, ls, 1},
                                       .policy.narrow = CU_SWITCH_ON}),
      0);
  assert_int_equal(check_fake("cat", false), CU_EFORBIDDEN);
  cu_scope_pop();
  cu_scope_pop();
}

static void test_unsafe_modes(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  int warnings = 0;
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .warn_sink = drop_warning,
                                       .warn_sink_data = &warnings}),
      0);
  assert_int_equal(check_fake("tool", true), 0); /* warn by default */
  assert_int_equal(warnings, 1);
  assert_int_equal(check_fake("ls", false), 0); /* catalogued: no warning */
  assert_int_equal(warnings, 1);
  cu_scope_pop();
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .warn_sink = drop_warning,
                                       .warn_sink_data = &warnings}),
      0);
  assert_int_equal(check_fake("tool", true), 0);
  assert_int_equal(warnings, 1);
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  assert_int_equal(check_fake("tool", true), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "'tool'"));
  assert_non_null(strstr(cu_last_error(), "unsafe=deny"));
  assert_int_equal(check_fake("ls", false), 0);
  cu_scope_pop();
}

static void *thread_policy(void *arg) {
  (void)arg;
  cu_policy p;
  if (cu_policy_get(&p) != 0 || p.widen != CU_SWITCH_OFF)
    return (void *)1;
  return NULL;
}

static void test_policy_is_per_thread(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, thread_policy, NULL), 0);
  void *res = (void *)2;
  pthread_join(th, &res);
  assert_null(res);
  assert_int_equal(current().widen, CU_SWITCH_ON);
}

/* ------------------------------------------------------------- operator */

static void test_operator_deny_cannot_be_undone(void **state) {
  (void)state;
  WITH_OPERATOR("unsafe=deny");
  assert_int_equal(current().unsafe, CU_UNSAFE_DENY);
  assert_int_equal(check_fake("tool", true), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "CUPRUM_POLICY"));
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}),
                   CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "operator"));
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  cu_policy op;
  assert_int_equal(cu_policy_operator(&op), 0);
  assert_int_equal(op.unsafe, CU_UNSAFE_DENY);
  assert_int_equal(op.widen, CU_SWITCH_INHERIT);
}

static void test_operator_allow_is_default_program_tightens(void **state) {
  (void)state;
  WITH_OPERATOR("widen=allow,unsafe=allow");
  assert_int_equal(current().widen, CU_SWITCH_ON);
  cu_program ls[] = {CU_LS};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, ls, 1}}),
      0);
  assert_int_equal(cu_allow(CU_CAT), 0);
  assert_int_equal(check_fake("cat", false), 0);
  cu_scope_pop();
  /* the program may still tighten */
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_OFF,
                                              .unsafe = CU_UNSAFE_DENY}),
                   0);
  assert_int_equal(cu_allow(CU_CAT), CU_EPOLICY);
  assert_int_equal(check_fake("tool", true), CU_EPOLICY);
}

static void test_operator_echo_wins_outright(void **state) {
  (void)state;
  WITH_ENV(CU_ECHO_ENV, "cmd=on,output=off");
  assert_int_equal(cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_OFF,
                                          .output = CU_SWITCH_ON}),
                   0);
  cu_echo p;
  assert_int_equal(cu_echo_get(&p), 0);
  assert_int_equal(p.cmd, CU_SWITCH_ON);
  assert_int_equal(p.output, CU_SWITCH_OFF);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu__ctx_defaults d;
  cu__ctx_get_defaults(ctx, &d);
  assert_true(d.echo_command);
  assert_false(d.echo_output);
  cu__ctx_release(ctx);
}

static void test_operator_invalid_fails_closed(void **state) {
  (void)state;
  WITH_OPERATOR("unsafe=sometimes");
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "CUPRUM_POLICY"));
  assert_non_null(strstr(cu_last_error(), "valid keys"));
  cu_policy p;
  assert_int_equal(cu_policy_get(&p), CU_EPOLICY);
  assert_int_equal(cu_policy_operator(&p), CU_EPOLICY);
  assert_int_equal(cu_scope_push(NULL), CU_EPOLICY);
  assert_int_equal(cu_scope_depth(), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults_are_safe),
    cmocka_unit_test(test_parse_valid),
    cmocka_unit_test(test_parse_invalid_lists_valid_keys),
    cmocka_unit_test(test_set_rejects_out_of_range),
    cmocka_unit_test_teardown(test_root_sets_anything_then_nested_only_tightens,
                              reset_root),
    cmocka_unit_test_teardown(test_widen_cannot_be_loosened_inside, reset_root),
    cmocka_unit_test_teardown(test_narrowing_can_be_forbidden, reset_root),
    cmocka_unit_test_teardown(test_unsafe_modes, reset_root),
    cmocka_unit_test_teardown(test_policy_is_per_thread, reset_root),
    cmocka_unit_test(test_operator_deny_cannot_be_undone),
    cmocka_unit_test(test_operator_allow_is_default_program_tightens),
    cmocka_unit_test(test_operator_echo_wins_outright),
    cmocka_unit_test(test_operator_invalid_fails_closed),
};

CU_TEST_MAIN(tests)
