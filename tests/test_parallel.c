/* SPDX-License-Identifier: MIT */
/* The concurrency helper: order, limits, fail-fast, pre-flight, deadlines. */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_results_in_submission_order(void **state) {
  (void)state;
  enum { N = 8 };
  cu_cmd *cmds[N];
  cu_batch_item items[N];
  char code[8], ms[16];
  for (int i = 0; i < N; i++) {
    snprintf(code, sizeof code, "%d", i);
    /* later items finish first */
    snprintf(ms, sizeof ms, "%d", (N - i) * 20);
    cmds[i] = i % 2 ? cut_cmd("exitcode", code, NULL)
                    : cut_cmd("sleeper", ms, NULL);
    items[i] = (cu_batch_item){.cmd = cmds[i]};
  }
  cu_parallel_result *r = NULL;
  assert_int_equal(
      cu_parallel_run(
          items, N,
          &(cu_parallel_opts){.size = sizeof(cu_parallel_opts), .limit = 3},
          &r),
      0);
  assert_int_equal(r->n_items, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(r->items[i]->state, CU_ITEM_DONE);
    assert_int_equal(r->items[i]->result->exit_code, i % 2 ? i : 0);
    if (i % 2 == 0)
      assert_string_equal(r->items[i]->result->out.data, "ready\n");
  }
  assert_int_equal(r->n_ok + r->n_failed, N);
  assert_int_equal(r->n_failed, 4); /* exit codes 1, 3, 5, 7 */
  assert_false(r->ok);
  assert_int_equal(r->n_skipped, 0);
  r = cu_parallel_result_free(r);
  for (int i = 0; i < N; i++)
    cu_cmd_free(cmds[i]);
  cut_assert_no_children();
}

static void test_limit_is_honoured(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("sleeper", "100", NULL);
  cu_batch_item items[6];
  for (int i = 0; i < 6; i++)
    items[i] = (cu_batch_item){.cmd = cmd};
  int64_t t0 = cut_now_ms();
  cu_parallel_result *r = NULL;
  assert_int_equal(
      cu_parallel_run(
          items, 6,
          &(cu_parallel_opts){.size = sizeof(cu_parallel_opts), .limit = 2},
          &r),
      0);
  assert_true(cut_now_ms() - t0 >= 300); /* three waves of two */
  assert_true(r->ok);
  assert_int_equal(r->n_ok, 6);
  r = cu_parallel_result_free(r);
  t0 = cut_now_ms();
  assert_int_equal(cu_parallel_run(items, 6, NULL, &r), 0); /* no limit */
  assert_true(r->ok);
  r = cu_parallel_result_free(r);
  cu_cmd_free(cmd);
}

static void test_fail_fast_terminates_and_skips(void **state) {
  (void)state;
  cu_cmd *slow = cut_cmd("sleeper", "10000", NULL);
  cu_cmd *fail = cut_cmd("exitcode", "9", NULL);
  cu_batch_item items[] = {{.cmd = slow}, {.cmd = slow}, {.cmd = fail},
                           {.cmd = slow}, {.cmd = slow}};
  int64_t t0 = cut_now_ms();
  cu_parallel_result *r = NULL;
  assert_int_equal(
      cu_parallel_run(items, 5,
                      &(cu_parallel_opts){.size = sizeof(cu_parallel_opts),
                                          .limit = 3,
                                          .fail_fast = true},
                      &r),
      0);
  assert_true(cut_now_ms() - t0 < 5000);
  assert_false(r->ok);
  assert_int_equal(r->first_failure, 2);
  assert_int_equal(r->items[0]->state, CU_ITEM_TERMINATED);
  assert_int_equal(r->items[1]->state, CU_ITEM_TERMINATED);
  assert_int_equal(r->items[2]->state, CU_ITEM_DONE);
  assert_int_equal(r->items[2]->result->exit_code, 9);
  assert_int_equal(r->items[3]->state, CU_ITEM_SKIPPED);
  assert_int_equal(r->items[4]->state, CU_ITEM_SKIPPED);
  assert_null(r->items[3]->result); /* never ran: no result at all */
  assert_int_equal(r->n_skipped, 2);
  r = cu_parallel_result_free(r);
  cu_cmd_free(slow);
  cu_cmd_free(fail);
  cut_assert_no_children();
}

