/* SPDX-License-Identifier: MIT */
/*
 * OpenTelemetry traces: spans from real runs (single, pipeline, batch),
 * W3C trace context both ways, redaction, span events, the OTLP JSON file
 * and OTLP/HTTP exporters checked by the official OpenTelemetry JS
 * definitions (tests/otel: a strict receiver, and a comparison with the
 * JS SDK's spans), and a dead, refusing or slow collector never slowing a
 * run.
 * ctest-labels: threads
 */
#include "harness.h"
#include "tool_util.h"

#include <jansson.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CUPRUM_HAVE_OTEL
#include <cuprum/otel.h>
#endif

/* ------------------------------------------------------------- helpers */

typedef struct traced {
  char *dir;
  char file[512];
  cu_tracer *tracer;
  cu_hook *hook;
} traced;

static void trace_begin(traced *t, cu_tracer_opts *o) {
  memset(t, 0, sizeof *t);
  t->dir = tu_tempdir("trace");
  snprintf(t->file, sizeof t->file, "%s/spans.jsonl", t->dir);
  cu_tracer_opts def = CU_TRACER_OPTS_INIT;
  if (!o)
    o = &def;
  if (!o->export_fn && !o->file)
    o->file = t->file;
  o->no_env_parent = o->traceparent == NULL && !getenv("CU_TEST_ENV_PARENT");
  assert_int_equal(cu_tracer_new(o, &t->tracer), 0);
  assert_int_equal(cu_tracer_attach(t->tracer, &t->hook), 0);
}

static void trace_end(traced *t) {
  cu_hook_detach(t->hook);
  t->hook = cu_hook_unref(t->hook);
  t->tracer = cu_tracer_free(t->tracer);
}

static void trace_cleanup(traced *t) {
  tu_rmtree(t->dir);
  free(t->dir);
}

/* Every span of every line of the file, in one array. */
static json_t *read_spans(const char *path) {
  json_t *all = json_array();
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    if (!req)
      fail_msg("bad JSON line: %s", err.text);
    json_t *rs = json_array_get(json_object_get(req, "resourceSpans"), 0);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    json_array_extend(all, json_object_get(ss, "spans"));
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
}

static json_t *span_named(json_t *spans, const char *name, int nth) {
  size_t i;
  json_t *s;
  json_array_foreach(spans, i, s) {
    if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0 &&
        nth-- == 0)
      return s;
  }
  fail_msg("no span named %s", name);
  return NULL;
}

static const char *sattr(json_t *span, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(span, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) {
      json_t *v = json_object_get(a, "value");
      json_t *x = json_object_get(v, "stringValue");
      if (!x)
        x = json_object_get(v, "intValue");
      if (x)
        return json_string_value(x);
      x = json_object_get(v, "boolValue");
      return x ? (json_is_true(x) ? "true" : "false") : "array";
    }
  }
  return NULL;
}

static const char *sfield(json_t *span, const char *key) {
  return json_string_value(json_object_get(span, key));
}

static void run_cmd(cu_cmd *cmd, const cu_run_opts *o, cu_result **keep) {
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, o, &r), 0);
  if (keep)
    *keep = r;
  else
    r = cu_result_free(r);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------- spans */

static void test_trace_one_span_per_command(void **state) {
  (void)state;
  traced t;
  trace_begin(&t, NULL);
  cu_result *r = NULL;
  run_cmd(cut_cmd("exitcode", "3", NULL), NULL, &r);
  pid_t pid = r->pid;
  r = cu_result_free(r);
  run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  assert_int_equal(json_array_size(spans), 2);
  json_t *s = span_named(spans, "exitcode", 0);
  assert_int_equal(json_integer_value(json_object_get(s, "kind")), 3);
  assert_string_equal(sattr(s, "process.executable.name"), "exitcode");
  assert_string_equal(sattr(s, "process.executable.path"),
                      cut_helper("exitcode"));
  char want[32];
  snprintf(want, sizeof want, "%d", (int)pid);
  assert_string_equal(sattr(s, "process.pid"), want);
  assert_string_equal(sattr(s, "process.exit.code"), "3");
  assert_string_equal(sattr(s, "error.type"), "3");
  assert_string_equal(sattr(s, "cuprum.project"), "test-helpers");
  assert_null(sattr(s, "process.command_args")); /* opt-in only */
  assert_null(json_object_get(s, "parentSpanId"));
  json_t *st = json_object_get(s, "status");
  assert_int_equal(json_integer_value(json_object_get(st, "code")), 2);
  json_t *ok = span_named(spans, "exitcode", 1);
  assert_null(sattr(ok, "error.type"));
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(ok, "status"), "code")), 0);
  /* Separate runs, separate traces. */
  assert_string_not_equal(sfield(s, "traceId"), sfield(ok, "traceId"));
  assert_int_equal(strlen(sfield(s, "traceId")), 32);
  assert_int_equal(strlen(sfield(s, "spanId")), 16);
  json_decref(spans);
  trace_cleanup(&t);
}

