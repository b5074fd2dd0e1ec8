/* SPDX-License-Identifier: MIT */
/*
 * Event serialization (JSON Lines schema, escaping, logfmt, human) and the
 * logging hook (records, levels, sinks, noise), driven with hand-built
 * events through the runtime contract.
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/ctx.h"
#include "base/internal.h"
#include "catalogue/cmd_int.h"

static const char *const ls_argv[] = {"ls", "-l", "my dir", NULL};

static cu_event base_event(cu_event_phase phase) {
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.phase = phase;
  ev.exec_id = 7;
  ev.program = "ls";
  ev.path = "/usr/bin/ls";
  ev.argv = ls_argv;
  ev.n_argv = 3;
  ev.wall = (struct timespec){.tv_sec = 86400, .tv_nsec = 5};
  ev.mono = (struct timespec){.tv_sec = 2, .tv_nsec = 3};
  ev.pid = 42;
  ev.exit_code = -1;
  ev.n_stages = 1;
  return ev;
}

static char *fmt(const cu_event *ev, cu_log_format f) {
  char *out = NULL;
  assert_int_equal(cu_event_format(ev, f, &out), 0);
  assert_non_null(out);
  assert_null(strchr(out, '\n')); /* one line, always */
  return out;
}

/* ------------------------------------------------------------- schema */

static void test_json_exit_event_exact(void **state) {
  (void)state;
  cu_event ev = base_event(CU_EV_EXIT);
  ev.exit_code = 3;
  ev.duration_ns = 1500;
  ev.cwd = "/tmp";
  cu_env_var env[] = {{"A", "1"}, {"B", NULL}, {"A", "2"}};
  cu_tag tags[] = {{"job", "x"}};
  ev.env = env;
  ev.n_env = 3;
  ev.tags = tags;
  ev.n_tags = 1;
  char *s = fmt(&ev, CU_LOG_JSON);
  assert_string_equal(
      s, "{\"v\":1,\"phase\":\"exit\",\"exec_id\":7,"
         "\"time\":\"1970-01-02T00:00:00.000000005Z\",\"mono_ns\":2000000003,"
         "\"program\":\"ls\",\"path\":\"/usr/bin/ls\","
         "\"argv\":[\"ls\",\"-l\",\"my dir\"],\"cwd\":\"/tmp\","
         "\"env\":{\"B\":null,\"A\":\"2\"},\"pid\":42,\"tags\":{\"job\":\"x\"},"
         "\"project\":null,\"unsafe\":false,\"stage\":0,\"stages\":1,"
         "\"exit_code\":3,\"signal\":0,\"duration_ns\":1500}");
  free(s);
}

static void test_json_phase_fields(void **state) {
  (void)state;
  cu_event ev = base_event(CU_EV_START);
  char *s = fmt(&ev, CU_LOG_JSON);
  assert_null(strstr(s, "exit_code"));
  assert_null(strstr(s, "\"line\""));
  assert_non_null(strstr(s, "\"cwd\":null"));
  assert_non_null(strstr(s, "\"env\":{}"));
  free(s);
  ev = base_event(CU_EV_SPAWN_FAILED);
  ev.pid = 0;
  ev.error = CU_ENOTFOUND;
  ev.err_no = 2;
  s = fmt(&ev, CU_LOG_JSON);
  assert_non_null(strstr(s, "\"error\":\"ENOTFOUND\",\"errno\":2}"));
  assert_non_null(strstr(s, "\"pid\":0"));
  free(s);
  ev = base_event(CU_EV_STDIN);
  ev.bytes = 1024;
  ev.unsafe = true;
  ev.stage_index = 1;
  ev.n_stages = 3;
  s = fmt(&ev, CU_LOG_JSON);
  assert_non_null(strstr(s, "\"unsafe\":true,\"stage\":1,\"stages\":3,"
                            "\"bytes\":1024}"));
  free(s);
  ev = base_event(CU_EV_STDERR_LINE);
  ev.line = "warn";
  ev.line_len = 4;
  ev.line_flags = CU_LINE_PARTIAL;
  ev.noise = true;
  s = fmt(&ev, CU_LOG_JSON);
  assert_non_null(strstr(s, "\"phase\":\"stderr_line\""));
  assert_non_null(strstr(s, "\"line\":\"warn\",\"split\":false,"
                            "\"partial\":true,\"noise\":true}"));
  free(s);
}

