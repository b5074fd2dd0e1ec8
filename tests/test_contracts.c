/* SPDX-License-Identifier: MIT */
/* API contracts: cancelling from any thread, (pointer, count) pairs in
 * options, the errno a failed spawn reports, the first error of a builder
 * chain. ctest-labels: threads */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ cancel */

typedef struct canceller {
  cu_task *task;
  atomic_bool stop;
  unsigned long calls;
} canceller;

static void *cancel_loop(void *p) {
  canceller *c = p;
  while (!atomic_load(&c->stop)) {
    cu_task_cancel(c->task);
    c->calls++;
  }
  return NULL;
}

/* A second thread cancels in a tight loop while the loop thread runs the
 * task to its end and frees its job: under TSan any shared state the
 * cancel touches without synchronisation is reported. */
static void test_cancel_from_other_thread_races_nothing(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("sleeper", "20000", NULL);
  for (int round = 0; round < 20; round++) {
    cu_loop *loop = NULL;
    assert_int_equal(cu_loop_new(&loop), 0);
    canceller c = {0};
    assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &c.task), 0);
    atomic_init(&c.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_loop, &c), 0);
    const cu_result *r = NULL;
    assert_int_equal(cu_task_wait(c.task, &r), 0);
    assert_true(r->cancelled);
    assert_false(r->ok);
    /* The canceller keeps going after the job is gone, and past the
     * loop's own end: neither may be touched. */
    cu_loop_free(loop);
    usleep(1000);
    atomic_store(&c.stop, true);
    pthread_join(th, NULL);
    assert_true(c.calls > 0);
    assert_true(r->cancelled); /* the task's result outlives the loop */
    cu_task_free(c.task);
  }
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

/* Many tasks on one loop, each cancelled from its own thread. */
static void test_cancel_many_tasks_from_threads(void **state) {
  (void)state;
  enum { N = 6 };
  cu_cmd *cmd = cut_cmd("sleeper", "20000", NULL);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  canceller c[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    c[i] = (canceller){0};
    atomic_init(&c[i].stop, false);
    assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &c[i].task), 0);
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(pthread_create(&th[i], NULL, cancel_loop, &c[i]), 0);
  assert_int_equal(cu_loop_run(loop), 0);
  for (int i = 0; i < N; i++) {
    atomic_store(&c[i].stop, true);
    pthread_join(th[i], NULL);
    const cu_result *r = cu_task_result(c[i].task);
    assert_non_null(r);
    assert_true(r->cancelled);
    cu_task_free(c[i].task);
  }
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

/* A task freed while running is cancelled, and a cancel racing its end
 * from another thread still finds the task alive until the user frees it. */
static void test_cancel_after_done_is_a_no_op(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &t), 0);
  const cu_result *r = NULL;
  assert_int_equal(cu_task_wait(t, &r), 0);
  assert_true(r->ok);
  cu_task_cancel(t); /* done: nothing happens */
  cu_loop_free(loop);
  cu_task_cancel(t); /* the loop is gone: still nothing */
  assert_true(cu_task_done(t));
  assert_true(r->ok);
  cu_task_free(t);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------ options */

static void expect_einval(const cu_run_opts *o, const char *needle) {
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  int before = cut_fd_count();
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, o, &r), CU_EINVAL);
  assert_int_equal(r->error, CU_EINVAL);
  assert_int_equal(r->pid, 0);
  if (!strstr(cu_last_error(), needle))
    fail_msg("message '%s' lacks '%s'", cu_last_error(), needle);
  r = cu_result_free(r);
  /* The async form refuses it the same way, leaving nothing. */
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, o, &t), CU_EINVAL);
  assert_null(t);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  assert_int_equal(cut_fd_count(), before);
  cut_assert_no_children();
}

static void test_tags_null_array_is_einval(void **state) {
  (void)state;
  expect_einval(&(cu_run_opts){.size = sizeof(cu_run_opts), .tags = NULL, .n_tags = 3}, "tags");
}

static void test_tag_null_key_or_value_is_einval(void **state) {
  (void)state;
  const cu_tag no_key[] = {{"a", "1"}, {NULL, "2"}};
  expect_einval(&(cu_run_opts){.size = sizeof(cu_run_opts), .tags = no_key, .n_tags = 2}, "tags[1]");
  const cu_tag no_value[] = {{"a", NULL}};
  expect_einval(&(cu_run_opts){.size = sizeof(cu_run_opts), .tags = no_value, .n_tags = 1}, "tags[0]");
}

static void test_env_null_array_is_einval(void **state) {
  (void)state;
  expect_einval(&(cu_run_opts){.size = sizeof(cu_run_opts), .env = NULL, .n_env = 2}, "env");
}

static void test_pipeline_and_batch_check_tags(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("exitcode", "0", NULL);
  cu_cmd *b = cut_cmd("exitcode", "0", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  cu_run_opts no_tags = {.size = sizeof no_tags, .tags = NULL, .n_tags = 1};
  cu_pipeline_opts po = {.size = sizeof po, .run = &no_tags};
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, &po, &pr), CU_EINVAL);
  pr = cu_pipeline_result_free(pr);
  /* A batch refuses before anything runs: the good item never starts. */
  const cu_tag bad[] = {{NULL, NULL}};
  cu_run_opts bad_opts = {.size = sizeof bad_opts, .tags = bad, .n_tags = 1};
  cu_batch_item items[2] = {{.cmd = a}, {.cmd = b, .opts = &bad_opts}};
  cu_parallel_result *res = NULL;
  assert_int_equal(cu_parallel_run(items, 2, NULL, &res), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "item 1"));
  assert_true(!res || res->n_items == 0 || !res->items[0]->result);
  res = cu_parallel_result_free(res);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cut_assert_no_children();
}

