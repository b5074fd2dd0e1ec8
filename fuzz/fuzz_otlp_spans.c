/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the OTLP/JSON span encoder (src/telemetry/trace.c:
 * the resource prefix, the span's ids, attributes and events), driven
 * through a tracer whose export function keeps the request bodies. The
 * input: a flags byte (command_args, line_events, exit by a signal, a
 * project), an exit code or signal, then NUL-ended strings: service name,
 * TRACEPARENT, TRACESTATE, program, path, project name, a count byte and
 * that many output lines, a count byte and that many tag key/value pairs,
 * and the argv to the end. One command runs (plan, lines, exit events
 * given straight to the tracer's observer), the tracer is flushed, and
 * each body is parsed back by jansson (duplicate keys rejected) and
 * compared with what was given:
 *   - every string exactly, after the documented replacement of each byte
 *     that starts no valid UTF-8 sequence by U+FFFD (fuzz/ref_utf8.h):
 *     service.name, the span's name (the path's base name, else the
 *     program), process.executable.name/.path, process.command_args,
 *     cuprum.project, each cuprum.tag.KEY (the last of repeated keys), the
 *     line events; traceState is the TRACESTATE's canonical form (the
 *     tracer's checker, itself checked against a reference by
 *     fuzz_traceparent), present when that is not empty;
 *   - one span; traceId / spanId / parentSpanId lower-case hex of 32 / 16
 *     / 16 digits, not all zero; with an accepted TRACEPARENT, its trace id
 *     and its parent id as the parent; exit code or signal and status;
 *   - attribute keys unique in each list (OTLP requires it).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/catalogue.h>
#include <cuprum/context.h>
#include <cuprum/redact.h>
#include <cuprum/trace.h>

#include "context/scope.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "ref_utf8.h"
#include "telemetry/trace_int.h"

#define MAX_LINES 3
#define MAX_TAGS 5
#define MAX_ARGV 6

static cu_redact *no_redact;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  no_redact = fuzz_redact_nothing();
  return 0;
}

static int take_byte(in *r) { return (int)take_u64(r, 1); }

/* The next string, "" past the end. */
static char *take_text(in *r) {
  char *s = take_str(r);
  if (!s && !(s = strdup("")))
    abort();
  return s;
}

/* ------------------------------------------------------------ bodies */

typedef struct bodies {
  pthread_mutex_t mu;
  char *text[8];
  size_t n;
} bodies;

static int keep_body(void *data, const char *body, size_t len,
                     const cu_trace_deadline *deadline) {
  (void)deadline;
  bodies *b = data;
  pthread_mutex_lock(&b->mu);
  CHECK(b->n < 8);
  b->text[b->n] = strndup(body, len);
  CHECK(b->text[b->n] && strlen(b->text[b->n]) == len);
  b->n++;
  pthread_mutex_unlock(&b->mu);
  return 0;
}

/* ------------------------------------------------------------ checks */

static void check_str(json_t *v, const char *raw) {
  size_t want_len;
  char *want = ref_utf8_fix(raw, strlen(raw), &want_len);
  CHECK(json_is_string(v) && json_string_length(v) == want_len &&
        memcmp(json_string_value(v), want, want_len) == 0);
  free(want);
}

