/* SPDX-License-Identifier: MIT */
/*
 * Real-process tests of the scoped context: every event phase and field,
 * line events on demand, noise flags, unsafe marking, veto and allowlist
 * refusals that spawn nothing, failing observers that leak nothing, scope
 * defaults, the `set -x` echo, the logging hook, and tasks that keep the
 * context of the thread that submitted them.
 * ctest-labels: threads
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- recorder */

typedef struct rec {
  cu_event_phase phase;
  uint64_t exec_id;
  pid_t pid;
  int64_t mono_ns;
  int64_t wall_s;
  char line[64];
  size_t line_len;
  unsigned flags;
  bool noise;
  bool unsafe;
  uint64_t bytes;
  int exit_code;
  int term_signal;
  int64_t duration_ns;
  int error;
  int err_no;
  char program[32];
  char path[256];
  size_t argc;
  char argv_last[32];
  char cwd[64];
  char env[128];  /* "A=1;B=<unset>;" */
  char tags[256]; /* "k=v;..." */
  char project[32];
  int stage;
  int stages;
} rec;

typedef struct recorder {
  pthread_mutex_t mu;
  rec ev[128];
  int n;
  int fail_on; /* phase on which the observer returns an error (0: none) */
} recorder;

#define RECORDER_INIT {.mu = PTHREAD_MUTEX_INITIALIZER}

static void cat_pair(char *buf, size_t len, const char *k, const char *v) {
  size_t used = strlen(buf);
  snprintf(buf + used, len - used, "%s=%s;", k, v ? v : "<unset>");
}

static void copy_event(rec *r, const cu_event *ev) {
  memset(r, 0, sizeof *r);
  r->phase = ev->phase;
  r->exec_id = ev->exec_id;
  r->pid = ev->pid;
  r->mono_ns = (int64_t)ev->mono.tv_sec * 1000000000LL + ev->mono.tv_nsec;
  r->wall_s = ev->wall.tv_sec;
  if (ev->line) {
    r->line_len = ev->line_len;
    snprintf(r->line, sizeof r->line, "%.*s", (int)ev->line_len, ev->line);
  }
  r->flags = ev->line_flags;
  r->noise = ev->noise;
  r->unsafe = ev->unsafe;
  r->bytes = ev->bytes;
  r->exit_code = ev->exit_code;
  r->term_signal = ev->term_signal;
  r->duration_ns = ev->duration_ns;
  r->error = ev->error;
  r->err_no = ev->err_no;
  snprintf(r->program, sizeof r->program, "%s", ev->program);
  snprintf(r->path, sizeof r->path, "%s", ev->path ? ev->path : "");
  r->argc = ev->n_argv;
  snprintf(r->argv_last, sizeof r->argv_last, "%s", ev->argv[ev->n_argv - 1]);
  snprintf(r->cwd, sizeof r->cwd, "%s", ev->cwd ? ev->cwd : "");
  for (size_t i = 0; i < ev->n_env; i++)
    cat_pair(r->env, sizeof r->env, ev->env[i].name, ev->env[i].value);
  for (size_t i = 0; i < ev->n_tags; i++)
    cat_pair(r->tags, sizeof r->tags, ev->tags[i].key, ev->tags[i].value);
  snprintf(r->project, sizeof r->project, "%s",
           ev->project ? cu_project_name(ev->project) : "");
  r->stage = ev->stage_index;
  r->stages = ev->n_stages;
}

static int record_fn(void *data, const cu_event *ev) {
  recorder *rc = data;
  pthread_mutex_lock(&rc->mu);
  if (rc->n < (int)(sizeof rc->ev / sizeof rc->ev[0]))
    copy_event(&rc->ev[rc->n++], ev);
  pthread_mutex_unlock(&rc->mu);
  return rc->fail_on && (int)ev->phase == rc->fail_on ? -1 : 0;
}