/* ------------------------------------------------------------ errno */

static void expect_cwd_errno(const char *cwd, int want) {
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_result *r = NULL;
  errno = EBADF; /* stale: must not leak into the result */
  assert_int_equal(
      cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .cwd = cwd}, &r),
      CU_ECWD);
  assert_int_equal(r->spawn_step, CU_STEP_CWD);
  assert_int_equal(r->spawn_errno, want);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
}

static void test_cwd_regular_file_is_enotdir(void **state) {
  (void)state;
  char path[] = "/tmp/cu-contracts-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  expect_cwd_errno(path, ENOTDIR);
  unlink(path);
  expect_cwd_errno("/nonexistent/dir", ENOENT);
}

/* The same for a pipeline and for a stdin file that cannot be opened. */
static void test_setup_errno_variants(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("exitcode", "0", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, a, NULL), 0);
  cu_pipeline_result *pr = NULL;
  errno = EBADF;
  cu_run_opts bad_cwd = {.size = sizeof bad_cwd, .cwd = "/etc/passwd"};
  assert_int_equal(
      cu_pipeline_run(
          p, &(cu_pipeline_opts){.size = sizeof(cu_pipeline_opts),
                                 .run = &bad_cwd},
          &pr),
      CU_ECWD);
  assert_int_equal(pr->spawn_errno, ENOTDIR);
  pr = cu_pipeline_result_free(pr);
  cu_result *r = NULL;
  errno = EBADF;
  cu_run_opts o = {.size = sizeof o,
                   .in = {.mode = CU_STDIN_FILE, .path = "/nonexistent/in"}};
  assert_int_equal(cu_run(a, &o, &r), CU_ESTDIN);
  assert_int_equal(r->spawn_errno, ENOENT);
  r = cu_result_free(r);
  cu_pipeline_free(p);
  cu_cmd_free(a);
}

/* ------------------------------------------------------------ chains */

static void test_chain_reports_the_first_error(void **state) {
  (void)state;
  cu_cmd *cmd = NULL;
  int rc = cu_cmd_new(cut_catalogue(), CU_PROGRAM("no-such-program-xyz"), &cmd);
  assert_int_equal(rc, CU_EUNKNOWN_PROGRAM);
  assert_null(cmd);
  /* The chain goes on with a NULL command: every step says why. */
  assert_int_equal(cu_cmd_arg(cmd, "x"), CU_EUNKNOWN_PROGRAM);
  assert_non_null(strstr(cu_last_error(), "no-such-program-xyz"));
  assert_int_equal(cu_cmd_flag(cmd, "verbose", NULL), CU_EUNKNOWN_PROGRAM);
  /* Checked once at the end: the constructor's code, not CU_EINVAL. */
  assert_int_equal(cu_cmd_status(cmd), CU_EUNKNOWN_PROGRAM);
  assert_non_null(strstr(cu_last_error(), "no-such-program-xyz"));
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), CU_EUNKNOWN_PROGRAM);
  assert_int_equal(r->error, CU_EUNKNOWN_PROGRAM);
  assert_non_null(strstr(cu_last_error(), "not in the catalogue"));
  r = cu_result_free(r);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &t), CU_EUNKNOWN_PROGRAM);
  cu_loop_free(loop);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_new(&p), 0);
  assert_int_equal(cu_pipeline_add(p, cmd), CU_EUNKNOWN_PROGRAM);
  cu_pipeline_free(p);
  /* A later successful constructor starts a new chain. */
  cu_cmd *ok = cut_cmd("exitcode", "0", NULL);
  assert_int_equal(cu_cmd_arg(NULL, "x"), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "is NULL"));
  cu_cmd_free(ok);
}

static void test_chain_unsafe_constructor(void **state) {
  (void)state;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new("/nonexistent/prog", &cmd), CU_ENOTFOUND);
  assert_int_equal(cu_cmd_arg(cmd, "x"), CU_ENOTFOUND);
  assert_non_null(strstr(cu_last_error(), "/nonexistent/prog"));
}

/* The record is per thread: another thread's failure is not ours. */
static void *failing_new(void *p) {
  (void)p;
  cu_cmd *cmd = NULL;
  (void)cu_cmd_new(cut_catalogue(), CU_PROGRAM("other-thread-xyz"), &cmd);
  return NULL;
}

static void test_chain_is_per_thread(void **state) {
  (void)state;
  cu_cmd *ok = cut_cmd("exitcode", "0", NULL); /* clears this thread's */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, failing_new, NULL), 0);
  pthread_join(th, NULL);
  assert_int_equal(cu_cmd_arg(NULL, "x"), CU_EINVAL);
  assert_null(strstr(cu_last_error(), "other-thread-xyz"));
  cu_cmd_free(ok);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cancel_from_other_thread_races_nothing),
      cmocka_unit_test(test_cancel_many_tasks_from_threads),
      cmocka_unit_test(test_cancel_after_done_is_a_no_op),
      cmocka_unit_test(test_tags_null_array_is_einval),
      cmocka_unit_test(test_tag_null_key_or_value_is_einval),
      cmocka_unit_test(test_env_null_array_is_einval),
      cmocka_unit_test(test_pipeline_and_batch_check_tags),
      cmocka_unit_test(test_cwd_regular_file_is_enotdir),
      cmocka_unit_test(test_setup_errno_variants),
      cmocka_unit_test(test_chain_reports_the_first_error),
      cmocka_unit_test(test_chain_unsafe_constructor),
      cmocka_unit_test(test_chain_is_per_thread),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof tests[0], __FILE__);
}
