/* SPDX-License-Identifier: MIT */
/*
 * The process-wide policy floor: what main() sets applies on every thread
 * (started before or after), only tightens, and sits on top of the
 * per-thread scopes. Each test runs in its own process (ctest), since the
 * floor cannot be loosened within one.
 * ctest-labels: threads
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cu_cmd *unsafe_true(void) {
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new(cut_helper("exitcode"), &cmd), 0);
  assert_int_equal(cu_cmd_arg(cmd, "0"), 0);
  return cmd;
}

static void quiet(void *data, const char *line) {
  (void)data;
  (void)line;
}

/* Run an unsafe command from the calling thread: 0 or the error. */
static int run_unsafe(void) {
  cu_cmd *cmd = unsafe_true();
  cu_result *r = NULL;
  int rc = cu_run(cmd, NULL, &r);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  return rc;
}

static void *worker_run(void *arg) {
  (void)arg;
  int rc = run_unsafe();
  return (void *)(intptr_t)rc;
}

static int run_on_new_thread(void) {
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, worker_run, NULL), 0);
  void *res = NULL;
  pthread_join(th, &res);
  return (int)(intptr_t)res;
}

/* The example: main() sets unsafe = deny, a worker runs an unsafe
 * command. With the per-thread policy it ran (with a warning). */
static void test_floor_applies_on_threads_main_starts(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  /* The per-thread setting does not reach the worker (its own root warns:
   * the run goes ahead). */
  assert_int_equal(cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config), .warn_sink = quiet}), 0);
  assert_int_equal(run_on_new_thread(), 0);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_DENY}),
                   0);
  assert_int_equal(run_on_new_thread(), CU_EPOLICY);
  /* ...and on this thread too, although its own scope said allow. */
  assert_int_equal(run_unsafe(), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "process-wide floor"));
  cu_policy p;
  assert_int_equal(cu_policy_get(&p), 0);
  assert_int_equal(p.unsafe, CU_UNSAFE_DENY);
  cu_scope_pop();
  cut_assert_no_children();
}

/* A thread that started before the floor and cached a snapshot of its
 * scope sees the floor on its next run. */
typedef struct early {
  atomic_int phase; /* 0 start, 1 first run done, 2 floor set, 3 done */
  int first_rc, second_rc;
} early;

static void *early_worker(void *arg) {
  early *e = arg;
  /* A failed set is reported through first_rc, which the test checks. */
  int set_rc = cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW});
  e->first_rc = set_rc != 0 ? set_rc : run_unsafe();
  atomic_store(&e->phase, 1);
  while (atomic_load(&e->phase) != 2)
    usleep(1000);
  e->second_rc = run_unsafe();
  atomic_store(&e->phase, 3);
  return NULL;
}

static void test_floor_reaches_threads_started_before(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  early e = {0};
  atomic_init(&e.phase, 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, early_worker, &e), 0);
  while (atomic_load(&e.phase) != 1)
    usleep(1000);
  assert_int_equal(e.first_rc, 0);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_DENY}),
                   0);
  atomic_store(&e.phase, 2);
  pthread_join(th, NULL);
  assert_int_equal(e.second_rc, CU_EPOLICY);
  cut_assert_no_children();
}

static void test_floor_only_tightens(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  cu_policy f;
  assert_int_equal(cu_policy_floor(&f), 0);
  assert_int_equal(f.unsafe, CU_UNSAFE_INHERIT); /* nothing set yet */
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_WARN,
                                    .widen = CU_SWITCH_OFF}),
                   0);
  /* Looser: refused, all or nothing (widen stays as it was). */
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.narrow = CU_SWITCH_ON,
                                    .unsafe = CU_UNSAFE_ALLOW}),
                   CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "unsafe=allow"));
  assert_non_null(strstr(cu_last_error(), "only tightens"));
  assert_int_equal(cu_policy_floor(&f), 0);
  assert_int_equal(f.narrow, CU_SWITCH_INHERIT);
  assert_int_equal(f.unsafe, CU_UNSAFE_WARN);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.widen = CU_SWITCH_ON}),
                   CU_EPOLICY);
  /* The same value again, or stricter: fine. */
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.widen = CU_SWITCH_OFF,
                                    .unsafe = CU_UNSAFE_DENY,
                                    .narrow = CU_SWITCH_ON}),
                   0);
  assert_int_equal(cu_policy_floor(&f), 0);
  assert_int_equal(f.widen, CU_SWITCH_OFF);
  assert_int_equal(f.unsafe, CU_UNSAFE_DENY);
  assert_int_equal(f.narrow, CU_SWITCH_ON);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.narrow = CU_SWITCH_OFF}),
                   CU_EPOLICY);
  /* Bad arguments. */
  assert_int_equal(cu_policy_floor_tighten(NULL), CU_EINVAL);
  assert_int_equal(cu_policy_floor_tighten(&(cu_policy){.unsafe = 9}),
                   CU_EINVAL);
  assert_int_equal(cu_policy_floor(NULL), CU_EINVAL);
}