static void test_json_escaping(void **state) {
  (void)state;
  static const char line[] = "q\"b\\n\n\t\r\x01\x1f\x7f"
                             "\0z"
                             "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                             "\xff\xc0\xaf\xed\xa0\x80\xe2\x82";
  cu_event ev = base_event(CU_EV_STDOUT_LINE);
  ev.line = line;
  ev.line_len = sizeof line - 1;
  const char *argv[] = {"a\"b", "\x80", NULL};
  ev.argv = argv;
  ev.n_argv = 2;
  char *s = fmt(&ev, CU_LOG_JSON);
  const char *expect_line =
      "\"line\":\"q\\\"b\\\\n\\n\\t\\r\\u0001\\u001f\\u007f\\u0000z"
      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"";
  if (!strstr(s, expect_line))
    fail_msg("escaped line not found in: %s", s);
  assert_non_null(strstr(s, "\"argv\":[\"a\\\"b\",\"\xef\xbf\xbd\"]"));
  /* no raw control byte anywhere */
  for (const char *p = s; *p; p++)
    assert_true((unsigned char)*p >= 0x20);
  free(s);
}

static void test_logfmt(void **state) {
  (void)state;
  cu_event ev = base_event(CU_EV_EXIT);
  ev.exit_code = 0;
  cu_tag tags[] = {{"job", "night run"}, {"k", ""}};
  ev.tags = tags;
  ev.n_tags = 2;
  cu_env_var env[] = {{"X", "a=b"}, {"Y", NULL}};
  ev.env = env;
  ev.n_env = 2;
  char *s = fmt(&ev, CU_LOG_LOGFMT);
  assert_true(strncmp(s, "v=1 phase=exit exec_id=7 "
                         "time=1970-01-02T00:00:00.000000005Z ",
                      60) == 0);
  assert_non_null(strstr(s, " program=ls path=/usr/bin/ls "
                            "argv=\"ls -l my dir\" "));
  assert_null(strstr(s, "cwd=")); /* NULL values are left out */
  assert_non_null(strstr(s, " env.X=\"a=b\" env.Y=<unset> pid=42 "));
  assert_non_null(strstr(s, " tags.job=\"night run\" tags.k=\"\" "));
  assert_non_null(strstr(s, " unsafe=false stage=0 stages=1 exit_code=0 "
                            "signal=0 duration_ns=0"));
  free(s);
}

static void test_human(void **state) {
  (void)state;
  cu_event ev = base_event(CU_EV_EXIT);
  ev.exit_code = 1;
  ev.unsafe = true;
  char *s = fmt(&ev, CU_LOG_HUMAN);
  assert_string_equal(s, "cuprum[7] exit: ls -l my dir (unsafe) pid=42 "
                         "exit_code=1 signal=0 duration_ns=0");
  free(s);
}

/* Names that differ only in bytes that are not UTF-8 are written alike
 * ("\xff" and "\xfe" both as U+FFFD): the JSON object must hold the key
 * once, with the last value, never twice (fuzz_event_json checks it). */
static void test_json_keys_alike_once_sanitized(void **state) {
  (void)state;
  cu_event ev = base_event(CU_EV_PLAN);
  cu_tag tags[] = {{"\xff", "a"}, {"x", "1"}, {"\xfe", "b"}};
  ev.tags = tags;
  ev.n_tags = 3;
  char *s = fmt(&ev, CU_LOG_JSON);
  assert_non_null(strstr(s, "\"tags\":{\"x\":\"1\",\"\xEF\xBF\xBD\":\"b\"}"));
  free(s);
}

