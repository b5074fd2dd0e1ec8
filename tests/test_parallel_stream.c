/* SPDX-License-Identifier: MIT */
/*
 * cu_parallel_stream(): items pulled from a callback as there is room,
 * results handed to a callback as they end (completion order, or index
 * order with keep_order), halt conditions in GNU parallel's terms, retries
 * with a back-off, memory bounded by what is in flight (counted: every
 * item the source built and the sink has not freed), and a cancel in the
 * middle leaving no child and no descriptor behind.
 * Threads: the loop's (TSan stage).
 * ctest-labels: threads
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_ITEMS = 400 };

/* A batch described by helper argvs; the source builds each command when
 * it is pulled, the sink frees it (so `live` counts what is in flight). */
typedef struct fake {
  const char *const *argv[MAX_ITEMS]; /* helper, args..., NULL */
  size_t n;
  cu_cmd *cmd[MAX_ITEMS];
  cu_run_opts opts[MAX_ITEMS];
  cu_cancel *item_cancel;   /* item 0's own token, if set */
  int source_error_at;      /* return CU_EINVAL at this index; -1 never */
  size_t live, max_live;
  size_t order[MAX_ITEMS];  /* indexes as delivered */
  cu_item_state state[MAX_ITEMS];
  bool ok[MAX_ITEMS];
  unsigned retries[MAX_ITEMS];
  size_t delivered;
  cu_cancel *cancel_after; /* triggered once `cancel_at` were delivered */
  size_t cancel_at;
} fake;

static cu_cmd *make(const char *const *argv) {
  cu_cmd *c = NULL;
  assert_int_equal(cu_cmd_new(cut_catalogue(), CU_PROGRAM(argv[0]), &c), 0);
  for (size_t i = 1; argv[i]; i++)
    cu_cmd_arg(c, argv[i]);
  return c;
}

static int source(void *user, size_t i, cu_batch_item *item) {
  fake *f = user;
  if (f->source_error_at >= 0 && i == (size_t)f->source_error_at)
    return CU_EINVAL;
  if (i >= f->n)
    return 0;
  f->cmd[i] = make(f->argv[i]);
  f->opts[i] = (cu_run_opts)CU_RUN_OPTS_INIT;
  if (i == 0 && f->item_cancel)
    f->opts[i].cancel = f->item_cancel;
  *item = (cu_batch_item){.cmd = f->cmd[i], .opts = &f->opts[i]};
  if (++f->live > f->max_live)
    f->max_live = f->live;
  return 1;
}

static void sink(void *user, cu_item_result *ir) {
  fake *f = user;
  assert_true(ir->index < f->n);
  assert_non_null(f->cmd[ir->index]); /* once each */
  f->cmd[ir->index] = cu_cmd_free(f->cmd[ir->index]);
  f->live--;
  f->order[f->delivered++] = ir->index;
  f->state[ir->index] = ir->state;
  f->ok[ir->index] = ir->ok;
  f->retries[ir->index] = ir->retries;
  if (f->cancel_after && f->delivered == f->cancel_at)
    cu_cancel_trigger(f->cancel_after);
  /* Two items delivered: let item 0 (held by its own token) end. */
  if (f->item_cancel && f->delivered == 2)
    cu_cancel_trigger(f->item_cancel);
  cu_item_result_free(ir); /* ours now */
}

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
static const char *const *const SLOW = A("sleeper", "30000");
static const char *const *const OK = A("exitcode", "0");
static const char *const *const FAIL = A("exitcode", "3");

static cu_parallel_stream_opts opts_for(fake *f, unsigned limit) {
  f->source_error_at = f->source_error_at ? f->source_error_at : -1;
  return (cu_parallel_stream_opts){
      .size = sizeof(cu_parallel_stream_opts), .source = source,
      .source_user = f, .sink = sink, .sink_user = f, .limit = limit,
      .total_hint = f->n};
}

static cu_parallel_result *run(fake *f, const cu_parallel_stream_opts *o) {
  cu_parallel_result *r = NULL;
  assert_int_equal(cu_parallel_stream(o, &r), 0);
  assert_non_null(r);
  assert_int_equal(f->live, 0); /* every pulled item was delivered */
  assert_int_equal(r->n_items, f->delivered);
  return r;
}

/* Results come as items end: item 0 runs until the other two were
 * delivered (its own token then stops it), so it is delivered last. */