static void test_trace_pipeline_parent_span(void **state) {
  (void)state;
  traced t;
  trace_begin(&t, NULL);
  cu_cmd *a = cut_cmd("writer", "--out", "26", "--text", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, NULL, &pr), 0);
  pr = cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  assert_int_equal(json_array_size(spans), 3);
  json_t *pipe = span_named(spans, "pipeline", 0);
  json_t *w = span_named(spans, "writer", 0);
  json_t *e = span_named(spans, "echoer", 0);
  assert_int_equal(json_integer_value(json_object_get(pipe, "kind")), 1);
  assert_string_equal(sfield(w, "parentSpanId"), sfield(pipe, "spanId"));
  assert_string_equal(sfield(e, "parentSpanId"), sfield(pipe, "spanId"));
  assert_string_equal(sfield(w, "traceId"), sfield(pipe, "traceId"));
  assert_string_equal(sfield(e, "traceId"), sfield(pipe, "traceId"));
  assert_string_equal(sattr(e, "cuprum.stage.index"), "1");
  assert_string_equal(sattr(e, "cuprum.stage.count"), "2");
  json_decref(spans);
  trace_cleanup(&t);
}

static void test_trace_batch_parent_span(void **state) {
  (void)state;
  traced t;
  trace_begin(&t, NULL);
  cu_cmd *c[3] = {cut_cmd("exitcode", "0", NULL),
                  cut_cmd("exitcode", "1", NULL),
                  cut_cmd("exitcode", "0", NULL)};
  cu_batch_item items[3] = {{.cmd = c[0]}, {.cmd = c[1]}, {.cmd = c[2]}};
  cu_parallel_result *pr = NULL;
  assert_int_equal(cu_parallel_run(items, 3, NULL, &pr), 0);
  pr = cu_parallel_result_free(pr);
  for (int i = 0; i < 3; i++)
    cu_cmd_free(c[i]);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  assert_int_equal(json_array_size(spans), 4);
  json_t *batch = span_named(spans, "batch", 0);
  assert_string_equal(sattr(batch, "cuprum.batch.size"), "3");
  for (int i = 0; i < 3; i++) {
    json_t *s = span_named(spans, "exitcode", i);
    assert_string_equal(sfield(s, "parentSpanId"), sfield(batch, "spanId"));
    assert_string_equal(sfield(s, "traceId"), sfield(batch, "traceId"));
    assert_non_null(sattr(s, "cuprum.batch.index"));
  }
  json_decref(spans);
  trace_cleanup(&t);
}

/* ------------------------------------------------------------- context */

#define PARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static void test_trace_context_both_ways(void **state) {
  (void)state;
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.traceparent = PARENT;
  o.tracestate = "vendor=x";
  trace_begin(&t, &o);
  cu_result *r = NULL;
  run_cmd(cut_cmd("envdump", "TRACEPARENT", "TRACESTATE", NULL), NULL, &r);
  char *out = strdup(r->out.data);
  r = cu_result_free(r);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  json_t *s = span_named(spans, "envdump", 0);
  /* The span joins the given trace under the given parent... */
  assert_string_equal(sfield(s, "traceId"), "0af7651916cd43dd8448eb211c80319c");
  assert_string_equal(sfield(s, "parentSpanId"), "b7ad6b7169203331");
  assert_string_equal(sfield(s, "traceState"), "vendor=x");
  /* ...and the child was told its own span is its parent. */
  char want[200];
  snprintf(want, sizeof want, "TRACEPARENT=00-%s-%s-01\nTRACESTATE=vendor=x\n",
           sfield(s, "traceId"), sfield(s, "spanId"));
  assert_string_equal(out, want);
  free(out);
  json_decref(spans);
  trace_cleanup(&t);
}