/* A newline or an escape sequence in an argument, a tag or a variable name
 * must not forge a record or drive a terminal in the human and logfmt
 * forms either (fuzz_event_json checks it): such an argument is quoted and
 * escaped, such a key byte becomes '_'. */
static void test_human_and_logfmt_escape_controls(void **state) {
  (void)state;
  static const char *const argv[] = {"printf", "a\nb", "\x1b[31m", "ok",
                                     "caf\xc3\xa9", NULL};
  cu_event ev = base_event(CU_EV_EXIT);
  ev.argv = argv;
  ev.n_argv = 5;
  cu_tag tags[] = {{"k\nlevel=error x", "v"}};
  ev.tags = tags;
  ev.n_tags = 1;
  char *s = fmt(&ev, CU_LOG_HUMAN);
  assert_true(strncmp(s, "cuprum[7] exit: printf \"a\\nb\" \"\\u001b[31m\" ok "
                         "caf\xc3\xa9 pid=42",
                      strlen("cuprum[7] exit: printf \"a\\nb\" \"\\u001b[31m\" "
                             "ok caf\xc3\xa9 pid=42")) == 0);
  free(s);
  s = fmt(&ev, CU_LOG_LOGFMT);
  assert_non_null(strstr(s, " tags.k_level_error_x=v "));
  assert_null(strchr(s, '\x1b'));
  free(s);
}

static void test_phase_names_and_bad_args(void **state) {
  (void)state;
  static const char *const names[] = {
      "plan", "start", "stdout_line", "stderr_line", "stdin", "stdin_error",
      "exit", "timeout", "cancel", "term_sent", "kill_sent", "spawn_failed"};
  for (int p = CU_EV_PLAN; p <= CU_EV_SPAWN_FAILED; p++)
    assert_string_equal(cu_event_phase_name((cu_event_phase)p),
                        names[p - CU_EV_PLAN]);
  assert_string_equal(cu_event_phase_name((cu_event_phase)0), "unknown");
  assert_string_equal(cu_event_phase_name((cu_event_phase)99), "unknown");
  cu_event ev = base_event(CU_EV_PLAN);
  char *out = NULL;
  assert_int_equal(cu_event_format(NULL, CU_LOG_JSON, &out), CU_EINVAL);
  assert_int_equal(cu_event_format(&ev, (cu_log_format)9, &out), CU_EINVAL);
  assert_int_equal(cu_event_format(&ev, CU_LOG_JSON, NULL), CU_EINVAL);
  assert_null(out);
}

/* ------------------------------------------------------------- log hook */

typedef struct records {
  char text[8][1024];
  cu_log_level level[8];
  int n;
} records;

static void keep_record(void *data, cu_log_level level, const char *rec) {
  records *r = data;
  if (r->n < 8) {
    snprintf(r->text[r->n], sizeof r->text[0], "%s", rec);
    r->level[r->n++] = level;
  }
}

typedef struct fake {
  struct cu_cmd cmd;
  char *argv[3];
} fake;

static void fake_init(fake *f) {
  memset(f, 0, sizeof *f);
  f->argv[0] = (char *)"ls";
  f->argv[1] = (char *)"-l";
  f->cmd.program = CU_PROGRAM("ls");
  f->cmd.argv = f->argv;
  f->cmd.argc = 2;
}

/* Play one run through the context: start, the given lines, after hook. */
static void play_run(const cu_result *res, const char *const *lines,
                     const bool *noise) {
  fake f;
  fake_init(&f);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu_event ev = base_event(CU_EV_START);
  ev.pid = res->pid;
  cu__ctx_emit(ctx, &ev);
  for (size_t i = 0; lines && lines[i]; i++) {
    if (!cu__ctx_wants_lines(ctx))
      break;
    ev = base_event(CU_EV_STDOUT_LINE);
    ev.pid = res->pid;
    ev.line = lines[i];
    ev.line_len = strlen(lines[i]);
    ev.noise = noise[i];
    cu__ctx_emit(ctx, &ev);
  }
  cu__ctx_after(ctx, &f.cmd, res);
  cu__ctx_release(ctx);
}