static void test_stream_completion_order(void **state) {
  (void)state;
  fake f = {.argv = {SLOW, OK, FAIL}, .n = 3};
  assert_int_equal(cu_cancel_new(&f.item_cancel), 0);
  cu_parallel_stream_opts o = opts_for(&f, 3);
  cu_parallel_result *r = run(&f, &o);
  assert_int_equal(f.delivered, 3);
  assert_int_equal(f.order[2], 0);
  assert_true(f.ok[1]);
  assert_false(f.ok[2]);
  assert_int_equal(f.state[0], CU_ITEM_DONE); /* its own cancel, not ours */
  assert_int_equal(r->n_ok, 1);
  assert_int_equal(r->n_failed, 2);
  assert_false(r->ok);
  assert_false(r->halted);
  r = cu_parallel_result_free(r);
  cu_cancel_free(f.item_cancel);
  cut_assert_no_children();
}

/* keep_order: index order, whatever order they end in; the window bounds
 * what is built at once. */
static void test_stream_keep_order(void **state) {
  (void)state;
  fake f = {.n = 40};
  f.argv[0] = A("sleeper", "300");
  for (size_t i = 1; i < f.n; i++)
    f.argv[i] = i % 3 ? OK : FAIL;
  cu_parallel_stream_opts o = opts_for(&f, 3);
  o.keep_order = true;
  o.reorder_window = 5;
  cu_parallel_result *r = run(&f, &o);
  assert_int_equal(f.delivered, 40);
  for (size_t i = 0; i < f.n; i++)
    assert_int_equal(f.order[i], i);
  assert_true(f.max_live <= 5);
  r = cu_parallel_result_free(r);
  cut_assert_no_children();
}

/* Memory: never more items built than may run (limit), however long the
 * batch; with keep_order, never more than the window. */
static void test_stream_bounded_in_flight(void **state) {
  (void)state;
  fake f = {.n = cut_under_valgrind() ? 60 : 300};
  for (size_t i = 0; i < f.n; i++)
    f.argv[i] = OK;
  cu_parallel_stream_opts o = opts_for(&f, 4);
  cu_parallel_result *r = run(&f, &o);
  assert_int_equal(f.delivered, f.n);
  assert_true(r->ok);
  assert_true(f.max_live <= 4);
  print_message("in flight at most: %zu of %zu items\n", f.max_live, f.n);
  r = cu_parallel_result_free(r);
  cut_assert_no_children();
}

/* --halt now,fail=1: the running item is terminated, nothing more pulled. */
static void test_stream_halt_now_fail(void **state) {
  (void)state;
  fake f = {.argv = {SLOW, FAIL, OK, OK, OK}, .n = 5};
  cu_parallel_stream_opts o = opts_for(&f, 2);
  o.halt_when = CU_HALT_NOW;
  o.halt_on = CU_HALT_ON_FAIL;
  o.halt_count = 1;
  int64_t t0 = cut_now_ms();
  cu_parallel_result *r = run(&f, &o);
  assert_true(cut_now_ms() - t0 < 10000);
  assert_true(r->halted);
  assert_int_equal(f.delivered, 2);
  assert_int_equal(f.order[0], 1);
  assert_int_equal(f.state[0], CU_ITEM_TERMINATED);
  assert_int_equal(r->first_failure, 1);
  r = cu_parallel_result_free(r);
  cut_assert_no_children();
}

/* soon: the running item ends on its own; nothing more is pulled. */
static void test_stream_halt_soon_fail(void **state) {
  (void)state;
  fake f = {.argv = {A("sleeper", "1000"), FAIL, OK, OK}, .n = 4};
  cu_parallel_stream_opts o = opts_for(&f, 2);
  o.halt_when = CU_HALT_SOON;
  o.halt_count = 1;
  cu_parallel_result *r = run(&f, &o);
  assert_true(r->halted);
  /* 2 (or 3, if on a loaded machine the sleeper ended before the failure
   * and item 2 took its place): never item 3. */
  assert_true(f.delivered == 2 || f.delivered == 3);
  assert_int_equal(f.state[0], CU_ITEM_DONE);
  assert_true(f.ok[0]);
  r = cu_parallel_result_free(r);
  cut_assert_no_children();
}