static const rec *find(const recorder *r, cu_event_phase phase) {
  for (int i = 0; i < r->n; i++)
    if (r->ev[i].phase == phase)
      return &r->ev[i];
  return NULL;
}

static int count(const recorder *r, cu_event_phase phase) {
  int n = 0;
  for (int i = 0; i < r->n; i++)
    n += r->ev[i].phase == phase;
  return n;
}

static void observe_into(recorder *r, unsigned flags, cu_hook **ret) {
  assert_int_equal(cu_observe(record_fn, r, flags, ret), 0);
}

static void run_ok(cu_cmd *cmd, const cu_run_opts *opts, cu_result **res) {
  int rc = cu_run(cmd, opts, res);
  if (rc != 0)
    fail_msg("cu_run: %s", cu_last_error());
}

/* ------------------------------------------------------------- phases */

static void test_events_of_a_plain_run(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  cu_env_var scope_env[] = {{"CU_SCOPE_VAR", "s"}};
  cu_tag scope_tags[] = {{"team", "ops"}};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .env = scope_env,
                                       .n_env = 1,
                                       .tags = scope_tags,
                                       .n_tags = 1}),
      0);
  observe_into(&r, CU_OBSERVE_LINES, NULL);
  cu_cmd *cmd = cut_cmd("echoer", NULL);
  cu_env_var env[] = {{"CU_CALL_VAR", "c"}, {"CU_GONE", NULL}};
  cu_tag tags[] = {{"job", "t1"}};
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .in = {.mode = CU_STDIN_BYTES, .data = "one\r\ntwo", .len = 8},
      .env = env,
      .n_env = 2,
      .tags = tags,
      .n_tags = 1,
      .cwd = "/tmp"};
  cu_result *res = NULL;
  run_ok(cmd, &o, &res);
  assert_true(res->ok);
  cu_scope_pop();

  assert_true(r.n >= 6);
  assert_int_equal(r.ev[0].phase, CU_EV_PLAN);
  assert_int_equal(r.ev[0].pid, 0);
  assert_int_equal(r.ev[1].phase, CU_EV_START);
  /* EXIT ends the non-line events. (Line events may still follow it: the
   * runtime reports the exit when the pidfd fires, which can be before the
   * pipes reach EOF; seen under valgrind.) */
  int last = r.n - 1;
  while (last > 0 && (r.ev[last].phase == CU_EV_STDOUT_LINE ||
                      r.ev[last].phase == CU_EV_STDERR_LINE))
    last--;
  assert_int_equal(r.ev[last].phase, CU_EV_EXIT);
  for (int i = 0; i < r.n; i++) {
    const rec *e = &r.ev[i];
    assert_true(e->exec_id != 0);
    assert_int_equal(e->exec_id, r.ev[0].exec_id);
    if (i >= 1)
      assert_int_equal(e->pid, res->pid);
    if (i > 0)
      assert_true(e->mono_ns >= r.ev[i - 1].mono_ns);
    assert_true(e->wall_s > 1000000000);
    assert_string_equal(e->program, "echoer");
    assert_string_equal(e->path, cut_helper("echoer"));
    assert_int_equal(e->argc, 1); /* recorded from n_argv */
    assert_string_equal(e->cwd, "/tmp");
    /* the overlay only, scope first, never the whole environment */
    assert_string_equal(e->env, "CU_SCOPE_VAR=s;CU_CALL_VAR=c;CU_GONE=<unset>;");
    assert_non_null(strstr(e->tags, "team=ops;"));
    assert_non_null(strstr(e->tags, "job=t1;"));
    assert_non_null(strstr(e->tags, "project=test-helpers;"));
    assert_string_equal(e->project, "test-helpers");
    assert_false(e->unsafe);
    assert_int_equal(e->stage, 0);
    assert_int_equal(e->stages, 1);
  }
  /* lines: CRLF split once, the last one partial */
  assert_int_equal(count(&r, CU_EV_STDOUT_LINE), 2);
  const rec *l1 = find(&r, CU_EV_STDOUT_LINE);
  assert_string_equal(l1->line, "one");
  assert_int_equal(l1->flags, 0);
  assert_string_equal(l1[1].phase == CU_EV_STDOUT_LINE ? l1[1].line : "",
                      "two");
  assert_int_equal(l1[1].flags & CU_LINE_PARTIAL, CU_LINE_PARTIAL);
  const rec *in = find(&r, CU_EV_STDIN);
  assert_non_null(in);
  assert_int_equal(in->bytes, 8);
  const rec *ex = &r.ev[last];
  assert_int_equal(ex->exit_code, 0);
  assert_int_equal(ex->term_signal, 0);
  assert_true(ex->duration_ns > 0);
  assert_null(find(&r, CU_EV_SPAWN_FAILED));
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_timeout_escalation_events(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  cu_cmd *cmd = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  cu_run_opts o = {.size = sizeof(cu_run_opts), .timeout_ms = cut_after_start_ms(100), .grace_ms = 100,
                   .in = {.mode = CU_STDIN_NULL}};
  cu_result *res = NULL;
  run_ok(cmd, &o, &res);
  cu_scope_pop();
  assert_true(res->timed_out);
  const rec *t = find(&r, CU_EV_TIMEOUT), *term = find(&r, CU_EV_TERM_SENT),
            *kill = find(&r, CU_EV_KILL_SENT), *ex = find(&r, CU_EV_EXIT);
  assert_non_null(t);
  assert_non_null(term);
  assert_non_null(kill);
  assert_non_null(ex);
  assert_true(t < term && term < kill && kill < ex);
  assert_int_equal(ex->term_signal, SIGKILL);
  assert_int_equal(ex->exit_code, -1);
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_cancel_events(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = cut_cmd("sleeper", "10000", NULL);
  cu_task *task = NULL;
  cu_run_opts o = {.size = sizeof(cu_run_opts), .in = {.mode = CU_STDIN_NULL}};
  assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
  cu_task_cancel(task);
  const cu_result *res = NULL;
  assert_int_equal(cu_task_wait(task, &res), 0);
  cu_scope_pop();
  assert_true(res->cancelled);
  const rec *c = find(&r, CU_EV_CANCEL), *term = find(&r, CU_EV_TERM_SENT);
  assert_non_null(c);
  assert_non_null(term);
  assert_true(c < term);
  assert_int_equal(r.ev[r.n - 1].phase, CU_EV_EXIT);
  assert_int_equal(r.ev[r.n - 1].term_signal, SIGTERM);
  cu_task_free(task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static cu_catalogue *pinned_catalogue(const char *program, const char *path,
                                      const char *const *noise,
                                      size_t n_noise) {
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  cu_program_entry e = {CU_PROGRAM(program), path};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "noisy",
                          .programs = &e,
                          .n_programs = 1,
                          .noise_rules = noise,
                          .n_noise_rules = n_noise};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  return cat;
}

static void test_spawn_failure_event(void **state) {
  (void)state;
  char path[] = "/tmp/cu_observe_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  chmod(path, 0644); /* exists, not executable */
  cu_catalogue *cat = pinned_catalogue("notexec", path, NULL, 0);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(cat, CU_PROGRAM("notexec"), &cmd), 0);
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  cu_result *res = NULL;
  int rc = cu_run(cmd, NULL, &res);
  cu_scope_pop();
  assert_int_equal(rc, CU_EACCES);
  const rec *f = find(&r, CU_EV_SPAWN_FAILED);
  assert_non_null(f);
  assert_int_equal(f->error, CU_EACCES);
  assert_int_equal(f->err_no, EACCES);
  assert_int_equal(f->pid, 0);
  assert_string_equal(f->project, "noisy");
  assert_null(find(&r, CU_EV_START));
  assert_null(find(&r, CU_EV_EXIT));
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
  unlink(path);
  cut_assert_no_children();
}

static void test_stdin_error_event(void **state) {
  (void)state;
  /* the child exits without reading: feeding it fails with EPIPE */
  static char big[4 << 20];
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .in = {.mode = CU_STDIN_BYTES, .data = big, .len = sizeof big}};
  cu_result *res = NULL;
  run_ok(cmd, &o, &res);
  cu_scope_pop();
  const rec *e = find(&r, CU_EV_STDIN_ERROR);
  assert_non_null(e);
  assert_true(e->error < 0);
  assert_int_equal(e->err_no, EPIPE);
  assert_true(e->bytes < sizeof big);
  res = cu_result_free(res);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------- lines */

static int count_lines(void *data, const cu_event *ev) {
  if (ev->phase == CU_EV_STDOUT_LINE || ev->phase == CU_EV_STDERR_LINE)
    (*(int *)data)++;
  return 0;
}

static void test_line_events_only_for_line_observers(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  int lines = 0;
  cu_cmd *cmd = cut_cmd("writer", "--out", "1300", "--err", "130", "--text",
                        NULL);
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL); /* no lines asked for */
  cu_result *res = NULL;
  run_ok(cmd, NULL, &res);
  assert_int_equal(count(&r, CU_EV_STDOUT_LINE), 0);
  assert_non_null(find(&r, CU_EV_EXIT));
  assert_int_equal(res->out.len, 1300); /* capture unaffected */
  res = cu_result_free(res);
  assert_int_equal(cu_observe(count_lines, &lines, CU_OBSERVE_LINES, NULL), 0);
  run_ok(cmd, NULL, &res);
  assert_int_equal(lines, 110);
  assert_int_equal(count(&r, CU_EV_STDOUT_LINE), 0);
  assert_int_equal(res->out.len, 1300);
  res = cu_result_free(res);
  cu_scope_pop();
  cu_cmd_free(cmd);
}