static void test_log_hook_start_and_exit(void **state) {
  (void)state;
  records r = {0};
  cu_hook *h = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_log_opts o = {.size = sizeof(cu_log_opts),
                   .format = CU_LOG_JSON,
                   .sink = CU_LOG_SINK_CALLBACK,
                   .fn = keep_record,
                   .fn_data = &r};
  assert_int_equal(cu_log_attach(&o, &h), 0);
  cu_result res = {.pid = 42, .exit_code = 0, .ok = true,
                   .duration_ns = 2500000};
  res.out.total = 10;
  res.err.total = 3;
  play_run(&res, NULL, NULL);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.level[0], CU_LOG_INFO);
  assert_string_equal(r.text[0],
                      "{\"level\":\"info\",\"event\":\"start\",\"exec_id\":7,"
                      "\"program\":\"ls\",\"argv\":[\"ls\",\"-l\",\"my dir\"],"
                      "\"pid\":42}");
  assert_string_equal(r.text[1],
                      "{\"level\":\"info\",\"event\":\"exit\",\"exec_id\":7,"
                      "\"program\":\"ls\",\"argv\":[\"ls\",\"-l\"],"
                      "\"pid\":42,\"exit_code\":0,\"signal\":0,"
                      "\"duration_ms\":2.500,\"stdout_bytes\":10,"
                      "\"stderr_bytes\":3}");
  /* non-zero exit is a warning */
  res = (cu_result){.pid = 43, .exit_code = 2, .ok = false};
  play_run(&res, NULL, NULL);
  assert_int_equal(r.n, 4);
  assert_int_equal(r.level[3], CU_LOG_WARN);
  assert_non_null(strstr(r.text[3], "\"exit_code\":2"));
  cu_hook_detach(h);
  play_run(&res, NULL, NULL);
  assert_int_equal(r.n, 4);
  cu_hook_unref(h);
  cu_scope_pop();
}

static void test_log_hook_spawn_failure_is_error(void **state) {
  (void)state;
  records r = {0};
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_log_opts o = {.size = sizeof(cu_log_opts),
                   .format = CU_LOG_LOGFMT,
                   .sink = CU_LOG_SINK_CALLBACK,
                   .fn = keep_record,
                   .fn_data = &r,
                   .min_level = CU_LOG_WARN};
  assert_int_equal(cu_log_attach(&o, NULL), 0);
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  cu_event ev = base_event(CU_EV_START); /* info: below min_level */
  cu__ctx_emit(ctx, &ev);
  ev = base_event(CU_EV_SPAWN_FAILED);
  ev.pid = 0;
  ev.error = CU_ENOTFOUND;
  ev.err_no = 2;
  cu__ctx_emit(ctx, &ev);
  fake f;
  fake_init(&f);
  cu_result res = {.error = CU_ENOTFOUND, .exit_code = -1};
  cu__ctx_after(ctx, &f.cmd, &res); /* never started: no exit record */
  cu__ctx_release(ctx);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.level[0], CU_LOG_ERROR);
  assert_string_equal(r.text[0], "level=error event=spawn_failed exec_id=7 "
                                 "program=ls argv=\"ls -l my dir\" "
                                 "error=ENOTFOUND errno=2");
  cu_scope_pop();
}

