/* SPDX-License-Identifier: MIT */
/*
 * Redaction (argv elements, environment values) in every sink that writes
 * about a run, and the logging hook's per-phase levels.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static cu_redact *make(const char *pattern) {
  const char *pats[] = {pattern};
  cu_redact_opts o = CU_REDACT_OPTS_INIT;
  o.patterns = pats;
  o.n_patterns = pattern ? 1 : 0;
  cu_redact *r = NULL;
  assert_int_equal(cu_redact_new(&o, &r), 0);
  return r;
}

static char *joined(const cu_redact *r, const char *const *argv, size_t n) {
  char **v = NULL;
  assert_int_equal(cu_redact_argv(r, argv, n, &v), 0);
  size_t len = 1;
  for (size_t i = 0; i < n; i++)
    len += strlen(v[i]) + 1;
  char *s = calloc(1, len);
  for (size_t i = 0; i < n; i++) {
    if (i)
      strcat(s, " ");
    strcat(s, v[i]);
  }
  assert_null(v[n]);
  free(v);
  return s;
}

static void test_redact_argv_rules(void **state) {
  (void)state;
  cu_redact *r = make("hunter*");
  const char *argv[] = {"curl", "--token", "abc", "-H", "x",
                        "--api-key=k1", "PASSWORD=pw", "hunter2",
                        "--password", "--verbose", "plain"};
  char *s = joined(r, argv, 11);
  /* --token's value, NAME=VALUE forms, a pattern match; an option after a
   * secret option is hidden too (it might be the value). */
  assert_string_equal(s, "curl --token *** -H x --api-key=*** PASSWORD=*** "
                         "*** --password *** plain");
  free(s);
  /* Defaults only (NULL): same names, no value pattern. */
  s = joined(NULL, argv, 11);
  assert_string_equal(s, "curl --token *** -H x --api-key=*** PASSWORD=*** "
                         "hunter2 --password *** plain");
  free(s);
  cu_redact_free(r);
}

static void test_redact_opt_out_of_defaults(void **state) {
  (void)state;
  cu_redact_opts o = CU_REDACT_OPTS_INIT;
  o.no_default_names = true;
  cu_redact *r = NULL;
  assert_int_equal(cu_redact_new(&o, &r), 0);
  const char *argv[] = {"x", "--token", "abc"};
  char *s = joined(r, argv, 3);
  assert_string_equal(s, "x --token abc");
  free(s);
  assert_false(cu_redact_env(r, "GITHUB_TOKEN", "t"));
  assert_true(cu_redact_env(NULL, "GITHUB_TOKEN", "t"));
  assert_true(cu_redact_env(NULL, "aws_secret_access_key", "t"));
  assert_false(cu_redact_env(NULL, "HOME", "/root"));
  cu_redact_free(r);
}

