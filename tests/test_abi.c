/* SPDX-License-Identifier: MIT */
/*
 * The ABI rule (docs/design.md): options structs are versioned by size, and
 * results are read through the prefix a caller compiled against.
 *
 * "Old" callers are simulated by copies of the public structs with their
 * last fields removed (as a program built against an older cuprum.h would
 * have them), placed in a buffer whose bytes past the old size are garbage:
 * the library must read none of them and default the fields it has there.
 * "New" callers are copies with an extra field at the end.
 *
 * ctest-labels: threads
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <cuprum/stream.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cu_run_opts as an older header had it: without cancel and backend. */
typedef struct old_run_opts {
  size_t size;
  cu_output_opts out;
  cu_output_opts err;
  cu_stdin_opts in;
  const cu_env_var *env;
  size_t n_env;
  bool clear_env;
  const char *cwd;
  int64_t timeout_ms;
  int64_t grace_ms;
  size_t max_capture;
  cu_overflow_policy overflow;
  const cu_tag *tags;
  size_t n_tags;
} old_run_opts;

/* cu_run_opts as a newer header might have it: one more field. */
typedef struct new_run_opts {
  cu_run_opts now;
  uint64_t future;
} new_run_opts;

/* Garbage where an old caller's struct ends. */
typedef union old_buffer {
  old_run_opts o;
  unsigned char bytes[sizeof(cu_run_opts) + 64];
} old_buffer;

static void old_opts(old_buffer *b) {
  memset(b, 0xA5, sizeof *b);
  memset(&b->o, 0, sizeof b->o);
  b->o.size = sizeof b->o;
}

/* A recorder of events: proof that nothing was even planned. */
static int count_event(void *data, const cu_event *ev) {
  (void)ev;
  ++*(int *)data;
  return 0;
}

static void test_old_run_opts_work_and_new_fields_default(void **state) {
  (void)state;
  assert_true(sizeof(old_run_opts) < sizeof(cu_run_opts));
  cu_cmd *cmd = cut_cmd("writer", "--out", "5", NULL);
  old_buffer b;
  old_opts(&b);
  b.o.timeout_ms = 20000;
  b.o.max_capture = 3; /* an old field is honoured */
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, (const cu_run_opts *)&b, &r), 0);
  assert_true(r->ok);
  assert_int_equal(r->out.len, 3);
  assert_true(r->out.truncated);
  r = cu_result_free(r);
  /* On a loop too, and for a pipeline's run options. */
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, (const cu_run_opts *)&b, &t), 0);
  const cu_result *tr = NULL;
  assert_int_equal(cu_task_wait(t, &tr), 0);
  assert_int_equal(tr->out.len, 3);
  cu_task_free(t);
  cu_loop_free(loop);
  cu_cmd *e = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, cmd, e, NULL), 0);
  cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
  po.run = (const cu_run_opts *)&b;
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, &po, &pr), 0);
  assert_true(pr->ok);
  assert_int_equal(pr->stages[1]->out.len, 3);
  pr = cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_cmd_free(e);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_new_run_opts_zero_tail_accepted(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("writer", "--out", "5", NULL);
  new_run_opts n;
  memset(&n, 0, sizeof n);
  n.now.size = sizeof n;
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &n.now, &r), 0);
  assert_true(r->ok);
  assert_int_equal(r->out.len, 5);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
}

/* A command whose only effect is creating `marker`. */
static cu_cmd *touch_cmd(char *marker) {
  int fd = mkstemp(marker);
  assert_true(fd >= 0);
  close(fd);
  unlink(marker);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(NULL, CU_TOUCH, &cmd), 0);
  assert_int_equal(cu_cmd_arg(cmd, marker), 0);
  return cmd;
}

static void assert_nothing_ran(const char *marker, int events) {
  struct stat st;
  assert_int_not_equal(stat(marker, &st), 0);
  assert_int_equal(events, 0);
  cut_assert_no_children();
}

