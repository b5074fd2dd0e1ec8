/* SPDX-License-Identifier: MIT */
/*
 * The CLI's scoped-context flags as real processes: --events FILE (JSON
 * Lines parsed back with jansson: plan/start/line/exit phases, pipelines,
 * timeouts, parallel), --log in its three formats, -x (and the operator's
 * CUPRUM_ECHO over it), and --allow under the widening policy
 * (CUPRUM_POLICY), for run, parallel and catalogue.
 */
#include "harness_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS 64

typedef struct events {
  json_t *ev[MAX_EVENTS];
  size_t n;
} events;

/* Parse JSON lines; `skip_other` ignores lines that are not JSON objects
 * (events written to stderr, among cuprum's own messages). */
static events parse_lines(const char *text, bool skip_other) {
  events e = {0};
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_error_t err;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
    if (!o && !skip_other)
      fail_msg("not JSON (%s): %.*s", err.text, (int)(nl - p), p);
    if (o) {
      assert_true(json_is_object(o));
      assert_true(e.n < MAX_EVENTS);
      e.ev[e.n++] = o;
    }
    p = nl + 1;
  }
  return e;
}

static events read_events(const char *path) {
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  char *text = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&text, &cap, '\0', f);
  fclose(f);
  events e = parse_lines(n > 0 ? text : "", false);
  free(text);
  return e;
}

static void events_free(events *e) {
  for (size_t i = 0; i < e->n; i++)
    json_decref(e->ev[i]);
}

static const char *phase(const json_t *ev) {
  return json_string_value(json_object_get(ev, "phase"));
}

static json_int_t int_of(const json_t *ev, const char *key) {
  json_t *v = json_object_get(ev, key);
  if (!json_is_integer(v))
    fail_msg("event has no integer '%s'", key);
  return json_integer_value(v);
}

/* Index of the first event of `ph` (and exec_id, unless 0), or fails. */
static size_t find(const events *e, const char *ph, json_int_t exec_id) {
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(phase(e->ev[i]), ph) == 0 &&
        (exec_id == 0 || int_of(e->ev[i], "exec_id") == exec_id))
      return i;
  fail_msg("no '%s' event (exec_id %lld)", ph, (long long)exec_id);
  return 0;
}

static void test_events_json_lines(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  path_in(fx, "events.jsonl", file);
  cli_result r = CLI("run", "--events", file, "--env", "CUT_E=1", "--",
                     "echo", "hello");
  assert_status(r, 0);
  assert_string_equal(r.out, "hello\n"); /* output is unchanged */
  assert_string_equal(r.err, "");
  events e = read_events(file);
  assert_true(e.n >= 4);
  assert_string_equal(phase(e.ev[0]), "plan");
  json_int_t id = int_of(e.ev[0], "exec_id");
  size_t exit = find(&e, "exit", id);
  assert_int_equal(exit, e.n - 1); /* after the last line */
  for (size_t i = 0; i < e.n; i++) {
    assert_int_equal(int_of(e.ev[i], "v"), 1);
    assert_int_equal(int_of(e.ev[i], "exec_id"), id);
    assert_string_equal(
        json_string_value(json_object_get(e.ev[i], "program")), "echo");
  }
  size_t start = find(&e, "start", id);
  assert_true(int_of(e.ev[start], "pid") > 0);
  size_t line = find(&e, "stdout_line", id);
  assert_string_equal(json_string_value(json_object_get(e.ev[line], "line")),
                      "hello");
  assert_true(start < line);
  assert_int_equal(int_of(e.ev[exit], "exit_code"), 0);
  json_t *env = json_object_get(e.ev[0], "env"); /* the overlay only */
  assert_int_equal(json_object_size(env), 1);
  assert_string_equal(json_string_value(json_object_get(env, "CUT_E")), "1");
  json_t *argv = json_object_get(e.ev[0], "argv");
  assert_string_equal(json_string_value(json_array_get(argv, 1)), "hello");
  events_free(&e);
  cli_free(&r);
}

/* "-" is stderr; a failing command's exit event carries its status. */
static void test_events_to_stderr(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--events", "-", "--catalogue", fx->catalogue,
                     "--", "exitcode", "3");
  assert_status(r, 3);
  assert_string_equal(r.out, "");
  events e = parse_lines(r.err, false);
  size_t exit = find(&e, "exit", 0);
  assert_int_equal(int_of(e.ev[exit], "exit_code"), 3);
  find(&e, "plan", 0);
  find(&e, "start", 0);
  events_free(&e);
  cli_free(&r);
  r = CLI("run", "--events", "-", "--catalogue", fx->catalogue, "--",
          "notexec");
  assert_status(r, 126);
  e = parse_lines(r.err, true);
  size_t failed = find(&e, "spawn_failed", 0);
  assert_string_equal(
      json_string_value(json_object_get(e.ev[failed], "error")), "EACCES");
  events_free(&e);
  cli_free(&r);
}