static void test_noise_flag(void **state) {
  (void)state;
  const char *const rules[] = {"^Counting objects"};
  cu_catalogue *cat = pinned_catalogue("echoer", cut_helper("echoer"), rules,
                                       1);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(cat, CU_PROGRAM("echoer"), &cmd), 0);
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, CU_OBSERVE_LINES | CU_OBSERVE_NOISE, NULL);
  const char text[] = "Counting objects: 5\nreal line\n";
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .in = {.mode = CU_STDIN_BYTES, .data = text, .len = sizeof text - 1}};
  cu_result *res = NULL;
  run_ok(cmd, &o, &res);
  cu_scope_pop();
  assert_int_equal(count(&r, CU_EV_STDOUT_LINE), 2);
  const rec *l = find(&r, CU_EV_STDOUT_LINE);
  assert_true(l[0].noise);
  assert_false(l[1].noise);
  assert_string_equal(l[1].line, "real line");
  res = cu_result_free(res);

  /* Without CU_OBSERVE_NOISE nobody pays for the regex: noise is false. */
  recorder plain = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&plain, CU_OBSERVE_LINES, NULL);
  run_ok(cmd, &o, &res);
  cu_scope_pop();
  assert_int_equal(count(&plain, CU_EV_STDOUT_LINE), 2);
  assert_false(find(&plain, CU_EV_STDOUT_LINE)[0].noise);
  /* The exit event comes after the stage's last line. */
  int last_line = -1, exit_at = -1;
  for (int i = 0; i < plain.n; i++) {
    if (plain.ev[i].phase == CU_EV_STDOUT_LINE)
      last_line = i;
    if (plain.ev[i].phase == CU_EV_EXIT)
      exit_at = i;
  }
  assert_true(last_line >= 0);
  assert_true(exit_at > last_line);
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
}