/* Scopes and the root cannot go below the floor; cu_allow obeys it. */
static void test_floor_under_scopes(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}), 0);
  static const cu_program only_ls[] = {CU_LS};
  assert_int_equal(cu_scope_push(&(cu_scope_config){
                       .size = sizeof(cu_scope_config),
                       .allow = {CU_ALLOW_ONLY, only_ls, 1}}),
                   0);
  assert_int_equal(cu_allow(CU_CAT), 0); /* the thread permits widening */
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.widen = CU_SWITCH_OFF}),
                   0);
  assert_int_equal(cu_allow(CU_ECHO), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "process-wide floor"));
  cu_scope_pop();
  /* Setting anything looser than the floor is refused... */
  assert_int_equal(cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}),
                   CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "floor"));
  assert_int_equal(cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config), 
                       .policy.widen = CU_SWITCH_ON}),
                   CU_EPOLICY);
  assert_int_equal(cu_scope_depth(), 0);
  /* ...while other switches still change (the older widen=allow of the
   * root is not re-checked, it just has no effect any more). */
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  cu_policy p;
  assert_int_equal(cu_policy_get(&p), 0);
  assert_int_equal(p.widen, CU_SWITCH_OFF);
  /* Narrowing: a floor of narrow=allow keeps restricting scopes legal. */
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.narrow = CU_SWITCH_ON}),
                   0);
  assert_int_equal(cu_policy_set(&(cu_policy){.narrow = CU_SWITCH_OFF}),
                   CU_EPOLICY);
}

/* Echo is not security: the floor has nothing to say about it. */
static void test_floor_leaves_echo_alone(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV) || getenv(CU_ECHO_ENV))
    skip();
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_DENY,
                                    .widen = CU_SWITCH_OFF,
                                    .narrow = CU_SWITCH_ON}),
                   0);
  assert_int_equal(cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config), 
                       .echo.cmd = CU_SWITCH_ON}),
                   0);
  assert_int_equal(cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_OFF,
                                          .output = CU_SWITCH_ON}),
                   0);
  cu_echo e;
  assert_int_equal(cu_echo_get(&e), 0);
  assert_int_equal(e.cmd, CU_SWITCH_OFF);
  assert_int_equal(e.output, CU_SWITCH_ON);
  cu_scope_pop();
}

/* Threads run while another tightens: once cu_policy_floor_tighten()
 * returns, every run submitted afterwards on any thread is refused. TSan
 * checks the floor's state is shared safely. */
typedef struct racer {
  atomic_bool *tightened;
  int after_rc; /* first run started after `tightened` was seen */
  int runs;
} racer;

static void *race_runs(void *arg) {
  racer *r = arg;
  int push_rc = cu_scope_push(
      &(cu_scope_config){.size = sizeof(cu_scope_config), .warn_sink = quiet});
  if (push_rc != 0) {
    r->after_rc = push_rc; /* the test expects CU_EPOLICY: this fails it */
    return NULL;
  }
  for (;;) {
    bool seen = atomic_load(r->tightened);
    int rc = run_unsafe();
    r->runs++;
    if (seen) {
      r->after_rc = rc;
      break;
    }
    if (rc != 0 && rc != CU_EPOLICY) {
      r->after_rc = rc;
      break;
    }
  }
  cu_scope_pop();
  return NULL;
}

static void test_floor_tightened_while_threads_run(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  enum { N = 4 };
  atomic_bool tightened;
  atomic_init(&tightened, false);
  racer r[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    r[i] = (racer){.tightened = &tightened};
    assert_int_equal(pthread_create(&th[i], NULL, race_runs, &r[i]), 0);
  }
  usleep(50 * 1000);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_DENY}),
                   0);
  atomic_store(&tightened, true);
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(r[i].after_rc, CU_EPOLICY);
    assert_true(r[i].runs >= 1);
  }
  cut_assert_no_children();
}

/* The operator's CUPRUM_POLICY is part of the floor. */
static void test_operator_is_part_of_the_floor(void **state) {
  (void)state;
  const char *cur = getenv(CU_POLICY_ENV);
  if (!cur || strcmp(cur, "unsafe=deny") != 0) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      setenv(CU_POLICY_ENV, "unsafe=deny", 1);
      execl(CU_TEST_BINARY_DIR "/tests/test_policy_floor", "test_policy_floor",
            __func__, (char *)NULL);
      _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return;
  }
  cu_policy f;
  assert_int_equal(cu_policy_floor(&f), 0);
  assert_int_equal(f.unsafe, CU_UNSAFE_DENY);
  assert_int_equal(cu_policy_floor_tighten(
                       &(cu_policy){.unsafe = CU_UNSAFE_WARN}),
                   CU_EPOLICY);
  assert_int_equal(run_on_new_thread(), CU_EPOLICY);
  assert_int_equal(run_unsafe(), CU_EPOLICY);
  assert_non_null(strstr(cu_last_error(), "CUPRUM_POLICY"));
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_floor_applies_on_threads_main_starts),
      cmocka_unit_test(test_floor_reaches_threads_started_before),
      cmocka_unit_test(test_floor_only_tightens),
      cmocka_unit_test(test_floor_under_scopes),
      cmocka_unit_test(test_floor_leaves_echo_alone),
      cmocka_unit_test(test_floor_tightened_while_threads_run),
      cmocka_unit_test(test_operator_is_part_of_the_floor),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof tests[0], __FILE__);
}
