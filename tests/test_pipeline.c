/* SPDX-License-Identifier: MIT */
/* Pipelines: streaming, failure policy, SIGPIPE, spawn failure, timeouts. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static cu_cmd *dflt(cu_program prog, ...) __attribute__((sentinel));
static cu_cmd *dflt(cu_program prog, ...) {
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(NULL, prog, &cmd), 0);
  va_list ap;
  va_start(ap, prog);
  assert_int_equal(cu_cmd_vargs(cmd, ap), 0);
  va_end(ap);
  return cmd;
}

static int run2(cu_cmd *a, cu_cmd *b, const cu_pipeline_opts *o,
                cu_pipeline_result **r) {
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  int rc = cu_pipeline_run(p, o, r);
  cu_pipeline_free(p);
  return rc;
}

static int run3(cu_cmd *a, cu_cmd *b, cu_cmd *c, const cu_pipeline_opts *o,
                cu_pipeline_result **r) {
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, c, NULL), 0);
  int rc = cu_pipeline_run(p, o, r);
  cu_pipeline_free(p);
  return rc;
}

static void test_three_stages_stream(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("writer", "--out", "3000000", "--err", "11", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_cmd *c = dflt(CU_WC, "-c", NULL);
  cu_pipeline_result *r = NULL;
  assert_int_equal(run3(a, b, c, NULL, &r), 0);
  assert_true(r->ok);
  assert_int_equal(r->fail_index, -1);
  assert_int_equal(r->n_stages, 3);
  assert_string_equal(r->stages[2]->out.data, "3000000\n");
  assert_int_equal(r->stages[0]->err.len, 11); /* stderr per stage */
  assert_int_equal(r->stages[0]->out.len, 0);
  for (size_t i = 0; i < 3; i++) {
    assert_true(r->stages[i]->ok);
    assert_true(r->stages[i]->pid > 0);
  }
  /* One process group for the whole pipeline is checked indirectly by the
   * timeout test; pids are distinct. */
  assert_int_not_equal(r->stages[0]->pid, r->stages[1]->pid);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cu_cmd_free(c);
  cut_assert_no_children();
}

static void test_yes_head_finishes_at_once(void **state) {
  (void)state;
  cu_cmd *yes = dflt(CU_YES, NULL);
  cu_cmd *head = dflt(CU_HEAD, "-n1", NULL);
  int64_t t0 = cut_now_ms();
  cu_pipeline_result *r = NULL;
  assert_int_equal(run2(yes, head,
                        &(cu_pipeline_opts){
                            .size = sizeof(cu_pipeline_opts),
                            .run = &(cu_run_opts){.size = sizeof(cu_run_opts),
                                                  .timeout_ms = 20000}},
                        &r),
                   0);
  assert_true(cut_now_ms() - t0 < 5000);
  assert_true(r->ok); /* SIGPIPE upstream is not a failure by default */
  assert_int_equal(r->fail_index, -1);
  assert_string_equal(r->stages[1]->out.data, "y\n");
  assert_int_equal(r->stages[0]->term_signal, SIGPIPE);
  r = cu_pipeline_result_free(r);

  /* The policy can make it one. */
  assert_int_equal(run2(yes, head,
                        &(cu_pipeline_opts){.size = sizeof(cu_pipeline_opts),
                                            .sigpipe_is_failure = true},
                        &r),
                   0);
  assert_false(r->ok);
  assert_int_equal(r->fail_index, 0);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(yes);
  cu_cmd_free(head);

  cu_cmd *seq = dflt(CU_SEQ, "1", "1000000000", NULL);
  head = dflt(CU_HEAD, "-n1", NULL);
  t0 = cut_now_ms();
  assert_int_equal(run2(seq, head, NULL, &r), 0);
  assert_true(cut_now_ms() - t0 < 5000);
  assert_string_equal(r->stages[1]->out.data, "1\n");
  assert_true(r->ok);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(seq);
  cu_cmd_free(head);
  cut_assert_no_children();
}