static void test_log_hook_output_and_noise(void **state) {
  (void)state;
  records r = {0};
  cu_hook *h = NULL;
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_log_opts o = {.size = sizeof(cu_log_opts),
                   .format = CU_LOG_HUMAN,
                   .sink = CU_LOG_SINK_CALLBACK,
                   .fn = keep_record,
                   .fn_data = &r,
                   .log_output = true};
  assert_int_equal(cu_log_attach(&o, &h), 0);
  const char *lines[] = {"Counting objects: 1", "real output", "noise 2",
                         NULL};
  bool noise[] = {true, false, true};
  cu_result res = {.pid = 50, .ok = true};
  play_run(&res, lines, noise);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.text[0], "cuprum: info start exec_id=7 program=ls "
                                 "argv=\"ls -l my dir\" pid=50");
  assert_int_equal(r.level[1], CU_LOG_DEBUG);
  assert_string_equal(r.text[1], "cuprum: debug stdout exec_id=7 program=ls "
                                 "argv=\"ls -l my dir\" pid=50 "
                                 "line=\"real output\"");
  assert_non_null(strstr(r.text[2], "cuprum: info exit "));
  assert_non_null(strstr(r.text[2], " noise_dropped=2"));
  assert_int_equal(cu_log_noise_dropped(h), 2);
  assert_int_equal(cu_log_noise_dropped(NULL), 0);
  cu_hook_unref(h);
  cu_scope_pop();
}

static void test_log_hook_file_sink(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(cu_scope_push(NULL), 0);
  cu_log_opts o = {
      .size = sizeof(cu_log_opts), .sink = CU_LOG_SINK_FILE, .file = f};
  assert_int_equal(cu_log_attach(&o, NULL), 0);
  cu_result res = {.pid = 9, .term_signal = 9, .exit_code = -1,
                   .timed_out = true};
  play_run(&res, NULL, NULL);
  cu_scope_pop();
  fclose(f);
  assert_non_null(buf);
  char *second = strchr(buf, '\n');
  assert_non_null(second);
  assert_non_null(strstr(second, "cuprum: warn exit "));
  assert_non_null(strstr(second, " signal=9 "));
  assert_non_null(strstr(second, " timed_out=true"));
  assert_int_equal(buf[len - 1], '\n');
  free(buf);
}

static void test_log_attach_rejects_bad_options(void **state) {
  (void)state;
  cu_log_opts o = {.size = sizeof(cu_log_opts), .sink = CU_LOG_SINK_FILE};
  assert_int_equal(cu_log_attach(&o, NULL), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "file"));
  o = (cu_log_opts){.size = sizeof(cu_log_opts), .sink = CU_LOG_SINK_CALLBACK};
  assert_int_equal(cu_log_attach(&o, NULL), CU_EINVAL);
  o = (cu_log_opts){.size = sizeof(cu_log_opts), .format = (cu_log_format)7};
  assert_int_equal(cu_log_attach(&o, NULL), CU_EINVAL);
  o = (cu_log_opts){.size = sizeof(cu_log_opts), .min_level = (cu_log_level)9};
  assert_int_equal(cu_log_attach(&o, NULL), CU_EINVAL);
  assert_string_equal(cu_log_level_name(CU_LOG_WARN), "warn");
  assert_string_equal(cu_log_level_name(CU_LOG_ERROR), "error");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_json_exit_event_exact),
    cmocka_unit_test(test_json_phase_fields),
    cmocka_unit_test(test_json_escaping),
    cmocka_unit_test(test_logfmt),
    cmocka_unit_test(test_human),
    cmocka_unit_test(test_json_keys_alike_once_sanitized),
    cmocka_unit_test(test_human_and_logfmt_escape_controls),
    cmocka_unit_test(test_phase_names_and_bad_args),
    cmocka_unit_test(test_log_hook_start_and_exit),
    cmocka_unit_test(test_log_hook_spawn_failure_is_error),
    cmocka_unit_test(test_log_hook_output_and_noise),
    cmocka_unit_test(test_log_hook_file_sink),
    cmocka_unit_test(test_log_attach_rejects_bad_options),
};

CU_TEST_MAIN(tests)
