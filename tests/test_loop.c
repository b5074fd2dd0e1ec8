/* SPDX-License-Identifier: MIT */
/* The event loop: many tasks at once, embedding, sync/async parity. */
#include "harness.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Run the same command both ways and compare everything comparable. */
static void assert_parity(cu_cmd *cmd, const cu_run_opts *opts) {
  static const cu_result none; /* a spawn that failed has no task result */
  cu_result *sync_r = NULL;
  const cu_result *async_r = NULL;
  int sync_rc = cu_run(cmd, opts, &sync_r);
  char sync_msg[512];
  snprintf(sync_msg, sizeof sync_msg, "%s", cu_last_error());

  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *task = NULL;
  int async_rc = cu_loop_spawn(loop, cmd, opts, &task);
  if (async_rc == 0)
    async_rc = cu_task_wait(task, &async_r);
  else
    async_r = &none;
  assert_int_equal(sync_rc, async_rc);
  if (sync_rc != 0)
    assert_string_equal(sync_msg, cu_last_error());
  assert_int_equal(sync_r->exit_code, async_r->exit_code);
  assert_int_equal(sync_r->term_signal, async_r->term_signal);
  assert_int_equal(sync_r->ok, async_r->ok);
  assert_int_equal(sync_r->timed_out, async_r->timed_out);
  assert_int_equal(sync_r->out.len, async_r->out.len);
  assert_int_equal(sync_r->err.len, async_r->err.len);
  if (sync_r->out.len)
    assert_memory_equal(sync_r->out.data, async_r->out.data, sync_r->out.len);
  if (sync_r->err.len)
    assert_memory_equal(sync_r->err.data, async_r->err.data, sync_r->err.len);
  sync_r = cu_result_free(sync_r); /* async_r is the task's */
  cu_task_free(task);
  cu_loop_free(loop);
}

static void test_sync_async_parity(void **state) {
  (void)state;
  cu_cmd *ok = cut_cmd("writer", "--out", "70000", "--err", "5000", NULL);
  assert_parity(ok, NULL);
  cu_cmd *fail = cut_cmd("exitcode", "7", NULL);
  assert_parity(fail, NULL);
  cu_cmd *sig = cut_cmd("killself", "6", NULL);
  assert_parity(sig, NULL);
  cu_cmd *slow = cut_cmd("sleeper", "30000", NULL);
  /* Late enough that both runs have its "ready" line (the same output). */
  assert_parity(slow, &(cu_run_opts){.size = sizeof(cu_run_opts), .timeout_ms = cut_after_start_ms(50)});
  /* The same error, the same message. */
  assert_parity(
      ok, &(cu_run_opts){.size = sizeof(cu_run_opts), .cwd = "/nonexistent"});
  const cu_env_var bad[] = {{"", "x"}};
  assert_parity(
      ok, &(cu_run_opts){.size = sizeof(cu_run_opts), .env = bad, .n_env = 1});
  cu_cmd_free(ok);
  cu_cmd_free(fail);
  cu_cmd_free(sig);
  cu_cmd_free(slow);
  cut_assert_no_children();
}

typedef struct counter {
  int done;
  int ok;
} counter;

static void on_done(void *data, cu_task *task, const cu_result *r) {
  (void)task;
  counter *c = data;
  c->done++;
  c->ok += r->ok;
}

static void test_many_tasks_one_loop_embedded(void **state) {
  (void)state;
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = cut_cmd("writer", "--out", "100000", "--err", "100000", NULL);
  enum { N = 20 };
  cu_task *tasks[N];
  counter c = {0};
  for (int i = 0; i < N; i++) {
    assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &tasks[i]), 0);
    cu_task_on_done(tasks[i], on_done, &c);
  }
  assert_int_equal(cu_loop_active(loop), N);
  /* Drive it from our own poll() loop through the pollable fd. */
  while (cu_loop_active(loop) > 0) {
    struct pollfd pfd = {.fd = cu_loop_fd(loop), .events = POLLIN};
    assert_true(poll(&pfd, 1, 5000) > 0);
    assert_true(cu_loop_step(loop, 0) >= 0);
  }
  assert_int_equal(c.done, N);
  assert_int_equal(c.ok, N);
  for (int i = 0; i < N; i++) {
    const cu_result *r = cu_task_result(tasks[i]);
    assert_non_null(r);
    assert_int_equal(r->out.len, 100000);
    assert_int_equal(r->err.len, 100000);
    cu_task_free(tasks[i]);
  }
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_spawn_failure_is_synchronous(void **state) {
  (void)state;
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = cut_cmd("pwddump", NULL);
  cu_task *task = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd,
                                 &(cu_run_opts){.size = sizeof(cu_run_opts),
                                                .cwd = "/no/such/dir"},
                                 &task),
                   CU_ECWD);
  assert_null(task);
  assert_int_equal(cu_loop_active(loop), 0);
  assert_int_equal(cu_loop_run(loop), 0);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  assert_null(cu_loop_free(NULL));
  assert_null(cu_task_free(NULL));
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sync_async_parity),
    cmocka_unit_test(test_many_tasks_one_loop_embedded),
    cmocka_unit_test(test_spawn_failure_is_synchronous),
};

CU_TEST_MAIN(tests)