static void test_new_run_opts_nonzero_tail_rejected(void **state) {
  (void)state;
  char marker[] = "/tmp/cu-abi-XXXXXX";
  cu_cmd *cmd = touch_cmd(marker);
  int events = 0;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(count_event, &events, 0, NULL), 0);
  new_run_opts n;
  memset(&n, 0, sizeof n);
  n.now.size = sizeof n;
  n.future = 1;
  int fds = cut_fd_count();
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &n.now, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(),
                         "cu_run_opts has fields this libcuprum does not "
                         "know (built against a newer cuprum)"));
  assert_non_null(r); /* the result still says what happened */
  assert_int_equal(r->error, CU_EINVAL);
  assert_int_equal(r->pid, 0);
  r = cu_result_free(r);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, &n.now, &t), CU_EINVAL);
  assert_null(t);
  cu_loop_free(loop);
  /* As a pipeline's run options, and as a batch item's. */
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, cmd, cmd, NULL), 0);
  cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
  po.run = &n.now;
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, &po, &pr), CU_EINVAL);
  assert_int_equal(pr->error, CU_EINVAL);
  pr = cu_pipeline_result_free(pr);
  cu_batch_item items[] = {{.cmd = cmd, .opts = &n.now}};
  cu_parallel_result *br = NULL;
  assert_int_equal(cu_parallel_run(items, 1, NULL, &br), CU_EINVAL);
  assert_null(br);
  assert_non_null(strstr(cu_last_error(), "item 0"));
  cu_pipeline_free(p);
  cu_scope_pop();
  assert_int_equal(cut_fd_count(), fds);
  assert_nothing_ran(marker, events);
  cu_cmd_free(cmd);
}

static void test_size_zero_rejected_naming_the_init(void **state) {
  (void)state;
  char marker[] = "/tmp/cu-abi-XXXXXX";
  cu_cmd *cmd = touch_cmd(marker);
  int events = 0;
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_observe(count_event, &events, 0, NULL), 0);
  cu_run_opts zero;
  memset(&zero, 0, sizeof zero);
  zero.timeout_ms = 1000; /* forgot CU_RUN_OPTS_INIT */
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &zero, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_RUN_OPTS_INIT"));
  r = cu_result_free(r);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, cmd, cmd, NULL), 0);
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, &(cu_pipeline_opts){.policy = 0}, &pr),
                   CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_PIPELINE_OPTS_INIT"));
  pr = cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_batch_item items[] = {{.cmd = cmd}};
  cu_parallel_result *br = NULL;
  assert_int_equal(
      cu_parallel_run(items, 1, &(cu_parallel_opts){.limit = 1}, &br),
      CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_PARALLEL_OPTS_INIT"));
  assert_null(br);
  cu_scope_pop();
  assert_nothing_ran(marker, events);
  cu_cmd_free(cmd);
}

/* The other options structs follow the same rule through the same helper:
 * size 0 names the INIT, a non-zero unknown tail is refused, a zero one is
 * accepted, and nothing happens on refusal. */