/* ------------------------------------------------------------- refusals */

static void keep_line(void *data, const char *line) {
  snprintf(data, 512, "%s", line);
}

static void test_unsafe_commands_are_marked(void **state) {
  (void)state;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new(cut_helper("argvdump"), &cmd), 0);
  assert_int_equal(cu_cmd_arg(cmd, "x"), 0);
  recorder r = RECORDER_INIT;
  char warning[512] = "";
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .warn_sink = keep_line,
                                       .warn_sink_data = warning}),
      0);
  observe_into(&r, CU_OBSERVE_LINES, NULL);
  cu_result *res = NULL;
  run_ok(cmd, NULL, &res); /* warn (the default) */
  assert_true(res->ok);
  assert_non_null(strstr(warning, "unsafe command"));
  assert_non_null(strstr(warning, cut_helper("argvdump")));
  assert_true(r.n >= 4);
  for (int i = 0; i < r.n; i++) {
    assert_true(r.ev[i].unsafe);
    assert_string_equal(r.ev[i].project, "");
    assert_null(strstr(r.ev[i].tags, "project="));
  }
  res = cu_result_free(res);
  /* deny: refused before anything is spawned or observed */
  int before = r.n;
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  assert_int_equal(cu_run(cmd, NULL, &res), CU_EPOLICY);
  assert_int_equal(res->pid, 0);
  assert_int_equal(r.n, before);
  res = cu_result_free(res);
  cu_scope_pop();
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static int veto(void *data, const cu_cmd *cmd) {
  (void)cmd;
  (*(int *)data)++;
  return 1;
}

