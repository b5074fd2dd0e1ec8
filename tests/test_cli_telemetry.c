/* SPDX-License-Identifier: MIT */
/*
 * The CLI's telemetry options: --metrics (textfile written at exit),
 * --trace-file / --trace-endpoint / OTEL_* variables, --trace-args and
 * --redact, for `run` and `parallel`.
 */
#include "harness_cli.h"
#include "tool_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_cli_metrics_file_run(void **state) {
  fixture *fx = *state;
  char prom[PATH_MAX];
  path_in(fx, "cuprum.prom", prom);
  cli_result r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue,
                                    "--metrics", prom, "--", "exitcode", "4"));
  assert_status(r, 4);
  cli_free(&r);
  char *m = cli_slurp(prom, NULL);
  assert_non_null(m);
  assert_non_null(strstr(m, "\ncuprum_executions_total{program=\"exitcode\","
                            "project=\"test-helpers\"} 1\n"));
  assert_non_null(strstr(m, "\ncuprum_failures_total{program=\"exitcode\","
                            "project=\"test-helpers\"} 1\n"));
  free(m);
}

static void test_cli_metrics_and_trace_parallel(void **state) {
  fixture *fx = *state;
  char prom[PATH_MAX], spans[PATH_MAX];
  path_in(fx, "cuprum.prom", prom);
  path_in(fx, "spans.jsonl", spans);
  cli_result r = cli_run("[\"exitcode\", \"0\"]\n[\"exitcode\", \"0\"]\n"
                         "[\"writer\", \"--out\", \"26\", \"--text\"]\n",
                         ARGS("parallel", "--catalogue", fx->catalogue,
                              "--metrics", prom, "--trace-file", spans, "-"));
  assert_status(r, 0);
  cli_free(&r);
  char *m = cli_slurp(prom, NULL);
  assert_non_null(strstr(m, "cuprum_executions_total{program=\"exitcode\","
                            "project=\"test-helpers\"} 2\n"));
  assert_non_null(strstr(m, "cuprum_stdout_lines_total{program=\"writer\","
                            "project=\"test-helpers\"} 2\n"));
  free(m);
  char *t = cli_slurp(spans, NULL);
  /* One batch span and three children in one trace. */
  json_t *req = json_loads(t, JSON_DISABLE_EOF_CHECK, NULL);
  assert_non_null(req);
  json_t *list = json_object_get(json_array_get(json_object_get(
      json_array_get(json_object_get(req, "resourceSpans"), 0), "scopeSpans"),
      0), "spans");
  assert_int_equal(json_array_size(list), 4);
  json_decref(req);
  assert_non_null(strstr(t, "\"name\":\"batch\""));
  free(t);
}

/* --redact hides argv elements everywhere: --events, --log, spans. */
static void test_cli_redact_everywhere(void **state) {
  fixture *fx = *state;
  char spans[PATH_MAX], events[PATH_MAX];
  path_in(fx, "spans.jsonl", spans);
  path_in(fx, "events.jsonl", events);
  cli_result r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue,
                                    "--redact", "s3cr3t*", "--trace-file",
                                    spans, "--trace-args", "--events", events,
                                    "--log", "json", "--env",
                                    "API_TOKEN=tok-1", "--", "envdump",
                                    "s3cr3t-value", "--password", "pw-2"));
  assert_status(r, 0);
  /* The child got everything as given. */
  assert_non_null(strstr(r.out, "s3cr3t-value unset"));
  assert_null(strstr(r.err, "s3cr3t-value"));
  assert_null(strstr(r.err, "pw-2"));
  assert_non_null(strstr(r.err, "\"argv\":[\"envdump\",\"***\",\"--password\","
                                "\"***\"]"));
  cli_free(&r);
  char *t = cli_slurp(spans, NULL);
  assert_non_null(strstr(t, "process.command_args"));
  assert_null(strstr(t, "\"s3cr3t-value\""));
  assert_null(strstr(t, "pw-2"));
  free(t);
  char *e = cli_slurp(events, NULL);
  assert_null(strstr(e, "tok-1"));
  assert_non_null(strstr(e, "\"API_TOKEN\":\"***\""));
  assert_null(strstr(e, "\"s3cr3t-value\""));
  free(e);
}

/* A dead collector neither fails nor noticeably delays the command. */
static void test_cli_dead_trace_endpoint(void **state) {
  fixture *fx = *state;
#ifndef CUPRUM_HAVE_OTEL
  print_message("SKIP: built without libcuprum-otel (libcurl missing)\n");
  skip();
#endif
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", tu_free_port());
  int64_t t0 = cut_now_ms();
  cli_result r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue,
                                    "--trace-endpoint", url, "--",
                                    "exitcode", "0"));
  assert_status(r, 0);
  assert_non_null(strstr(r.err, "1 span could not be exported"));
  assert_true(cut_now_ms() - t0 < 15000);
  cli_free(&r);
}

static void test_cli_otel_env_endpoint(void **state) {
  fixture *fx = *state;
#ifndef CUPRUM_HAVE_OTEL
  skip();
#endif
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", tu_free_port());
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url, 1);
  cli_result r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue, "--",
                                    "exitcode", "0"));
  assert_status(r, 0);
  /* The variable alone turned tracing on (and the dead port dropped it). */
  assert_non_null(strstr(r.err, "could not be exported"));
  cli_free(&r);
  setenv("OTEL_SDK_DISABLED", "true", 1);
  r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue, "--",
                         "exitcode", "0"));
  assert_status(r, 0);
  assert_string_equal(r.err, "");
  cli_free(&r);
  unsetenv("OTEL_SDK_DISABLED");
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
}

static void test_cli_telemetry_usage_errors(void **state) {
  fixture *fx = *state;
  cli_result r = cli_run(NULL, ARGS("run", "--trace-endpoint", "ftp://x",
                                    "--", "true"));
  assert_status(r, 125);
  assert_non_null(strstr(r.err, "--trace-endpoint: 'ftp://x' is not"));
  cli_free(&r);
  char bad[PATH_MAX];
  path_in(fx, "missing/m.prom", bad);
  r = cli_run(NULL, ARGS("run", "--catalogue", fx->catalogue, "--metrics",
                         bad, "--", "exitcode", "0"));
  assert_status(r, 125); /* the command ran, the metrics file failed */
  assert_non_null(strstr(r.err, "--metrics: writing metrics to"));
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cli_metrics_file_run, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_metrics_and_trace_parallel, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_redact_everywhere, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_dead_trace_endpoint, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_otel_env_endpoint, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_telemetry_usage_errors, cli_setup, cli_teardown),
};

CU_TEST_MAIN(tests)