static void test_every_options_struct_is_versioned(void **state) {
  (void)state;
  struct {
    cu_scope_config c;
    uint64_t future;
  } scope = {.c = CU_SCOPE_CONFIG_INIT, .future = 7};
  scope.c.size = sizeof scope;
  assert_int_equal(cu_scope_push(&scope.c), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "cu_scope_config has fields"));
  assert_int_equal(cu_scope_depth(), 0);
  scope.future = 0;
  assert_int_equal(cu_scope_push(&scope.c), 0);
  assert_int_equal(cu_scope_pop(), 0);
  assert_int_equal(cu_scope_push(&(cu_scope_config){.timeout_ms = 5}),
                   CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_SCOPE_CONFIG_INIT"));

  struct {
    cu_log_opts o;
    uint64_t future;
  } log = {.o = CU_LOG_OPTS_INIT, .future = 1};
  log.o.size = sizeof log;
  cu_hook *h = NULL;
  assert_int_equal(cu_log_attach(&log.o, &h), CU_EINVAL);
  assert_null(h);
  assert_non_null(strstr(cu_last_error(), "cu_log_opts has fields"));
  assert_int_equal(cu_log_attach(&(cu_log_opts){.format = CU_LOG_JSON}, &h),
                   CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_LOG_OPTS_INIT"));

  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  struct {
    cu_project_spec s;
    uint64_t future;
  } spec = {.s = CU_PROJECT_SPEC_INIT, .future = 1};
  spec.s.size = sizeof spec;
  spec.s.name = "p";
  assert_int_equal(cu_catalogue_add_project(cat, &spec.s), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "cu_project_spec has fields"));
  assert_null(cu_catalogue_project(cat, "p"));
  assert_int_equal(
      cu_catalogue_add_project(cat, &(cu_project_spec){.name = "p"}),
      CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_PROJECT_SPEC_INIT"));
  spec.future = 0;
  assert_int_equal(cu_catalogue_add_project(cat, &spec.s), 0);
  assert_non_null(cu_catalogue_project(cat, "p"));
  cat = cu_catalogue_unref(cat);

  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "abc", 3), 3);
  close(p[1]);
  int q[2];
  assert_int_equal(pipe(q), 0);
  struct {
    cu_pump_opts o;
    uint64_t future;
  } pump = {.o = CU_PUMP_OPTS_INIT, .future = 1};
  pump.o.size = sizeof pump;
  uint64_t moved = 0;
  assert_int_equal(cu_pump(p[0], q[1], &pump.o, &moved), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "cu_pump_opts has fields"));
  assert_int_equal(
      cu_pump(p[0], q[1], &(cu_pump_opts){.buffer_size = 1}, &moved),
      CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_PUMP_OPTS_INIT"));
  char *data = NULL;
  struct {
    cu_consume_opts o;
    uint64_t future;
  } consume = {.o = CU_CONSUME_OPTS_INIT, .future = 1};
  consume.o.size = sizeof consume;
  assert_int_equal(cu_consume(p[0], &consume.o, &data, NULL, NULL), CU_EINVAL);
  assert_null(data);
  consume.future = 0;
  assert_int_equal(cu_consume(p[0], &consume.o, &data, NULL, NULL), 0);
  assert_string_equal(data, "abc"); /* nothing was read by the refusals */
  free(data);
  close(p[0]);
  close(q[0]);
  close(q[1]);
}

/* Results: a caller built against an older header reads the fields it
 * knows at the same offsets (fields are only appended). */
typedef struct old_result {
  int error;
  int exit_code;
  int term_signal;
  pid_t pid;
  cu_bytes out;
  cu_bytes err;
} old_result;

typedef struct old_pipeline_result {
  size_t n_stages;
  cu_result **stages;
  int fail_index;
} old_pipeline_result;

typedef struct old_parallel_result {
  size_t n_items;
  cu_item_result **items;
} old_parallel_result;

static void test_results_read_through_the_stable_prefix(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("writer", "--out", "4", "--err", "2", NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  const old_result *old = (const old_result *)r;
  assert_int_equal(old->exit_code, 0);
  assert_int_equal(old->pid, r->pid);
  assert_int_equal(old->out.len, 4);
  assert_int_equal(old->err.len, 2);
  /* Accessors take the const pointer an old caller has. */
  const cu_result *cr = r;
  size_t len = 0;
  assert_string_equal(cu_result_text_len(cr, CU_STDOUT, &len), r->out.data);
  assert_int_equal(len, 4);
  r = cu_result_free(r);
  assert_null(r);

  cu_cmd *e = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, cmd, e, NULL), 0);
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, NULL, &pr), 0);
  const old_pipeline_result *op = (const old_pipeline_result *)pr;
  assert_int_equal(op->n_stages, 2);
  assert_int_equal(op->fail_index, -1);
  assert_int_equal(((const old_result *)op->stages[1])->out.len, 4);
  pr = cu_pipeline_result_free(pr);

  cu_batch_item items[] = {{.cmd = cmd}, {.pipeline = p}};
  cu_parallel_result *br = NULL;
  assert_int_equal(cu_parallel_run(items, 2, NULL, &br), 0);
  const old_parallel_result *ob = (const old_parallel_result *)br;
  assert_int_equal(ob->n_items, 2);
  assert_int_equal(((const old_result *)ob->items[0]->result)->out.len, 4);
  assert_int_equal(ob->items[1]->pipeline->n_stages, 2);
  br = cu_parallel_result_free(br);
  cu_pipeline_free(p);
  cu_cmd_free(e);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