static void test_refusals_spawn_nothing(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  int vetoes = 0;
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_program only[] = {CU_LS};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, only, 1}}),
      0);
  observe_into(&r, 0, NULL);
  cu_result *res = NULL;
  assert_int_equal(cu_run(cmd, NULL, &res), CU_EFORBIDDEN);
  assert_non_null(strstr(cu_last_error(), "'exitcode'"));
  assert_int_equal(res->pid, 0);
  res = cu_result_free(res);
  cu_scope_pop();
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  assert_int_equal(cu_before_hook(veto, &vetoes, NULL), 0);
  assert_int_equal(cu_run(cmd, NULL, &res), CU_EVETO);
  assert_int_equal(vetoes, 1);
  res = cu_result_free(res);
  cu_loop *loop = NULL;
  cu_task *task = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  assert_int_equal(cu_loop_spawn(loop, cmd, NULL, &task), CU_EVETO);
  assert_int_equal(vetoes, 2);
  cu_loop_free(loop);
  cu_scope_pop();
  assert_int_equal(r.n, 0); /* not even a plan event */
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_failing_observer_leaks_no_child(void **state) {
  (void)state;
  for (int phase = CU_EV_PLAN; phase <= CU_EV_EXIT; phase++) {
    recorder r = RECORDER_INIT;
    r.fail_on = phase;
    cu_hook *h = NULL;
    assert_int_equal(cu_scope_push(NULL), 0);
    observe_into(&r, CU_OBSERVE_LINES, &h);
    cu_cmd *cmd = cut_cmd("argvdump", "a", NULL);
    cu_result *res = NULL;
    run_ok(cmd, NULL, &res);
    assert_true(res->ok);
    assert_non_null(strstr(res->out.data, "1:a"));
    if (phase != CU_EV_STDIN && phase != CU_EV_STDIN_ERROR &&
        phase != CU_EV_STDERR_LINE)
      assert_true(cu_hook_failures(h) >= 1);
    assert_non_null(find(&r, CU_EV_EXIT)); /* kept observing */
    res = cu_result_free(res);
    cu_cmd_free(cmd);
    cu_hook_unref(h);
    cu_scope_pop();
    cut_assert_no_children();
  }
}

/* ------------------------------------------------------------- hooks */

static int after_exit(void *data, const cu_cmd *cmd, const cu_result *res) {
  (void)cmd;
  *(int *)data = res->exit_code * 10 + (res->pid > 0);
  return 0;
}