static void test_preflight_refuses_whole_batch(void **state) {
  (void)state;
  char marker[] = "/tmp/cu-par-marker-XXXXXX";
  int fd = mkstemp(marker);
  close(fd);
  unlink(marker);
  cu_cmd *touch = NULL;
  assert_int_equal(cu_cmd_new(NULL, CU_TOUCH, &touch), 0);
  assert_int_equal(cu_cmd_arg(touch, marker), 0);
  cu_cmd *bad = cut_cmd("echoer", NULL);
  cu_cmd_arg(bad, NULL); /* sticky CU_EINVAL */
  cu_batch_item items[] = {{.cmd = touch}, {.cmd = bad}};
  cu_parallel_result *r = NULL;
  assert_int_equal(cu_parallel_run(items, 2, NULL, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "item 1"));
  struct stat st;
  assert_int_not_equal(stat(marker, &st), 0);
  r = cu_parallel_result_free(r);
  cu_batch_item both[] = {{.cmd = touch, .pipeline = (cu_pipeline *)1}};
  assert_int_equal(cu_parallel_run(both, 1, NULL, &r), CU_EINVAL);
  r = cu_parallel_result_free(r);
  cu_cmd_free(touch);
  cu_cmd_free(bad);
  cut_assert_no_children();
}

static void test_item_timeout_and_deadline(void **state) {
  (void)state;
  cu_cmd *slow = cut_cmd("sleeper", "10000", NULL);
  cu_cmd *quick = cut_cmd("exitcode", "0", NULL);
  cu_batch_item items[] = {{.cmd = slow}, {.cmd = quick}};
  cu_parallel_result *r = NULL;
  /* The item timeout applies to the quick item too: long enough for it on a
   * loaded machine, far shorter than the slow one. */
  int64_t item_timeout = 500 + cut_slack_ms();
  assert_int_equal(
      cu_parallel_run(items, 2,
                      &(cu_parallel_opts){.size = sizeof(cu_parallel_opts),
                                          .item_timeout_ms = item_timeout},
                      &r),
      0);
  assert_true(r->items[0]->result->timed_out);
  assert_true(r->items[1]->result->ok);
  r = cu_parallel_result_free(r);

  cu_batch_item many[] = {{.cmd = slow}, {.cmd = slow}, {.cmd = slow}};
  int64_t t0 = cut_now_ms();
  assert_int_equal(
      cu_parallel_run(many, 3,
                      &(cu_parallel_opts){.size = sizeof(cu_parallel_opts),
                                          .limit = 1,
                                          .deadline_ms = 150},
                      &r),
      0);
  assert_true(cut_now_ms() - t0 < 3000 + cut_slack_ms());
  assert_true(r->timed_out);
  assert_int_equal(r->items[0]->state, CU_ITEM_TERMINATED);
  assert_int_equal(r->items[1]->state, CU_ITEM_SKIPPED);
  assert_int_equal(r->items[2]->state, CU_ITEM_SKIPPED);
  r = cu_parallel_result_free(r);
  cu_cmd_free(slow);
  cu_cmd_free(quick);
  cut_assert_no_children();
}

static void test_pipelines_and_commands_mixed(void **state) {
  (void)state;
  cu_cmd *w = cut_cmd("writer", "--out", "1000", NULL);
  cu_cmd *e = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, w, e, NULL), 0);
  cu_batch_item items[] = {{.pipeline = p}, {.cmd = w}, {.pipeline = p}};
  cu_parallel_result *r = NULL;
  assert_int_equal(
      cu_parallel_run(
          items, 3,
          &(cu_parallel_opts){.size = sizeof(cu_parallel_opts), .limit = 2},
          &r),
      0);
  assert_true(r->ok);
  assert_int_equal(r->items[0]->pipeline->stages[1]->out.len, 1000);
  assert_int_equal(r->items[1]->result->out.len, 1000);
  assert_int_equal(r->items[2]->pipeline->n_stages, 2);
  r = cu_parallel_result_free(r);
  assert_int_equal(cu_parallel_run(NULL, 0, NULL, &r), 0);
  assert_true(r->ok);
  r = cu_parallel_result_free(r);
  cu_parallel_result_free(NULL);
  cu_pipeline_free(p);
  cu_cmd_free(w);
  cu_cmd_free(e);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_results_in_submission_order),
    cmocka_unit_test(test_limit_is_honoured),
    cmocka_unit_test(test_fail_fast_terminates_and_skips),
    cmocka_unit_test(test_preflight_refuses_whole_batch),
    cmocka_unit_test(test_item_timeout_and_deadline),
    cmocka_unit_test(test_pipelines_and_commands_mixed),
};

CU_TEST_MAIN(tests)