/* The text view is cached behind a const pointer: concurrent first calls
 * from several threads must agree and not race (TSan checks). */
#define TEXT_THREADS 4
static void *read_text(void *arg) {
  return (void *)cu_result_text((const cu_result *)arg, CU_STDOUT);
}

static void test_text_cache_is_thread_safe(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("writer", "--out", "100000", NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  pthread_t th[TEXT_THREADS];
  for (int i = 0; i < TEXT_THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, read_text, r), 0);
  void *views[TEXT_THREADS];
  for (int i = 0; i < TEXT_THREADS; i++)
    pthread_join(th[i], &views[i]);
  for (int i = 0; i < TEXT_THREADS; i++)
    assert_ptr_equal(views[i], views[0]);
  assert_ptr_equal(cu_result_text(r, CU_STDOUT), views[0]);
  assert_int_equal(strlen(views[0]), 100000);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
}

/* The same mistake gets the same code everywhere: a NULL required
 * argument is CU_EINVAL, whichever function it is given to. */
static void test_null_arguments_are_einval(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("echoer", NULL);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_result *r = NULL;
  const int codes[] = {
      cu_run(NULL, NULL, &r),
      cu_run(cmd, NULL, NULL),
      cu_run_args(CU_TRUE, NULL, NULL, NULL),
      cu_cmd_new(NULL, CU_TRUE, NULL),
      cu_cmd_arg(cmd, NULL),
      cu_cmd_render(NULL, NULL),
      cu_loop_new(NULL),
      cu_loop_spawn(NULL, cmd, NULL, NULL),
      cu_loop_spawn_pipeline(loop, NULL, NULL, NULL),
      cu_loop_step(NULL, 0),
      cu_loop_run(NULL),
      cu_task_wait(NULL, NULL),
      cu_pipeline_new(NULL),
      cu_pipeline_add(NULL, cmd),
      cu_pipeline_of(NULL, cmd, (const cu_cmd *)NULL),
      cu_pipeline_run(NULL, NULL, NULL),
      cu_parallel_run(NULL, 1, NULL, NULL),
      cu_cancel_new(NULL),
      cu_catalogue_new(NULL),
      cu_catalogue_default(NULL),
      cu_before_hook(NULL, NULL, NULL),
      cu_after_hook(NULL, NULL, NULL),
      cu_observe(NULL, NULL, 0, NULL),
      cu_cmd_before_hook(NULL, NULL, NULL, NULL),
      cu_hook_set_name(NULL, "x"),
      cu_event_format(NULL, CU_LOG_JSON, NULL),
      cu_stream_backend_parse(NULL, NULL),
      cu_stream_backend_active(NULL),
      cu_line_splitter_new(NULL, NULL, NULL),
      cu_consume(0, NULL, NULL, NULL, NULL),
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i] != CU_EINVAL)
      fail_msg("call %zu returned %s, not EINVAL", i, cu_err_name(codes[i]));
  r = cu_result_free(r);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_old_run_opts_work_and_new_fields_default),
    cmocka_unit_test(test_new_run_opts_zero_tail_accepted),
    cmocka_unit_test(test_new_run_opts_nonzero_tail_rejected),
    cmocka_unit_test(test_size_zero_rejected_naming_the_init),
    cmocka_unit_test(test_every_options_struct_is_versioned),
    cmocka_unit_test(test_results_read_through_the_stable_prefix),
    cmocka_unit_test(test_text_cache_is_thread_safe),
    cmocka_unit_test(test_null_arguments_are_einval),
};

CU_TEST_MAIN(tests)