static void test_after_hooks_see_the_final_result(void **state) {
  (void)state;
  int scope_seen = 0, cmd_seen = 0;
  cu_cmd *cmd = cut_cmd("exitcode", "3", NULL);
  assert_int_equal(cu_cmd_after_hook(cmd, after_exit, &cmd_seen, NULL), 0);
  assert_int_equal(cu_scope_push(NULL), 0);
  assert_int_equal(cu_after_hook(after_exit, &scope_seen, NULL), 0);
  cu_result *res = NULL;
  run_ok(cmd, NULL, &res);
  assert_int_equal(res->exit_code, 3);
  assert_int_equal(scope_seen, 31);
  assert_int_equal(cmd_seen, 31);
  res = cu_result_free(res);
  cu_scope_pop();
  cu_cmd_free(cmd);
}

static void test_scope_defaults_reach_the_run(void **state) {
  (void)state;
  cu_env_var env[] = {{"CU_FROM_SCOPE", "yes"}};
  /* The scope's timeout applies to envdump too: long enough for it to start
   * and print on a loaded machine, far shorter than the sleeper. */
  int64_t timeout = 500 + cut_slack_ms();
  assert_int_equal(cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                       .timeout_ms = timeout, .grace_ms = CU_GRACE_NONE,
                       .env = env, .n_env = 1}),
                   0);
  cu_cmd *envcmd = cut_cmd("envdump", "CU_FROM_SCOPE", NULL);
  cu_result *res = NULL;
  run_ok(envcmd, NULL, &res);
  assert_string_equal(res->out.data, "CU_FROM_SCOPE=yes\n");
  res = cu_result_free(res);
  cu_cmd *sleeper = cut_cmd("sleeper", "30000", NULL);
  int64_t t0 = cut_now_ms();
  cu_run_opts o = {.size = sizeof(cu_run_opts), .in = {.mode = CU_STDIN_NULL}};
  run_ok(sleeper, &o, &res);
  assert_true(res->timed_out);
  assert_true(cut_now_ms() - t0 < timeout + 2000 + cut_slack_ms());
  res = cu_result_free(res);
  cu_scope_pop();
  cu_cmd_free(envcmd);
  cu_cmd_free(sleeper);
}

static void test_echo_command_and_output(void **state) {
  (void)state;
  char line[512] = "";
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){
          .size = sizeof(cu_scope_config),
          .echo = {.cmd = CU_SWITCH_ON, .output = CU_SWITCH_ON},
          .echo_sink = keep_line,
          .echo_sink_data = line}),
      0);
  cu_cmd *cmd = cut_cmd("argvdump", "a b", NULL);
  char echoed[256] = "";
  int pipefd[2];
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  cu_run_opts opts = {.size = sizeof(cu_run_opts),
                      .out = {.mode = CU_STREAM_CAPTURE, .echo_fd = pipefd[1]}};
  cu_result *res = NULL;
  run_ok(cmd, &opts, &res);
  close(pipefd[1]);
  ssize_t n = read(pipefd[0], echoed, sizeof echoed - 1);
  close(pipefd[0]);
  assert_string_equal(line, "+ argvdump 'a b'");
  /* echo_output turned CAPTURE into TEE: echoed and captured */
  assert_true(n > 0);
  assert_string_equal(echoed, res->out.data);
  assert_non_null(strstr(res->out.data, "3:a b"));
  res = cu_result_free(res);
  cu_scope_pop();
  cu_cmd_free(cmd);
}