/* Line events carry the project's noise flag. */
static void test_events_noise_flag(void **state) {
  fixture *fx = *state;
  char cat[PATH_MAX], json[PATH_MAX + 160];
  path_in(fx, "noisy.json", cat);
  snprintf(json, sizeof json,
           "{\"projects\": [{\"name\": \"noisy\", \"programs\": [{\"name\": "
           "\"sleeper\", \"path\": \"%s\"}], \"noise\": [\"^rea\"]}]}",
           helper("sleeper"));
  write_file(cat, json, 0644);
  cli_result r = CLI("run", "--events", "-", "--catalogue", cat, "--",
                     "sleeper", "1");
  assert_status(r, 0);
  assert_string_equal(r.out, "ready\n");
  events e = parse_lines(r.err, false);
  size_t line = find(&e, "stdout_line", 0);
  assert_true(json_is_true(json_object_get(e.ev[line], "noise")));
  events_free(&e);
  cli_free(&r);
}

/* A pipeline: one exec_id per stage, stage/stages set; a timeout adds its
 * own phases before the exits. */
static void test_events_pipeline_and_timeout(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--events", "-", "--catalogue", fx->catalogue,
                     "--timeout", "0.2", "--", "sleeper", "30000", "|",
                     "echoer");
  assert_status(r, 124);
  events e = parse_lines(r.err, true); /* and the timeout message */
  size_t p0 = find(&e, "plan", 0);
  json_int_t id0 = int_of(e.ev[p0], "exec_id");
  size_t p1 = 0;
  for (size_t i = 0; i < e.n; i++)
    if (strcmp(phase(e.ev[i]), "plan") == 0 && i != p0)
      p1 = i;
  json_int_t id1 = int_of(e.ev[p1], "exec_id");
  assert_true(id0 != id1);
  assert_int_equal(int_of(e.ev[p0], "stages"), 2);
  assert_int_equal(int_of(e.ev[p0], "stage") + int_of(e.ev[p1], "stage"), 1);
  size_t timeout = find(&e, "timeout", 0);
  assert_true(timeout < find(&e, "term_sent", 0));
  assert_true(timeout < find(&e, "exit", id0));
  find(&e, "exit", id1);
  events_free(&e);
  cli_free(&r);
}

static void test_events_parallel(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  path_in(fx, "events.jsonl", file);
  cli_result r = cli_run("[\"echo\", \"a\"]\n[\"true\"]\n",
                         ARGS("parallel", "--events", file, "-"));
  assert_status(r, 0);
  events e = read_events(file);
  size_t plans = 0, exits = 0;
  for (size_t i = 0; i < e.n; i++) {
    plans += strcmp(phase(e.ev[i]), "plan") == 0;
    exits += strcmp(phase(e.ev[i]), "exit") == 0;
  }
  assert_int_equal(plans, 2);
  assert_int_equal(exits, 2);
  events_free(&e);
  cli_free(&r);
}

/* An unwritable FILE is cuprum's error, before anything runs. */
static void test_events_unwritable_file(void **state) {
  fixture *fx = *state;
  char marker[PATH_MAX];
  path_in(fx, "ran", marker);
  cli_result r = CLI("run", "--events", "/no/such/dir/events.jsonl", "--",
                     "touch", marker);
  assert_status(r, 125);
  assert_contains(r.err, "/no/such/dir/events.jsonl");
  assert_int_equal(access(marker, F_OK), -1);
  cli_free(&r);
}

static void test_log_formats(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--log", "human", "--catalogue", fx->catalogue,
                     "--", "exitcode", "3");
  assert_status(r, 3);
  assert_contains(r.err, "cuprum: info start");
  assert_contains(r.err, "cuprum: warn exit");
  assert_contains(r.err, "exit_code=3");
  cli_free(&r);
  r = CLI("run", "--log", "logfmt", "--", "echo", "hi");
  assert_status(r, 0);
  assert_string_equal(r.out, "hi\n");
  assert_contains(r.err, "level=info event=start");
  assert_contains(r.err, "level=info event=exit");
  assert_contains(r.err, "stdout_bytes=3");
  cli_free(&r);
  r = CLI("run", "--log", "json", "--", "echo", "hi");
  assert_status(r, 0);
  events e = parse_lines(r.err, false);
  assert_int_equal(e.n, 2);
  assert_string_equal(json_string_value(json_object_get(e.ev[0], "event")),
                      "start");
  assert_string_equal(json_string_value(json_object_get(e.ev[1], "level")),
                      "info");
  events_free(&e);
  cli_free(&r);
  r = CLI("run", "--log", "yaml", "--", "true");
  assert_status(r, 125);
  assert_contains(r.err, "--log: 'yaml'");
  cli_free(&r);
}

/* -x prints the rendered command (quoted as a shell would need it) before
 * it runs, through the echo setting's cmd switch: the operator's
 * CUPRUM_ECHO=cmd=off wins over it. The old CUPRUM_POLICY keys are refused
 * with a pointer to CUPRUM_ECHO. */