static void test_trace_parent_from_environment(void **state) {
  (void)state;
  setenv("TRACEPARENT", PARENT, 1);
  setenv("CU_TEST_ENV_PARENT", "1", 1);
  traced t;
  trace_begin(&t, NULL);
  run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  json_t *s = span_named(spans, "exitcode", 0);
  assert_string_equal(sfield(s, "traceId"), "0af7651916cd43dd8448eb211c80319c");
  assert_string_equal(sfield(s, "parentSpanId"), "b7ad6b7169203331");
  json_decref(spans);
  trace_cleanup(&t);
  /* A malformed parent is ignored: a new trace starts. */
  setenv("TRACEPARENT", "00-XYZ-b7ad6b7169203331-01", 1);
  trace_begin(&t, NULL);
  run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  trace_end(&t);
  spans = read_spans(t.file);
  s = span_named(spans, "exitcode", 0);
  assert_null(json_object_get(s, "parentSpanId"));
  json_decref(spans);
  trace_cleanup(&t);
  unsetenv("TRACEPARENT");
}

/* W3C Trace Context level 1, section 3.3: a tracestate that is not a
 * valid list is dropped, not passed on; a valid one is recorded and handed
 * to children in its canonical form; one too long for the 512 characters
 * vendors must carry loses members over 128 characters first, then members
 * from the end (3.3.1.5). */
static void test_trace_tracestate_checked(void **state) {
  (void)state;
  char many[33 * 8 + 1] = "", long4[4 * 204 + 1] = "", mixed[900] = "";
  for (int i = 0; i < 33; i++) /* 33 members: one too many */
    snprintf(many + strlen(many), sizeof many - strlen(many), "%sk%02d=v",
             i ? "," : "", i);
  for (int i = 0; i < 4; i++) { /* four 202-character members */
    size_t at = strlen(long4);
    snprintf(long4 + at, sizeof long4 - at, "%sl%d=", i ? "," : "", i);
    at = strlen(long4);
    memset(long4 + at, 'a' + i, 199);
    long4[at + 199] = '\0';
  }
  snprintf(mixed, sizeof mixed, "s=1,%s,t=2", long4);
  char mixed_cut[420];
  snprintf(mixed_cut, sizeof mixed_cut, "s=1,%.405s,t=2", long4);
  char many32[33 * 8];
  snprintf(many32, sizeof many32, "%.*s", 32 * 5 + 31, many);
  char long4_cut[2 * 203];
  snprintf(long4_cut, sizeof long4_cut, "%.405s", long4);
  static const char *const plain[][2] = {
      {"vendor=x", "vendor=x"},
      {" a=1, b=2 ,,\tc@sys=3\t,", "a=1,b=2,c@sys=3"},
      {"a= b", "a= b"},                  /* leading blank in a value */
      {"1t@s=x,k_-*/9=y", "1t@s=x,k_-*/9=y"},
      {"", NULL},                        /* empty: allowed, nothing sent */
      {"A=1", NULL},                     /* keys are lower case */
      {"1a=x", NULL},                    /* a simple key starts a-z */
      {"t@s23456789012345=x", NULL},     /* system-id over 14 */
      {"a=1,a=2", NULL},                 /* duplicate key */
      {"a =1", NULL},
      {"a=1=2", NULL},
      {"a=", NULL},                      /* empty value */
      {"a=x\x7f", NULL},
      {"a=1,junk", NULL},                /* the whole list goes */
  };
  struct {
    const char *in, *want;
  } cases[sizeof plain / sizeof *plain + 4];
  size_t n = 0;
  for (; n < sizeof plain / sizeof *plain; n++)
    cases[n].in = plain[n][0], cases[n].want = plain[n][1];
  cases[n].in = many, cases[n++].want = NULL;
  cases[n].in = many32, cases[n++].want = many32;
  cases[n].in = long4, cases[n++].want = long4_cut;
  cases[n].in = mixed, cases[n++].want = mixed_cut; /* long ones, last first */
  assert_true(strlen(long4) > 511 && strlen(long4_cut) <= 511);
  for (size_t i = 0; i < n; i++) {
    traced t;
    cu_tracer_opts o = CU_TRACER_OPTS_INIT;
    o.traceparent = PARENT;
    o.tracestate = cases[i].in;
    trace_begin(&t, &o);
    cu_result *r = NULL;
    run_cmd(cut_cmd("envdump", "TRACESTATE", NULL), NULL, &r);
    char child[700];
    snprintf(child, sizeof child, "TRACESTATE=%s\n",
             cases[i].want ? cases[i].want : "");
    if (!cases[i].want)
      snprintf(child, sizeof child, "TRACESTATE unset\n");
    if (strcmp(r->out.data, child) != 0)
      fail_msg("case %zu: the child got %s", i, r->out.data);
    r = cu_result_free(r);
    trace_end(&t);
    json_t *spans = read_spans(t.file);
    json_t *s = span_named(spans, "envdump", 0);
    json_t *ts = json_object_get(s, "traceState");
    if (cases[i].want)
      assert_string_equal(json_string_value(ts), cases[i].want);
    else
      assert_null(ts);
    /* The parent is kept either way. */
    assert_string_equal(sfield(s, "parentSpanId"), "b7ad6b7169203331");
    json_decref(spans);
    trace_cleanup(&t);
  }
}