static void test_redact_bad_options(void **state) {
  (void)state;
  cu_redact *r = NULL;
  const char *pats[] = {""};
  cu_redact_opts o = CU_REDACT_OPTS_INIT;
  o.patterns = pats;
  o.n_patterns = 1;
  assert_int_equal(cu_redact_new(&o, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "patterns[0] is empty"));
  o = (cu_redact_opts){0};
  assert_int_equal(cu_redact_new(&o, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_REDACT_OPTS_INIT"));
  assert_null(r);
  assert_null(cu_redact_free(NULL));
}

/* --events's serializer: env overlay values of secret names, argv. */
static void test_redact_event_format(void **state) {
  (void)state;
  const char *argv[] = {"tool", "--password", "pw1", "keep", NULL};
  cu_env_var env[] = {{"GITHUB_TOKEN", "ghp_x"}, {"LANG", "C"}};
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.phase = CU_EV_PLAN;
  ev.program = "tool";
  ev.argv = argv;
  ev.n_argv = 4;
  ev.env = env;
  ev.n_env = 2;
  ev.n_stages = 1;
  char *s = NULL;
  assert_int_equal(cu_event_format(&ev, CU_LOG_JSON, &s), 0);
  assert_non_null(strstr(s, "\"argv\":[\"tool\",\"--password\",\"***\","
                            "\"keep\"]"));
  assert_non_null(strstr(s, "\"env\":{\"GITHUB_TOKEN\":\"***\",\"LANG\":"
                            "\"C\"}"));
  assert_null(strstr(s, "pw1"));
  assert_null(strstr(s, "ghp_x"));
  free(s);
  cu_redact *r = make("keep");
  assert_int_equal(cu_event_format_redacted(&ev, CU_LOG_LOGFMT, r, &s), 0);
  assert_null(strstr(s, "keep"));
  assert_null(strstr(s, "pw1"));
  free(s);
  cu_redact_free(r);
  /* The event itself is untouched: only what is written changes. */
  assert_string_equal(argv[2], "pw1");
  assert_string_equal(env[0].value, "ghp_x");
}

struct records {
  char buf[8192];
};

static void collect(void *data, cu_log_level level, const char *record) {
  struct records *r = data;
  strncat(r->buf, cu_log_level_name(level), sizeof r->buf - strlen(r->buf) - 1);
  strncat(r->buf, " ", sizeof r->buf - strlen(r->buf) - 1);
  strncat(r->buf, record, sizeof r->buf - strlen(r->buf) - 1);
  strncat(r->buf, "\n", sizeof r->buf - strlen(r->buf) - 1);
}

/* A real run: the child gets the secret, the log never shows it. */
static void test_redact_log_real_run(void **state) {
  (void)state;
  struct records rec = {{0}};
  cu_redact *r = make("s3cr3t*");
  cu_log_opts lo = {.size = sizeof(cu_log_opts),
                    .format = CU_LOG_LOGFMT, .sink = CU_LOG_SINK_CALLBACK,
                    .fn = collect, .fn_data = &rec, .redact = r,
                    .min_level = CU_LOG_DEBUG};
  cu_hook *hook = NULL;
  assert_int_equal(cu_log_attach(&lo, &hook), 0);
  cu_cmd *c = cut_cmd("envdump", "MY_TOKEN", "s3cr3t-arg", NULL);
  cu_env_var env[] = {{"MY_TOKEN", "tok-123"}};
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .env = env, .n_env = 1};
  cu_result *res = NULL;
  assert_int_equal(cu_run(c, &o, &res), 0);
  assert_non_null(strstr(res->out.data, "MY_TOKEN=tok-123"));
  res = cu_result_free(res);
  cu_cmd_free(c);
  cu_hook_detach(hook);
  cu_hook_unref(hook);
  cu_redact_free(r);
  assert_null(strstr(rec.buf, "s3cr3t-arg"));
  assert_null(strstr(rec.buf, "tok-123"));
  /* plan at debug, start and exit at info (the defaults). */
  assert_non_null(strstr(rec.buf, "debug level=debug event=plan"));
  assert_non_null(strstr(rec.buf, "info level=info event=start"));
  assert_non_null(strstr(rec.buf, "info level=info event=exit"));
  assert_non_null(strstr(rec.buf, "argv=\"envdump MY_TOKEN ***\""));
}

static void test_log_phase_levels(void **state) {
  (void)state;
  struct records rec = {{0}};
  cu_log_opts lo = {.size = sizeof(cu_log_opts),
                    .format = CU_LOG_LOGFMT, .sink = CU_LOG_SINK_CALLBACK,
                    .fn = collect, .fn_data = &rec, .log_output = true,
                    .plan_level = CU_LOG_INFO, .start_level = CU_LOG_DEBUG,
                    .exit_level = CU_LOG_WARN, .output_level = CU_LOG_INFO,
                    .min_level = CU_LOG_INFO};
  cu_hook *hook = NULL;
  assert_int_equal(cu_log_attach(&lo, &hook), 0);
  cu_cmd *c = cut_cmd("writer", "--out", "13", "--text", NULL);
  cu_result *res = NULL;
  assert_int_equal(cu_run(c, NULL, &res), 0);
  res = cu_result_free(res);
  cu_cmd_free(c);
  cu_hook_detach(hook);
  cu_hook_unref(hook);
  assert_non_null(strstr(rec.buf, "info level=info event=plan"));
  assert_null(strstr(rec.buf, "event=start")); /* debug < min info */
  assert_non_null(strstr(rec.buf, "info level=info event=stdout"));
  assert_non_null(strstr(rec.buf, "warn level=warn event=exit"));
  lo.plan_level = (cu_log_level)9;
  assert_int_equal(cu_log_attach(&lo, NULL), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "plan_level"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_redact_argv_rules),
    cmocka_unit_test(test_redact_opt_out_of_defaults),
    cmocka_unit_test(test_redact_bad_options),
    cmocka_unit_test(test_redact_event_format),
    cmocka_unit_test(test_redact_log_real_run),
    cmocka_unit_test(test_log_phase_levels),
};

CU_TEST_MAIN(tests)