/* success=N, done=N, fail=N% (of total_hint, rounded up), one at a time. */
static void test_stream_halt_counts(void **state) {
  (void)state;
  fake f = {.argv = {OK, FAIL, OK, FAIL, OK, OK}, .n = 6};
  cu_parallel_stream_opts o = opts_for(&f, 1);
  o.halt_when = CU_HALT_SOON;
  o.halt_on = CU_HALT_ON_SUCCESS;
  o.halt_count = 2;
  cu_parallel_result *r = run(&f, &o);
  assert_int_equal(f.delivered, 3); /* ok, fail, ok */
  r = cu_parallel_result_free(r);

  fake g = {.argv = {OK, FAIL, OK, FAIL, OK, OK}, .n = 6};
  o = opts_for(&g, 1);
  o.halt_when = CU_HALT_NOW;
  o.halt_on = CU_HALT_ON_DONE;
  o.halt_count = 4;
  r = run(&g, &o);
  assert_int_equal(g.delivered, 4);
  r = cu_parallel_result_free(r);

  fake h = {.argv = {OK, FAIL, OK, FAIL, OK, OK}, .n = 6};
  o = opts_for(&h, 1);
  o.halt_when = CU_HALT_SOON;
  o.halt_percent = 30; /* of 6: 1.8, so 2 failures */
  r = run(&h, &o);
  assert_int_equal(h.delivered, 4);
  assert_true(r->halted);
  r = cu_parallel_result_free(r);

  /* Bad halts are refused before anything runs. */
  fake bad = {.argv = {OK}, .n = 1};
  o = opts_for(&bad, 1);
  o.halt_when = CU_HALT_NOW;
  assert_int_equal(cu_parallel_stream(&o, &r), CU_EINVAL); /* count 0 */
  o.halt_percent = 10;
  o.total_hint = 0;
  assert_int_equal(cu_parallel_stream(&o, &r), CU_EINVAL);
  assert_null(r);
  assert_int_equal(bad.delivered, 0);
  cut_assert_no_children();
}

/* A failing item runs 1 + retries times, after a doubling back-off; the
 * count is in its result and the summary. A passing one runs once. */
static void test_stream_retries(void **state) {
  (void)state;
  fake f = {.argv = {FAIL, OK}, .n = 2};
  cu_parallel_stream_opts o = opts_for(&f, 2);
  o.retries = 2;
  o.retry_backoff_ms = 100;
  int64_t t0 = cut_now_ms();
  cu_parallel_result *r = run(&f, &o);
  assert_true(cut_now_ms() - t0 >= 300); /* 100 + 200 */
  assert_int_equal(f.retries[0], 2);
  assert_false(f.ok[0]);
  assert_int_equal(f.retries[1], 0);
  assert_int_equal(r->n_retries, 2);
  assert_int_equal(r->first_failure, 0);
  r = cu_parallel_result_free(r);
  cut_assert_no_children();
}

/* A cancel in the middle: running items terminated and delivered, nothing
 * more pulled, no child and no descriptor left. */
static void test_stream_cancel_leaves_nothing(void **state) {
  (void)state;
  int fds = cut_fd_count();
  fake f = {.argv = {OK, OK, SLOW, SLOW, SLOW, OK, OK}, .n = 7};
  assert_int_equal(cu_cancel_new(&f.cancel_after), 0);
  f.cancel_at = 2;
  cu_parallel_stream_opts o = opts_for(&f, 5);
  o.cancel = f.cancel_after;
  /* The OKs end first; then the cancel stops the three sleepers. */
  cu_parallel_result *r = run(&f, &o);
  assert_true(r->cancelled);
  assert_true(f.delivered >= 5); /* the sleepers too */
  for (size_t i = 2; i <= 4; i++)
    assert_int_equal(f.state[i], CU_ITEM_TERMINATED);
  r = cu_parallel_result_free(r);
  cu_cancel_free(f.cancel_after);
  cut_assert_no_children();
  assert_int_equal(cut_fd_count(), fds);
}

/* The source's error stops the batch (what was pulled is delivered); an
 * item with neither cmd nor pipeline is delivered as failed to start. */
static void test_stream_source_error_and_bad_item(void **state) {
  (void)state;
  fake f = {.argv = {OK, OK, OK}, .n = 3, .source_error_at = 2};
  cu_parallel_stream_opts o = opts_for(&f, 1);
  cu_parallel_result *r = NULL;
  assert_int_equal(cu_parallel_stream(&o, &r), CU_EINVAL);
  assert_null(r);
  assert_int_equal(f.delivered, 2);
  assert_int_equal(f.live, 0);
  assert_int_equal(cu_parallel_stream(NULL, &r), CU_EINVAL);
  o.sink = NULL;
  assert_int_equal(cu_parallel_stream(&o, &r), CU_EINVAL);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stream_completion_order),
    cmocka_unit_test(test_stream_keep_order),
    cmocka_unit_test(test_stream_bounded_in_flight),
    cmocka_unit_test(test_stream_halt_now_fail),
    cmocka_unit_test(test_stream_halt_soon_fail),
    cmocka_unit_test(test_stream_halt_counts),
    cmocka_unit_test(test_stream_retries),
    cmocka_unit_test(test_stream_cancel_leaves_nothing),
    cmocka_unit_test(test_stream_source_error_and_bad_item),
};

CU_TEST_MAIN(tests)