static void test_fail_fast_early_middle_late(void **state) {
  (void)state;
  cu_cmd *fail = cut_cmd("exitcode", "3", NULL);
  cu_cmd *slow = cut_cmd("sleeper", "10000", NULL);
  cu_cmd *slow2 = cut_cmd("sleeper", "10000", NULL);
  cu_pipeline_result *r = NULL;
  int64_t t0 = cut_now_ms();
  /* early */
  assert_int_equal(run3(fail, slow, slow2, NULL, &r), 0);
  assert_int_equal(r->fail_index, 0);
  assert_false(r->ok);
  assert_int_equal(r->stages[0]->exit_code, 3);
  assert_true(r->stages[1]->terminated);
  assert_true(r->stages[2]->terminated);
  assert_int_equal(r->stages[2]->term_signal, SIGTERM);
  r = cu_pipeline_result_free(r);
  /* middle */
  assert_int_equal(run3(slow, fail, slow2, NULL, &r), 0);
  assert_int_equal(r->fail_index, 1);
  assert_true(r->stages[0]->terminated);
  assert_false(r->stages[1]->terminated);
  r = cu_pipeline_result_free(r);
  /* late */
  assert_int_equal(run3(slow, slow2, fail, NULL, &r), 0);
  assert_int_equal(r->fail_index, 2);
  r = cu_pipeline_result_free(r);
  assert_true(cut_now_ms() - t0 < 5000); /* nobody waited for the sleepers */
  cu_cmd_free(fail);
  cu_cmd_free(slow);
  cu_cmd_free(slow2);
  cut_assert_no_children();
}

static void test_signal_in_middle_stage(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("sleeper", "10000", NULL);
  cu_cmd *b = cut_cmd("killself", "9", NULL);
  cu_cmd *c = cut_cmd("echoer", NULL);
  cu_pipeline_result *r = NULL;
  assert_int_equal(run3(a, b, c, NULL, &r), 0);
  assert_int_equal(r->fail_index, 1);
  assert_int_equal(r->stages[1]->term_signal, SIGKILL);
  assert_int_equal(r->stages[1]->exit_code, -1);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cu_cmd_free(c);
  cut_assert_no_children();
}

static void test_wait_all_policy(void **state) {
  (void)state;
  cu_cmd *fail = cut_cmd("exitcode", "4", NULL);
  cu_cmd *slow = cut_cmd("sleeper", "300", NULL);
  cu_pipeline_result *r = NULL;
  int64_t t0 = cut_now_ms();
  assert_int_equal(run2(fail, slow,
                        &(cu_pipeline_opts){.size = sizeof(cu_pipeline_opts),
                                            .policy = CU_FAIL_WAIT_ALL},
                        &r),
                   0);
  assert_true(cut_now_ms() - t0 >= 300);
  assert_int_equal(r->fail_index, 0);
  assert_false(r->ok);
  assert_false(r->stages[1]->terminated);
  assert_int_equal(r->stages[1]->exit_code, 0);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(fail);
  cu_cmd_free(slow);
}

static void test_spawn_failure_of_middle_stage(void **state) {
  (void)state;
  cut_tool gone;
  cut_tool_make(&gone, "#!/bin/true\n");
  unlink(gone.path);
  cu_cmd *a = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  cu_cmd *c = cut_cmd("sleeper", "10000", NULL);
  int fds = cut_fd_count();
  cu_pipeline_result *r = NULL;
  assert_int_equal(run3(a, gone.cmd, c, NULL, &r), CU_ENOTFOUND);
  assert_int_equal(r->spawn_index, 1);
  assert_int_equal(r->spawn_step, CU_STEP_EXEC);
  assert_int_equal(r->error, CU_ENOTFOUND);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children(); /* stage 0 was killed and reaped */
  r = cu_pipeline_result_free(r);
  cu_cmd_free(a);
  cu_cmd_free(c);
  cut_tool_free(&gone);
}