static void test_log_hook_on_real_runs(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_log_opts lo = {.size = sizeof(cu_log_opts),
                    .format = CU_LOG_JSON,
                    .sink = CU_LOG_SINK_FILE,
                    .file = f};
  assert_int_equal(cu_log_attach(&lo, NULL), 0);
  cu_cmd *cmd = cut_cmd("exitcode", "4", NULL);
  cu_result *res = NULL;
  run_ok(cmd, NULL, &res);
  res = cu_result_free(res);
  cu_cmd *w = cut_cmd("writer", "--out", "100", "--err", "7", NULL);
  run_ok(w, NULL, &res);
  cu_scope_pop();
  fclose(f);
  char pid[64];
  snprintf(pid, sizeof pid, "\"pid\":%d", (int)res->pid);
  res = cu_result_free(res);
  assert_non_null(strstr(buf, "{\"level\":\"info\",\"event\":\"start\""));
  assert_non_null(strstr(buf, "{\"level\":\"warn\",\"event\":\"exit\""));
  assert_non_null(strstr(buf, "\"exit_code\":4,\"signal\":0"));
  assert_non_null(strstr(buf, "\"stdout_bytes\":100,\"stderr_bytes\":7}"));
  int records = 0;
  for (char *p = buf; (p = strchr(p, '\n')); p++)
    records++;
  assert_int_equal(records, 4);
  free(buf);
  cu_cmd_free(cmd);
  cu_cmd_free(w);
}

static void test_pipeline_stage_fields(void **state) {
  (void)state;
  recorder r = RECORDER_INIT;
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&r, 0, NULL);
  cu_cmd *a = cut_cmd("argvdump", "x", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, NULL, &pr), 0);
  cu_scope_pop();
  assert_int_equal(count(&r, CU_EV_START), 2);
  assert_int_equal(count(&r, CU_EV_EXIT), 2);
  uint64_t ids[2] = {0, 0};
  for (int i = 0; i < r.n; i++) {
    assert_int_equal(r.ev[i].stages, 2);
    assert_true(r.ev[i].stage == 0 || r.ev[i].stage == 1);
    if (r.ev[i].phase == CU_EV_START)
      ids[r.ev[i].stage] = r.ev[i].exec_id;
  }
  assert_true(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1]);
  pr = cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
}

/* ------------------------------------------------------------- tasks */

typedef struct submit {
  cu_loop *loop;
  const char *tag;
  recorder *rec;
  cu_task *task;
  int rc;
  cu_cmd *cmd; /* borrowed by the task: freed after it ends */
  int inner_events;
} submit;

static int count_events(void *data, const cu_event *ev) {
  (void)ev;
  __atomic_add_fetch((int *)data, 1, __ATOMIC_RELAXED);
  return 0;
}

/* Submit from inside two nested scopes (the inner one narrowing the
 * allowlist), then leave them and end the thread: the task must keep this
 * thread's context (both observers, both tags, in order) all the same. */
static void *submit_thread(void *arg) {
  submit *s = arg;
  cu_tag outer_tags[] = {{"submitter", s->tag}};
  cu_tag inner_tags[] = {{"level", "inner"}};
  cu_program only[] = {CU_PROGRAM("sleeper")};
  int rc, rc2;
  CU_SCOPE(rc, &(cu_scope_config){.size = sizeof(cu_scope_config),
                                  .tags = outer_tags,
                                  .n_tags = 1}) {
    if (cu_observe(record_fn, s->rec, 0, NULL) != 0)
      return NULL;
    CU_SCOPE(rc2, &(cu_scope_config){.size = sizeof(cu_scope_config),
                                     .tags = inner_tags,
                                     .n_tags = 1,
                                     .allow = {CU_ALLOW_ONLY, only, 1}}) {
      if (cu_observe(count_events, &s->inner_events, 0, NULL) != 0)
        return NULL;
      s->cmd = cut_cmd("sleeper", "50", NULL);
      cu_run_opts o = {.size = sizeof(cu_run_opts),
                       .in = {.mode = CU_STDIN_NULL}};
      s->rc = cu_loop_spawn(s->loop, s->cmd, &o, &s->task);
    }
  }
  return NULL;
}