static void test_xtrace(void **state) {
  (void)state;
  cli_result r = CLI("run", "-x", "--", "echo", "a b", "it's");
  assert_status(r, 0);
  assert_string_equal(r.out, "a b it's\n");
  assert_string_equal(r.err, "+ echo 'a b' 'it'\\''s'\n");
  cli_free(&r);
  r = CLI("run", "--xtrace", "--", "echo", "x", "|", "cat");
  assert_status(r, 0);
  assert_contains(r.err, "+ echo x\n");
  assert_contains(r.err, "+ cat\n");
  cli_free(&r);
  setenv("CUPRUM_ECHO", "cmd=off", 1);
  r = CLI("run", "-x", "--", "echo", "x");
  assert_status(r, 0);
  assert_string_equal(r.err, "");
  cli_free(&r);
  setenv("CUPRUM_ECHO", "cmd=on", 1); /* set -x for every run */
  r = CLI("run", "--", "echo", "x");
  assert_string_equal(r.err, "+ echo x\n");
  cli_free(&r);
  unsetenv("CUPRUM_ECHO");
  setenv("CUPRUM_POLICY", "echo_cmd=on", 1);
  r = CLI("run", "--", "echo", "x");
  assert_status(r, 125);
  assert_contains(r.err, "CUPRUM_ECHO (cmd=on)");
  cli_free(&r);
  unsetenv("CUPRUM_POLICY");
}

/* --allow is a widening: permitted unless the operator denies widening,
 * for every subcommand that takes it. */
static void test_allow_obeys_widening_policy(void **state) {
  (void)state;
  const char *path = helper("exitcode");
  setenv("CUPRUM_POLICY", "widen=deny", 1);
  const char *const *cases[] = {
      ARGS("run", "--allow", path, "--", "exitcode", "7"),
      ARGS("catalogue", "--allow", path),
      ARGS("parallel", "--allow", path, "-"),
  };
  for (size_t i = 0; i < 3; i++) {
    cli_result r = cli_run("[\"exitcode\", \"7\"]\n", cases[i]);
    assert_status(r, 125);
    assert_contains(r.err, "--allow ");
    assert_contains(r.err, "widen=deny");
    assert_string_equal(r.out, "");
    cli_free(&r);
  }
  setenv("CUPRUM_POLICY", "widen=allow", 1);
  cli_result r = cli_run(NULL, cases[0]);
  assert_status(r, 7);
  cli_free(&r);
  /* Without --allow, a denied widening changes nothing. */
  setenv("CUPRUM_POLICY", "widen=deny", 1);
  r = CLI("run", "--", "echo", "ok");
  assert_status(r, 0);
  cli_free(&r);
  unsetenv("CUPRUM_POLICY");
  r = cli_run(NULL, cases[0]); /* the default: the command line may widen */
  assert_status(r, 7);
  cli_free(&r);
}

/* An invalid CUPRUM_POLICY fails closed: nothing runs, 125 with the
 * library's message listing the valid keys. */
static void test_invalid_policy_fails_closed(void **state) {
  fixture *fx = *state;
  char marker[PATH_MAX];
  path_in(fx, "ran", marker);
  setenv("CUPRUM_POLICY", "widen=maybe", 1);
  cli_result r = CLI("run", "--", "touch", marker);
  assert_status(r, 125);
  assert_contains(r.err, "CUPRUM_POLICY");
  assert_contains(r.err, "valid keys");
  assert_int_equal(access(marker, F_OK), -1);
  cli_free(&r);
  r = CLI("run", "--", "echo", "x", "|", "touch", marker);
  assert_status(r, 125);
  assert_int_equal(access(marker, F_OK), -1);
  cli_free(&r);
  unsetenv("CUPRUM_POLICY");
}

/* CUPRUM_STREAM_BACKEND: a bad value is cuprum's own error (125, listing
 * the valid values) before anything runs; a valid one in any case works. */
static void test_stream_backend_env(void **state) {
  (void)state;
  setenv("CUPRUM_STREAM_BACKEND", "turbo", 1);
  cli_result r = CLI("run", "--", "echo", "ok");
  assert_status(r, 125);
  assert_contains(r.err, "auto, splice, readwrite");
  assert_string_equal(r.out, "");
  cli_free(&r);
  setenv("CUPRUM_STREAM_BACKEND", "  ReadWrite ", 1);
  r = CLI("run", "--", "echo", "ok");
  assert_status(r, 0);
  assert_string_equal(r.out, "ok\n");
  cli_free(&r);
  unsetenv("CUPRUM_STREAM_BACKEND");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_stream_backend_env, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_json_lines, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_to_stderr, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_noise_flag, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_pipeline_and_timeout,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_parallel, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_events_unwritable_file, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_log_formats, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_xtrace, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_allow_obeys_widening_policy,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_invalid_policy_fails_closed,
                                    cli_setup, cli_teardown),
};

CU_TEST_MAIN(tests)