static void test_builder_error_in_any_stage_spawns_nothing(void **state) {
  (void)state;
  char marker[] = "/tmp/cu-pipe-marker-XXXXXX";
  int fd = mkstemp(marker);
  close(fd);
  unlink(marker);
  cu_cmd *touch = dflt(CU_TOUCH, marker, NULL);
  cu_cmd *bad = cut_cmd("echoer", NULL);
  assert_int_equal(cu_cmd_argn(bad, "a\0b", 3), CU_ENULARG);
  cu_pipeline_result *r = NULL;
  assert_int_equal(run2(touch, bad, NULL, &r), CU_ENULARG);
  struct stat st;
  assert_int_not_equal(stat(marker, &st), 0); /* stage 0 never ran */
  r = cu_pipeline_result_free(r);
  cu_cmd_free(touch);
  cu_cmd_free(bad);
  cut_assert_no_children();
}

static void test_timeout_kills_the_whole_tree(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  cu_cmd *b = cut_cmd("forker", "--ignore-term", "0", NULL);
  /* Both ignore SIGTERM (and forker prints) before the timeout fires. */
  int64_t timeout = cut_after_start_ms(100);
  int64_t t0 = cut_now_ms();
  cu_pipeline_result *r = NULL;
  assert_int_equal(run2(a, b,
                        &(cu_pipeline_opts){
                            .size = sizeof(cu_pipeline_opts),
                            .run = &(cu_run_opts){.size = sizeof(cu_run_opts),
                                                  .timeout_ms = timeout,
                                                  .grace_ms = 100}},
                        &r),
                   0);
  int64_t took = cut_now_ms() - t0;
  assert_true(r->timed_out);
  assert_false(r->ok);
  assert_true(r->stages[0]->terminated);
  assert_int_equal(r->stages[0]->term_signal, SIGKILL);
  assert_true(took < timeout + 100 + cut_slack_ms());
  int gc = 0;
  assert_int_equal(sscanf(r->stages[1]->out.data, "grandchild %d", &gc), 1);
  assert_true(cut_wait_exited(gc, 1000));
  r = cu_pipeline_result_free(r);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cut_assert_no_children();
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void test_heavy_backpressure_keeps_memory_flat(void **state) {
  (void)state;
  /* 200 MB through three stages, output discarded: bytes never cross the
   * parent, so its peak memory must not move by anything near that. */
  cu_cmd *a = cut_cmd("writer", "--out", "209715200", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_cmd *c = cut_cmd("echoer", NULL);
  long before = maxrss_kb();
  cu_pipeline_result *r = NULL;
  assert_int_equal(
      run3(a, b, c,
           &(cu_pipeline_opts){
               .size = sizeof(cu_pipeline_opts),
               .run = &(cu_run_opts){.size = sizeof(cu_run_opts),
                                     .out.mode = CU_STREAM_DISCARD}},
           &r),
      0);
  assert_true(r->ok);
  assert_true(maxrss_kb() - before < 16 * 1024);
  r = cu_pipeline_result_free(r);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cu_cmd_free(c);
}

static void test_pipeline_on_loop_and_bad_input(void **state) {
  (void)state;
  cu_pipeline *p = NULL;
  cu_pipeline_result *r = NULL;
  assert_int_equal(cu_pipeline_new(&p), 0);
  assert_int_equal(cu_pipeline_add(p, NULL), CU_EINVAL);
  cu_cmd *a = cut_cmd("writer", "--out", "5", NULL);
  assert_int_equal(cu_pipeline_add(p, a), 0);
  assert_int_equal(cu_pipeline_run(p, NULL, &r), CU_EINVAL); /* 1 stage */
  r = cu_pipeline_result_free(r);
  cu_cmd *b = cut_cmd("echoer", NULL);
  assert_int_equal(cu_pipeline_add(p, b), 0);
  assert_int_equal(cu_pipeline_stage_count(p), 2);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn_pipeline(loop, p, NULL, &t), 0);
  assert_null(cu_task_pipeline_result(t)); /* not done yet */
  const cu_result *single = NULL;
  assert_int_equal(cu_task_wait(t, &single), 0); /* one wait for all tasks */
  assert_true(single->ok);                       /* the summary view */
  const cu_pipeline_result *pr = cu_task_pipeline_result(t);
  assert_non_null(pr);
  assert_true(pr->ok);
  assert_string_equal(pr->stages[1]->out.data, "abcde");
  assert_int_equal(cu_task_wait(t, NULL), 0); /* waiting again: no change */
  assert_ptr_equal(cu_task_pipeline_result(t), pr);
  cu_task_free(t);
  cu_loop_free(loop);
  cu_pipeline_free(p);
  cu_pipeline_free(NULL);
  cu_pipeline_result_free(NULL);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cut_assert_no_children();
}

static void tapped_run(cu_stream_backend backend) {
  cu_cmd *a = cut_cmd("writer", "--out", "3000000", "--text", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_cmd *c = dflt(CU_WC, "-c", NULL);
  cu_pipeline_result *r = NULL;
  assert_int_equal(run3(a, b, c,
                        &(cu_pipeline_opts){
                            .size = sizeof(cu_pipeline_opts),
                            .run = &(cu_run_opts){.size = sizeof(cu_run_opts),
                                                  .backend = backend},
                            .tap_stages = 1u << 0,
                            .capture_taps = true},
                        &r),
                   0);
  assert_true(r->ok);
  assert_string_equal(r->stages[2]->out.data, "3000000\n");
  assert_int_equal(r->stages[0]->out.len, 3000000); /* observed copy */
  assert_memory_equal(r->stages[0]->out.data, "out 00000000\nout 00000001\n",
                      26);
  assert_int_equal(r->stages[1]->out.len, 0); /* not tapped */
  r = cu_pipeline_result_free(r);

  /* Downstream exits early: the relay stops, upstream gets SIGPIPE. */
  cu_cmd *yes = dflt(CU_YES, NULL);
  cu_cmd *head = dflt(CU_HEAD, "-n2", NULL);
  assert_int_equal(run2(yes, head,
                        &(cu_pipeline_opts){
                            .size = sizeof(cu_pipeline_opts),
                            .run = &(cu_run_opts){.size = sizeof(cu_run_opts),
                                                  .backend = backend,
                                                  .timeout_ms = 20000},
                            .tap_stages = 1},
                        &r),
                   0);
  assert_false(r->timed_out);
  assert_true(r->ok);
  assert_string_equal(r->stages[1]->out.data, "y\ny\n");
  r = cu_pipeline_result_free(r);
  cu_cmd_free(yes);
  cu_cmd_free(head);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cu_cmd_free(c);
  cut_assert_no_children();
}

static void test_tapped_stage_readwrite(void **state) {
  (void)state;
  tapped_run(CU_BACKEND_READWRITE);
}

static void test_tapped_stage_splice(void **state) {
  (void)state;
  cu_stream_backend b;
  if (cu_stream_backend_resolve(CU_BACKEND_SPLICE, &b) != 0)
    skip(); /* compiled out or refused by the kernel */
  tapped_run(CU_BACKEND_SPLICE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tapped_stage_readwrite),
    cmocka_unit_test(test_tapped_stage_splice),
    cmocka_unit_test(test_three_stages_stream),
    cmocka_unit_test(test_yes_head_finishes_at_once),
    cmocka_unit_test(test_fail_fast_early_middle_late),
    cmocka_unit_test(test_signal_in_middle_stage),
    cmocka_unit_test(test_wait_all_policy),
    cmocka_unit_test(test_spawn_failure_of_middle_stage),
    cmocka_unit_test(test_builder_error_in_any_stage_spawns_nothing),
    cmocka_unit_test(test_timeout_kills_the_whole_tree),
    cmocka_unit_test(test_heavy_backpressure_keeps_memory_flat),
    cmocka_unit_test(test_pipeline_on_loop_and_bad_input),
};

CU_TEST_MAIN(tests)