static void check_hex(json_t *v, size_t digits, const uint8_t *bytes) {
  CHECK(json_is_string(v) && json_string_length(v) == digits);
  const char *s = json_string_value(v);
  bool zero = true;
  for (size_t i = 0; i < digits; i++) {
    CHECK((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
    zero &= s[i] == '0';
  }
  CHECK(!zero);
  if (bytes) {
    char want[33];
    for (size_t i = 0; i < digits / 2; i++)
      snprintf(want + 2 * i, 3, "%02x", bytes[i]);
    CHECK(memcmp(s, want, digits) == 0);
  }
}

/* The value object of attribute `key` in the list (NULL if absent), after
 * checking that no key is there twice. */
static json_t *attr(json_t *list, const char *key) {
  CHECK(json_is_array(list));
  json_t *found = NULL;
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *kv = json_array_get(list, i);
    json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
    CHECK(json_is_string(k) && json_is_object(v));
    for (size_t j = i + 1; j < json_array_size(list); j++)
      CHECK(!json_equal(k, json_object_get(json_array_get(list, j), "key")));
    if (key && strlen(key) == json_string_length(k) &&
        memcmp(json_string_value(k), key, strlen(key)) == 0)
      found = v;
  }
  return found;
}

static void check_attr_str(json_t *list, const char *key, const char *raw) {
  json_t *v = attr(list, key);
  CHECK(v && json_object_size(v) == 1);
  check_str(json_object_get(v, "stringValue"), raw);
}

typedef struct want {
  char *service, *tracestate, *program, *path, *project;
  char *lines[MAX_LINES];
  size_t n_lines;
  cu_tag tags[MAX_TAGS];
  size_t n_tags;
  const char *argv[MAX_ARGV + 1];
  size_t n_argv;
  bool args, line_events, by_signal, has_parent;
  int code;
  uint8_t parent_trace[16], parent_span[8];
} want;

/* The attribute key tag i must have (fixed), or NULL when it has none:
 * "project", "stage" and "stages" and repeated keys (the last wins). */
static char *tag_key(const want *w, size_t i) {
  const char *k = w->tags[i].key;
  if (!strcmp(k, "project") || !strcmp(k, "stage") || !strcmp(k, "stages"))
    return NULL;
  char *fixed = ref_utf8_fix(k, strlen(k), NULL);
  for (size_t j = i + 1; j < w->n_tags; j++) {
    char *other = ref_utf8_fix(w->tags[j].key, strlen(w->tags[j].key), NULL);
    bool same = strcmp(other, fixed) == 0;
    free(other);
    if (same) {
      free(fixed);
      return NULL;
    }
  }
  char *key = malloc(strlen(fixed) + sizeof "cuprum.tag.");
  CHECK(key);
  strcpy(key, "cuprum.tag.");
  strcat(key, fixed);
  free(fixed);
  return key;
}

static void check_span(json_t *sp, const want *w) {
  CHECK(json_is_object(sp));
  check_hex(json_object_get(sp, "traceId"), 32,
            w->has_parent ? w->parent_trace : NULL);
  check_hex(json_object_get(sp, "spanId"), 16, NULL);
  json_t *parent = json_object_get(sp, "parentSpanId");
  CHECK(!parent == !w->has_parent);
  if (parent)
    check_hex(parent, 16, w->parent_span);
  json_t *ts = json_object_get(sp, "traceState");
  char canon[512]; /* the tracer's room */
  cu__tracestate_normalize(w->tracestate, canon, sizeof canon);
  bool want_ts = w->has_parent && canon[0];
  CHECK(!ts == !want_ts);
  if (ts)
    check_str(ts, canon);
  const char *slash = w->path[0] ? strrchr(w->path, '/') : NULL;
  const char *name = slash ? slash + 1 : w->path[0] ? w->path : w->program;
  check_str(json_object_get(sp, "name"), name);
  json_t *attrs = json_object_get(sp, "attributes");
  check_attr_str(attrs, "process.executable.name", name);
  check_attr_str(attrs, "process.executable.path", w->path);
  json_t *args = attr(attrs, "process.command_args");
  CHECK(!args == !w->args);
  if (args) {
    json_t *vals = json_object_get(json_object_get(args, "arrayValue"),
                                   "values");
    CHECK(json_array_size(vals) == w->n_argv);
    for (size_t i = 0; i < w->n_argv; i++)
      check_str(json_object_get(json_array_get(vals, i), "stringValue"),
                w->argv[i]);
  }
  if (w->project)
    check_attr_str(attrs, "cuprum.project", w->project);
  else
    CHECK(!attr(attrs, "cuprum.project"));
  size_t n_tag_attrs = 0;
  for (size_t i = 0; i < w->n_tags; i++) {
    char *key = tag_key(w, i);
    if (key) {
      check_attr_str(attrs, key, w->tags[i].value);
      n_tag_attrs++;
    }
    free(key);
  }
  size_t seen_tags = 0;
  for (size_t i = 0; i < json_array_size(attrs); i++) {
    const char *k = json_string_value(json_object_get(json_array_get(attrs, i),
                                                      "key"));
    seen_tags += strncmp(k, "cuprum.tag.", 11) == 0;
  }
  CHECK(seen_tags == n_tag_attrs);
  char code[24];
  snprintf(code, sizeof code, "%d", w->code);
  json_t *exit_attr = attr(attrs, w->by_signal && w->code ? "cuprum.signal"
                                                          : "process.exit.code");
  CHECK(exit_attr);
  json_t *iv = json_object_get(exit_attr, "intValue");
  CHECK(json_is_string(iv) && strcmp(json_string_value(iv), code) == 0);
  json_t *status = json_object_get(sp, "status");
  json_int_t sc = json_integer_value(json_object_get(status, "code"));
  CHECK(sc == (w->code ? 2 : 0));
  json_t *events = json_object_get(sp, "events");
  CHECK(json_array_size(events) == (w->line_events ? w->n_lines : 0));
  for (size_t i = 0; i < json_array_size(events); i++) {
    json_t *ev = json_array_get(events, i);
    CHECK(json_is_string(json_object_get(ev, "name")));
    json_t *la = json_object_get(ev, "attributes");
    check_attr_str(la, "line", w->lines[i]);
  }
}

static void check_body(const char *text, const want *w, size_t *n_spans) {
  json_error_t err;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                            &err);
  CHECK(root);
  json_t *rs = json_array_get(json_object_get(root, "resourceSpans"), 0);
  json_t *rattrs = json_object_get(json_object_get(rs, "resource"),
                                   "attributes");
  check_attr_str(rattrs, "service.name", w->service[0] ? w->service : "cuprum");
  json_t *spans = json_object_get(
      json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
  CHECK(json_is_array(spans));
  for (size_t i = 0; i < json_array_size(spans); i++)
    check_span(json_array_get(spans, i), w);
  *n_spans += json_array_size(spans);
  json_decref(root);
}

/* ------------------------------------------------------------------ run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in r = {data, size, 0};
  int flags = take_byte(&r);
  want w = {.args = flags & 1, .line_events = flags & 2,
            .by_signal = flags & 4};
  w.code = take_byte(&r) % (w.by_signal ? 65 : 256);
  w.service = take_text(&r);
  char *traceparent = take_text(&r);
  w.tracestate = take_text(&r);
  w.program = take_text(&r);
  w.path = take_text(&r);
  char *project_name = take_text(&r);
  w.n_lines = (size_t)take_byte(&r) % (MAX_LINES + 1);
  for (size_t i = 0; i < w.n_lines; i++)
    w.lines[i] = take_text(&r);
  w.n_tags = (size_t)take_byte(&r) % (MAX_TAGS + 1);
  for (size_t i = 0; i < w.n_tags; i++) {
    w.tags[i].key = take_text(&r);
    w.tags[i].value = take_text(&r);
  }
  w.argv[w.n_argv++] = strdup(w.program);
  while (r.at < r.n && w.n_argv < MAX_ARGV)
    w.argv[w.n_argv++] = take_text(&r);
  w.argv[w.n_argv] = NULL;
  uint8_t flags_byte;
  w.has_parent = cu__traceparent_parse(traceparent, w.parent_trace,
                                       w.parent_span, &flags_byte);

  cu_catalogue *cat = NULL;
  CHECK(cu_catalogue_new(&cat) == 0);
  const cu_project *project = NULL;
  if (flags & 8) {
    cu_project_spec spec = CU_PROJECT_SPEC_INIT;
    spec.name = project_name;
    if (cu_catalogue_add_project(cat, &spec) == 0)
      project = cu_catalogue_project(cat, project_name);
  }
  w.project = project ? project_name : NULL;

  bodies b = {.n = 0};
  pthread_mutex_init(&b.mu, NULL);
  cu_tracer_opts o = CU_TRACER_OPTS_INIT;
  o.service_name = w.service;
  o.export_fn = keep_body;
  o.export_data = &b;
  o.traceparent = traceparent;
  o.tracestate = w.tracestate;
  o.no_env_parent = true;
  o.command_args = w.args;
  o.line_events = w.line_events;
  o.schedule_delay_ms = 600000; /* only the flush exports */
  o.redact = no_redact;
  cu_tracer *t = NULL;
  CHECK(cu_tracer_new(&o, &t) == 0);
  cu_hook *hook = NULL;
  CHECK(cu_tracer_attach(t, &hook) == 0);
  cu_hook_detach(hook); /* called directly below, never by a run */

  cu_event ev = {.phase = CU_EV_PLAN, .exec_id = 7, .run_id = 7,
                 .program = w.program, .path = w.path[0] ? w.path : NULL,
                 .argv = w.argv, .n_argv = w.n_argv, .tags = w.tags,
                 .n_tags = w.n_tags, .project = project, .n_stages = 1};
  CHECK(hook->observe(hook->data, &ev) == 0);
  ev.phase = CU_EV_START;
  ev.pid = 4242;
  CHECK(hook->observe(hook->data, &ev) == 0);
  for (size_t i = 0; w.line_events && i < w.n_lines; i++) {
    ev.phase = i % 2 ? CU_EV_STDERR_LINE : CU_EV_STDOUT_LINE;
    ev.line = w.lines[i];
    ev.line_len = strlen(w.lines[i]);
    CHECK(hook->observe(hook->data, &ev) == 0);
  }
  ev.phase = CU_EV_EXIT;
  ev.line = NULL;
  ev.line_len = 0;
  ev.exit_code = w.by_signal && w.code ? -1 : w.code;
  ev.term_signal = w.by_signal ? w.code : 0;
  ev.duration_ns = 1000;
  CHECK(hook->observe(hook->data, &ev) == 0);
  CHECK(cu_tracer_flush(t, 30000) == 0);
  CHECK(cu_tracer_dropped(t) == 0);

  size_t n_spans = 0;
  pthread_mutex_lock(&b.mu);
  for (size_t i = 0; i < b.n; i++)
    check_body(b.text[i], &w, &n_spans);
  pthread_mutex_unlock(&b.mu);
  CHECK(n_spans == 1);

  cu_hook_unref(hook);
  t = cu_tracer_free(t);
  for (size_t i = 0; i < b.n; i++)
    free(b.text[i]);
  pthread_mutex_destroy(&b.mu);
  cu_catalogue_unref(cat);
  free(w.service);
  free(traceparent);
  free(w.tracestate);
  free(w.program);
  free(w.path);
  free(project_name);
  for (size_t i = 0; i < w.n_lines; i++)
    free(w.lines[i]);
  for (size_t i = 0; i < w.n_tags; i++) {
    free((char *)w.tags[i].key);
    free((char *)w.tags[i].value);
  }
  for (size_t i = 0; i < w.n_argv; i++)
    free((char *)w.argv[i]);
  return 0;
}