static void check_submitter(const submit *s) {
  char want[64];
  snprintf(want, sizeof want, "submitter=%s;level=inner;", s->tag);
  assert_non_null(find(s->rec, CU_EV_START));
  assert_non_null(find(s->rec, CU_EV_EXIT));
  uint64_t id = s->rec->ev[0].exec_id;
  for (int i = 0; i < s->rec->n; i++) {
    assert_non_null(strstr(s->rec->ev[i].tags, want));
    assert_int_equal(s->rec->ev[i].exec_id, id);
  }
  /* the inner scope's observer saw the same events */
  assert_int_equal(s->inner_events, s->rec->n);
}

static void test_tasks_keep_the_submitters_context(void **state) {
  (void)state;
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  recorder ra = RECORDER_INIT, rb = RECORDER_INIT, rmain = RECORDER_INIT;
  submit sa = {loop, "A", &ra, NULL, -1, NULL, 0};
  submit sb = {loop, "B", &rb, NULL, -1, NULL, 0};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, submit_thread, &sa), 0);
  pthread_join(ta, NULL);
  assert_int_equal(pthread_create(&tb, NULL, submit_thread, &sb), 0);
  pthread_join(tb, NULL);
  assert_int_equal(sa.rc, 0);
  assert_int_equal(sb.rc, 0);
  /* the driving thread's own scope plays no part in those tasks */
  assert_int_equal(cu_scope_push(NULL), 0);
  observe_into(&rmain, 0, NULL);
  assert_int_equal(cu_loop_run(loop), 0);
  cu_scope_pop();
  assert_int_equal(rmain.n, 0);
  check_submitter(&sa);
  check_submitter(&sb);
  assert_true(ra.ev[0].exec_id != rb.ev[0].exec_id);
  cu_task_free(sa.task);
  cu_task_free(sb.task);
  cu_cmd_free(sa.cmd);
  cu_cmd_free(sb.cmd);
  cu_loop_free(loop);
  cut_assert_no_children();
}

static void test_concurrent_runs_nested_scopes(void **state) {
  (void)state;
  /* Several threads each run inside their own nested scopes at once. */
  enum { N = 6 };
  pthread_t th[N];
  submit s[N];
  recorder recs[N];
  cu_loop *loops[N];
  static const char *const tags[N] = {"t0", "t1", "t2", "t3", "t4", "t5"};
  for (int i = 0; i < N; i++) {
    recs[i] = (recorder)RECORDER_INIT;
    assert_int_equal(cu_loop_new(&loops[i]), 0);
    s[i] = (submit){loops[i], tags[i], &recs[i], NULL, -1, NULL, 0};
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &s[i]), 0);
  for (int i = 0; i < N; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) {
    assert_int_equal(s[i].rc, 0);
    const cu_result *res = NULL;
    assert_int_equal(cu_task_wait(s[i].task, &res), 0);
    assert_non_null(res);
    check_submitter(&s[i]);
    cu_task_free(s[i].task);
    cu_cmd_free(s[i].cmd);
    cu_loop_free(loops[i]);
  }
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_events_of_a_plain_run),
    cmocka_unit_test(test_timeout_escalation_events),
    cmocka_unit_test(test_cancel_events),
    cmocka_unit_test(test_spawn_failure_event),
    cmocka_unit_test(test_stdin_error_event),
    cmocka_unit_test(test_line_events_only_for_line_observers),
    cmocka_unit_test(test_noise_flag),
    cmocka_unit_test(test_unsafe_commands_are_marked),
    cmocka_unit_test(test_refusals_spawn_nothing),
    cmocka_unit_test(test_failing_observer_leaks_no_child),
    cmocka_unit_test(test_after_hooks_see_the_final_result),
    cmocka_unit_test(test_scope_defaults_reach_the_run),
    cmocka_unit_test(test_echo_command_and_output),
    cmocka_unit_test(test_log_hook_on_real_runs),
    cmocka_unit_test(test_pipeline_stage_fields),
    cmocka_unit_test(test_tasks_keep_the_submitters_context),
    cmocka_unit_test(test_concurrent_runs_nested_scopes),
};

CU_TEST_MAIN(tests)