/* W3C Trace Context level 1, section 3.2.4: a higher version is read by
 * its first 55 characters, which must end the value or be followed by '-';
 * version 00 is exactly 55 (fuzz_traceparent found "01-...-01x" taken). */
static void test_trace_parent_future_versions(void **state) {
  (void)state;
  static const struct {
    const char *tp;
    bool taken;
  } cases[] = {
      {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true},
      {"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what", true},
      {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", false},
      {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", false},
      {"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    traced t;
    cu_tracer_opts o = CU_TRACER_OPTS_INIT;
    o.traceparent = cases[i].tp;
    trace_begin(&t, &o);
    run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
    trace_end(&t);
    json_t *spans = read_spans(t.file);
    json_t *s = span_named(spans, "exitcode", 0);
    if (cases[i].taken != (json_object_get(s, "parentSpanId") != NULL))
      fail_msg("%s: %s", cases[i].tp, cases[i].taken ? "ignored" : "taken");
    if (cases[i].taken)
      assert_string_equal(sfield(s, "traceId"),
                          "0af7651916cd43dd8448eb211c80319c");
    json_decref(spans);
    trace_cleanup(&t);
  }
}

static void test_trace_no_propagation_leaves_env_alone(void **state) {
  (void)state;
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.no_propagate = true;
  trace_begin(&t, &o);
  cu_result *r = NULL;
  run_cmd(cut_cmd("envdump", "TRACEPARENT", NULL), NULL, &r);
  assert_string_equal(r->out.data, "TRACEPARENT unset\n");
  r = cu_result_free(r);
  trace_end(&t);
  trace_cleanup(&t);
}

/* ------------------------------------------------------------- content */

static void test_trace_args_redacted_and_line_events(void **state) {
  (void)state;
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.command_args = true;
  o.line_events = true;
  trace_begin(&t, &o);
  run_cmd(cut_cmd("writer", "--out", "2600", "--text", NULL), NULL, NULL);
  run_cmd(cut_cmd("envdump", "--token=abc", NULL), NULL, NULL);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  char *dump = json_dumps(span_named(spans, "envdump", 0), JSON_COMPACT);
  assert_non_null(strstr(dump, "{\"stringValue\":\"--token=***\"}"));
  /* The argument is hidden (its output line is the program's business). */
  assert_null(strstr(dump, "{\"stringValue\":\"--token=abc\"}"));
  free(dump);
  json_t *s = span_named(spans, "writer", 0);
  /* 200 lines: 128 events kept, 72 counted as dropped. */
  assert_int_equal(json_array_size(json_object_get(s, "events")), 128);
  assert_int_equal(json_integer_value(json_object_get(s, "droppedEventsCount")),
                   72);
  json_t *ev = json_array_get(json_object_get(s, "events"), 0);
  assert_string_equal(json_string_value(json_object_get(ev, "name")),
                      "stdout");
  json_decref(spans);
  trace_cleanup(&t);
}

/* OTLP attribute keys are unique: a tag given twice (a scope's and a
 * call's, or two names alike once written as UTF-8) is one attribute, the
 * last value winning as in the event JSON (found by fuzz_otlp_spans). */
static void test_trace_repeated_tags_one_attribute(void **state) {
  (void)state;
  traced t;
  trace_begin(&t, NULL);
  const cu_tag tags[] = {{"team", "a"}, {"x\xff", "1"}, {"team", "b"},
                         {"x\xfe", "2"}};
  cu_run_opts ro = CU_RUN_OPTS_INIT;
  ro.tags = tags;
  ro.n_tags = 4;
  run_cmd(cut_cmd("exitcode", "0", NULL), &ro, NULL);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  json_t *s = span_named(spans, "exitcode", 0);
  size_t i, n_team = 0, n_x = 0;
  json_t *a;
  json_array_foreach(json_object_get(s, "attributes"), i, a) {
    const char *k = json_string_value(json_object_get(a, "key"));
    n_team += strcmp(k, "cuprum.tag.team") == 0;
    n_x += strcmp(k, "cuprum.tag.x\xef\xbf\xbd") == 0;
  }
  assert_int_equal(n_team, 1);
  assert_int_equal(n_x, 1);
  assert_string_equal(sattr(s, "cuprum.tag.team"), "b");
  assert_string_equal(sattr(s, "cuprum.tag.x\xef\xbf\xbd"), "2");
  json_decref(spans);
  trace_cleanup(&t);
}

static void test_trace_timeout_and_spawn_failure(void **state) {
  (void)state;
  traced t;
  trace_begin(&t, NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.timeout_ms = 50;
  run_cmd(cut_cmd("sleeper", "10000", NULL), &o, NULL);
  cut_tool tool;
  cut_tool_make(&tool, "#!/nonexistent/interpreter\n");
  /* Removed after resolution: the spawn reports ENOENT (valgrind, too,
   * can report that; an exec failing inside the kernel kills it). */
  unlink(tool.path);
  cu_result *r = NULL;
  assert_int_equal(cu_run(tool.cmd, NULL, &r), CU_ENOTFOUND);
  r = cu_result_free(r);
  cut_tool_free(&tool);
  trace_end(&t);
  json_t *spans = read_spans(t.file);
  json_t *s = span_named(spans, "sleeper", 0);
  assert_string_equal(sattr(s, "error.type"), "timeout");
  assert_string_equal(sattr(s, "cuprum.timed_out"), "true");
  assert_string_equal(sattr(s, "cuprum.signal"), "15");
  json_t *f = span_named(spans, "tool", 0);
  assert_string_equal(sattr(f, "error.type"), "ENOTFOUND");
  json_decref(spans);
  trace_cleanup(&t);
}

static void test_trace_bad_options(void **state) {
  (void)state;
  cu_tracer *tr = NULL;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  assert_int_equal(cu_tracer_new(&o, &tr), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "file or export_fn"));
  o.file = "/nonexistent-dir/x.jsonl";
  int fds = cut_fd_count();
  assert_int_equal(cu_tracer_new(&o, &tr), CU_EIO);
  assert_int_equal(cut_fd_count(), fds);
  o = (cu_tracer_opts){.size = 1};
  assert_int_equal(cu_tracer_new(&o, &tr), CU_EINVAL);
  assert_null(tr);
  assert_null(cu_tracer_free(NULL));
}

#ifdef CUPRUM_HAVE_OTEL
/* OTLP headers come from the environment or options, percent-decoded: a
 * %0D%0A must not split the HTTP request, nor a %00 cut a header short. */
static void test_trace_otlp_headers_refuse_injection(void **state) {
  (void)state;
  const char *bad[] = {
      "x-a=b%0D%0AHost: evil",     /* CRLF in the value */
      "x-a%0D%0AHost=evil",        /* CRLF in the name */
      "x-a=b%00c",                 /* NUL */
      "x a=b",                     /* not a token */
      "x-a=b%7F",                  /* DEL */
      "ok=1,x-a=b%0Ac",            /* the second entry */
  };
  char huge[1100];
  memcpy(huge, "k=", 2);
  memset(huge + 2, 'v', sizeof huge - 3);
  huge[sizeof huge - 1] = '\0';
  for (size_t i = 0; i < sizeof bad / sizeof *bad + 1; i++) {
    cu_otel_http_opts ho = CU_OTEL_HTTP_OPTS_INIT;
    ho.endpoint = "http://127.0.0.1:9/v1/traces";
    ho.headers = i < sizeof bad / sizeof *bad ? bad[i] : huge;
    cu_otel_http *h = NULL;
    int fds = cut_fd_count();
    int rc = cu_otel_http_new(&ho, &h);
    if (rc == CU_ESYS)
      skip(); /* no libcurl.so.4 here */
    if (rc != CU_EINVAL)
      print_message("headers case %zu: %d\n", i, rc);
    assert_int_equal(rc, CU_EINVAL);
    assert_null(h);
    assert_int_equal(cut_fd_count(), fds);
  }
  /* Tabs, spaces, obs-text and percent-encoded commas are values. */
  cu_otel_http_opts ho = CU_OTEL_HTTP_OPTS_INIT;
  ho.endpoint = "http://127.0.0.1:9/v1/traces";
  ho.headers = "x-api-key=a%20b%09c%2Cd\xc3\xa9,broken,=skipped";
  cu_otel_http *h = NULL;
  assert_int_equal(cu_otel_http_new(&ho, &h), 0);
  assert_null(cu_otel_http_free(h));
  /* The OpenTelemetry format is W3C Baggage's: blanks around members,
   * names and values are allowed, not part of them (fuzz_otlp_headers
   * found "a=1, b=2" refused as a name " b"). */
  ho.headers = "a=1, b = 2 ,\tc=3\t,  ,";
  assert_int_equal(cu_otel_http_new(&ho, &h), 0);
  assert_null(cu_otel_http_free(h));
}
#endif

/* ------------------------------------------------------------- export */

/* A transport that never answers within its budget: it waits out the
 * timeout it is given, like a black-holed collector. */
static int black_hole(void *data, const char *body, size_t len,
                      const cu_trace_deadline *deadline) {
  atomic_int *calls = data;
  atomic_fetch_add(calls, 1);
  struct pollfd none;
  while (cu_trace_deadline_left_ms(deadline) > 0)
    poll(&none, 0, 5);
  return -1;
}

static void test_trace_stuck_collector_never_slows_runs(void **state) {
  (void)state;
  atomic_int calls = 0;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.export_fn = black_hole;
  o.export_data = &calls;
  o.queue_size = 8;
  o.batch_size = 2;
  o.schedule_delay_ms = 1;
  o.export_timeout_ms = 60000;
  o.shutdown_timeout_ms = 300;
  traced t;
  trace_begin(&t, &o);
  int64_t t0 = cut_now_ms();
  for (int i = 0; i < 40; i++)
    run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  int64_t runs_ms = cut_now_ms() - t0;
  /* The exporter is stuck in its first request for a minute; 40 runs
   * still finish at their own pace (bounded generously for sanitizers). */
  assert_true(runs_ms < 20000);
  assert_true(cu_tracer_dropped(t.tracer) >= 40 - 8 - 2);
  int64_t t1 = cut_now_ms();
  cu_hook_detach(t.hook);
  t.hook = cu_hook_unref(t.hook);
  t.tracer = cu_tracer_free(t.tracer);
  /* Shutdown waited about its 300 ms budget, not the export timeout. */
  assert_true(cut_now_ms() - t1 < 300 + 5000);
  assert_true(atomic_load(&calls) >= 1);
  trace_cleanup(&t);
}

static void test_trace_flush_exports_everything(void **state) {
  (void)state;
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.schedule_delay_ms = 60000; /* only the flush sends */
  trace_begin(&t, &o);
  for (int i = 0; i < 5; i++)
    run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  assert_int_equal(cu_tracer_flush(t.tracer, 30000), 0);
  assert_int_equal(cu_tracer_exported(t.tracer), 5);
  assert_int_equal(cu_tracer_dropped(t.tracer), 0);
  json_t *spans = read_spans(t.file);
  assert_int_equal(json_array_size(spans), 5);
  json_decref(spans);
  trace_end(&t);
  trace_cleanup(&t);
}

/* ------------------------------------------------------------- official */

/* tests/otel with its npm packages installed (scripts/deps.sh test). */
static const char *otel_dir_or_skip(void) {
  static char dir[600];
  snprintf(dir, sizeof dir, "%s/tests/otel", CU_TEST_SOURCE_DIR);
  char probe[700];
  snprintf(probe, sizeof probe,
           "%s/node_modules/@opentelemetry/otlp-transformer/package.json",
           dir);
  if (!tu_which("node") || access(probe, R_OK) != 0) {
    print_message("SKIP: node or tests/otel/node_modules missing (run "
                  "scripts/deps.sh test)\n");
    return NULL;
  }
  return dir;
}

static void test_trace_file_matches_official_sdk(void **state) {
  (void)state;
  const char *dir = otel_dir_or_skip();
  if (!dir)
    skip();
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.command_args = true;
  o.line_events = true;
  o.traceparent = PARENT;
  trace_begin(&t, &o);
  run_cmd(cut_cmd("exitcode", "3", NULL), NULL, NULL);
  run_cmd(cut_cmd("writer", "--out", "39", "--err", "13", "--text", NULL),
          NULL, NULL);
  cu_cmd *a = cut_cmd("writer", "--out", "26", "--text", NULL);
  cu_cmd *b = cut_cmd("echoer", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, NULL, &pr), 0);
  pr = cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
  trace_end(&t);
  char node[4096], script[700];
  snprintf(node, sizeof node, "%s", tu_which("node"));
  snprintf(script, sizeof script, "%s/compare.mjs", dir);
  char *argv[] = {node, script, t.file, NULL};
  char *out = NULL;
  int st = tu_run(argv, NULL, &out, 1);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail_msg("compare.mjs: %s", out);
  assert_non_null(strstr(out, "5 spans compared, 0 differences"));
  free(out);
  trace_cleanup(&t);
}

#ifdef CUPRUM_HAVE_OTEL
typedef struct receiver {
  pid_t pid;
  int in; /* its stdin: closing it stops the receiver */
  int port;
} receiver;

/* The slow mode answers after SLOW_ANSWER_MS: far longer than the runs
 * and the shutdown below take even under valgrind on a loaded machine, so
 * a run that waited for the answer cannot pass for a slow run. */
#define SLOW_ANSWER_MS 60000

static void receiver_start(receiver *r, const char *dir, const char *mode) {
  char node[4096], script[700];
  snprintf(node, sizeof node, "%s", tu_which("node"));
  snprintf(script, sizeof script, "%s/receiver.mjs", dir);
  int in[2], out[2];
  assert_int_equal(pipe2(in, O_CLOEXEC), 0);
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  char delay[32];
  snprintf(delay, sizeof delay, "%d", SLOW_ANSWER_MS);
  char *argv[] = {node, script, "--mode", (char *)mode, "--delay-ms", delay,
                  NULL};
  assert_int_equal(posix_spawn(&r->pid, node, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  r->in = in[1];
  char buf[64] = {0};
  size_t len = 0;
  while (len < sizeof buf - 1 && !strchr(buf, '\n')) {
    ssize_t n = read(out[0], buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  close(out[0]);
  assert_int_equal(sscanf(buf, "listening %d", &r->port), 1);
}

static void receiver_stop(receiver *r) {
  close(r->in);
  waitpid(r->pid, NULL, 0);
}

/* An OTLP/HTTP transport to the receiver on `port`, with `headers` as
 * OTEL_EXPORTER_OTLP_HEADERS would give them (NULL: none). */
static cu_otel_http *transport(int port, const char *headers) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", port);
  cu_otel_http_opts ho = CU_OTEL_HTTP_OPTS_INIT;
  ho.endpoint = url;
  ho.headers = headers;
  cu_otel_http *h = NULL;
  assert_int_equal(cu_otel_http_new(&ho, &h), 0);
  return h;
}

static void test_trace_otlp_http_strictly_decoded(void **state) {
  (void)state;
  const char *dir = otel_dir_or_skip();
  if (!dir)
    skip();
  receiver rcv;
  receiver_start(&rcv, dir, "ok");
  cu_otel_http *h = transport(rcv.port, NULL);
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.export_fn = cu_otel_http_export;
  o.export_data = h;
  o.command_args = true;
  o.line_events = true;
  trace_begin(&t, &o);
  run_cmd(cut_cmd("exitcode", "2", NULL), NULL, NULL);
  run_cmd(cut_cmd("writer", "--out", "26", "--text", NULL), NULL, NULL);
  cu_cmd *c[2] = {cut_cmd("exitcode", "0", NULL), cut_cmd("echoer", NULL)};
  cu_batch_item items[2] = {{.cmd = c[0]}, {.cmd = c[1]}};
  cu_parallel_result *pr = NULL;
  assert_int_equal(cu_parallel_run(items, 2, NULL, &pr), 0);
  pr = cu_parallel_result_free(pr);
  cu_cmd_free(c[0]);
  cu_cmd_free(c[1]);
  assert_int_equal(cu_tracer_flush(t.tracer, 30000), 0);
  assert_int_equal(cu_tracer_exported(t.tracer), 5);
  assert_int_equal(cu_tracer_dropped(t.tracer), 0);
  trace_end(&t);
  cu_otel_http_free(h);
  char *errors = NULL, *spans = NULL;
  assert_int_equal(tu_http_get(rcv.port, "/errors", &errors), 0);
  assert_int_equal(tu_http_get(rcv.port, "/spans", &spans), 0);
  receiver_stop(&rcv);
  assert_string_equal(errors, "[]");
  json_t *all = json_loads(spans, 0, NULL);
  assert_int_equal(json_array_size(all), 5);
  json_decref(all);
  free(errors);
  free(spans);
  trace_cleanup(&t);
}

/* OTEL_EXPORTER_OTLP_HEADERS reaches the collector as written, decoded:
 * a percent-encoded blank and tab, and an empty value, which libcurl
 * would drop as "Name: " unless it is sent as "Name;". */
static void test_trace_otlp_headers_sent(void **state) {
  (void)state;
  const char *dir = otel_dir_or_skip();
  if (!dir)
    skip();
  receiver rcv;
  receiver_start(&rcv, dir, "ok");
  cu_otel_http *h =
      transport(rcv.port, "x-api-key=a%20b, x-empty=,x-tab=c%09d");
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.export_fn = cu_otel_http_export;
  o.export_data = h;
  trace_begin(&t, &o);
  run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  assert_int_equal(cu_tracer_flush(t.tracer, 30000), 0);
  assert_int_equal(cu_tracer_exported(t.tracer), 1);
  trace_end(&t);
  cu_otel_http_free(h);
  char *headers = NULL;
  assert_int_equal(tu_http_get(rcv.port, "/headers", &headers), 0);
  receiver_stop(&rcv);
  json_t *all = json_loads(headers, 0, NULL);
  assert_non_null(all);
  assert_true(json_array_size(all) >= 1);
  json_t *first = json_array_get(all, 0);
  assert_string_equal(json_string_value(json_object_get(first, "x-api-key")),
                      "a b");
  assert_string_equal(json_string_value(json_object_get(first, "x-tab")),
                      "c\td");
  json_t *empty = json_object_get(first, "x-empty");
  if (!empty)
    fail_msg("x-empty not sent: %s", headers);
  assert_string_equal(json_string_value(empty), "");
  json_decref(all);
  free(headers);
  trace_cleanup(&t);
}

static void test_trace_refusing_and_dead_collector(void **state) {
  (void)state;
  const char *dir = otel_dir_or_skip();
  if (!dir)
    skip();
  receiver rcv;
  receiver_start(&rcv, dir, "refuse");
  int dead_port = tu_free_port(); /* nobody listens there */
  int ports[2] = {rcv.port, dead_port};
  for (int k = 0; k < 2; k++) {
    cu_otel_http *h = transport(ports[k], NULL);
    traced t;
    cu_tracer_opts o = CU_TRACER_OPTS_INIT;
    o.export_fn = cu_otel_http_export;
    o.export_data = h;
    trace_begin(&t, &o);
    for (int i = 0; i < 3; i++)
      run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
    assert_int_equal(cu_tracer_flush(t.tracer, 30000), 0);
    assert_int_equal(cu_tracer_dropped(t.tracer), 3);
    assert_int_equal(cu_tracer_exported(t.tracer), 0);
    trace_end(&t);
    cu_otel_http_free(h);
    trace_cleanup(&t);
  }
  receiver_stop(&rcv);
}

static void test_trace_slow_collector_bounded_shutdown(void **state) {
  (void)state;
  const char *dir = otel_dir_or_skip();
  if (!dir)
    skip();
  receiver rcv;
  receiver_start(&rcv, dir, "slow"); /* answers after SLOW_ANSWER_MS */
  cu_otel_http *h = transport(rcv.port, NULL);
  traced t;
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.export_fn = cu_otel_http_export;
  o.export_data = h;
  o.shutdown_timeout_ms = 500;
  o.schedule_delay_ms = 1;
  trace_begin(&t, &o);
  int64_t t0 = cut_now_ms();
  for (int i = 0; i < 3; i++)
    run_cmd(cut_cmd("exitcode", "0", NULL), NULL, NULL);
  /* No run waited for the answer. Three runs take well under a second
   * natively, several seconds under valgrind at load 20+: the bound is
   * half the answer's delay, not a speed goal. */
  assert_true(cut_now_ms() - t0 < SLOW_ANSWER_MS / 2);
  int64_t t1 = cut_now_ms();
  trace_end(&t); /* flush budget 500 ms: gives up on the slow answer */
  assert_true(cut_now_ms() - t1 < 4000 + cut_slack_ms());
  cu_otel_http_free(h);
  receiver_stop(&rcv);
  trace_cleanup(&t);
}
#endif

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_trace_one_span_per_command),
    cmocka_unit_test(test_trace_pipeline_parent_span),
    cmocka_unit_test(test_trace_batch_parent_span),
    cmocka_unit_test(test_trace_context_both_ways),
    cmocka_unit_test(test_trace_parent_from_environment),
    cmocka_unit_test(test_trace_parent_future_versions),
    cmocka_unit_test(test_trace_tracestate_checked),
    cmocka_unit_test(test_trace_no_propagation_leaves_env_alone),
    cmocka_unit_test(test_trace_args_redacted_and_line_events),
    cmocka_unit_test(test_trace_repeated_tags_one_attribute),
    cmocka_unit_test(test_trace_timeout_and_spawn_failure),
    cmocka_unit_test(test_trace_bad_options),
    cmocka_unit_test(test_trace_stuck_collector_never_slows_runs),
    cmocka_unit_test(test_trace_flush_exports_everything),
    cmocka_unit_test(test_trace_file_matches_official_sdk),
#ifdef CUPRUM_HAVE_OTEL
    cmocka_unit_test(test_trace_otlp_headers_refuse_injection),
    cmocka_unit_test(test_trace_otlp_http_strictly_decoded),
    cmocka_unit_test(test_trace_otlp_headers_sent),
    cmocka_unit_test(test_trace_refusing_and_dead_collector),
    cmocka_unit_test(test_trace_slow_collector_bounded_shutdown),
#endif
};

CU_TEST_MAIN(tests)
