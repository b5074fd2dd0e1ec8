/* SPDX-License-Identifier: MIT */
/*
 * The tracer (cuprum/trace.h): events in, OTLP/JSON spans out.
 *
 * Span ids are derived, not stored: a command's span id is a keyed hash of
 * its exec_id, a pipeline's of its run_id, a batch's of its batch_id, with
 * a random key per tracer. So the runtime can ask for a stage's
 * TRACEPARENT before it spawns (cu__ctx_traceparent) and the observer finds
 * the same id later, without shared tables between the two.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/fmt.h"
#include "cuprum/cuprum.h" /* cu_version */
#include "context/redact_int.h"
#include "context/scope.h"
#include "telemetry/trace_int.h"

#define MAX_SPAN_EVENTS 128
#define KIND_INTERNAL 1
#define KIND_CLIENT 3

enum { SPAN_CMD = 1, SPAN_PIPE = 2, SPAN_BATCH = 3 };

typedef struct span {
  int type;
  uint64_t key;    /* exec_id, run_id or batch_id */
  uint64_t run_id; /* for commands and pipelines */
  uint8_t trace[16], id[8], parent[8];
  bool has_parent;
  char *name;
  int kind;
  int64_t start_ns;
  cu__sbuf attrs;  /* comma-separated OTLP KeyValue objects */
  cu__sbuf events; /* comma-separated OTLP Event objects */
  unsigned n_events, dropped_events;
  int open_stages; /* pipelines: stages not yet ended */
  bool failed, timed_out, cancelled;
  char error_type[48];
} span;

struct cu_tracer {
  atomic_uint refs;
  atomic_bool shut;
  uint64_t salt[3];
  bool has_parent;
  uint8_t parent_trace[16], parent_span[8];
  char tracestate[512];
  bool propagate, command_args, line_events;
  int64_t export_timeout_ms, shutdown_timeout_ms;
  const cu_redact *redact;
  pthread_mutex_t mu; /* open spans */
  span **open;
  size_t n_open, cap_open;
  cu__exporter ex;
};

/* ------------------------------------------------------------- ids */

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static void span_id(const cu_tracer *t, int type, uint64_t key, uint8_t *out) {
  uint64_t v = mix(t->salt[0] ^ mix(key ^ ((uint64_t)type << 60)));
  put64(out, v ? v : 1); /* all-zero ids are invalid */
}

/* The trace of a root: the configured parent's, else one per run/batch. */
static void trace_id(const cu_tracer *t, int type, uint64_t key,
                     uint8_t *out) {
  if (t->has_parent) {
    memcpy(out, t->parent_trace, 16);
    return;
  }
  uint64_t k = key ^ ((uint64_t)type << 60);
  put64(out, mix(t->salt[1] ^ k));
  put64(out + 8, mix(t->salt[2] ^ mix(k)) | 1);
}

/* Identity of the span for `type`/`key` inside the event's run/batch:
 * its own id, its trace, and its parent. */
static void identify(const cu_tracer *t, int type, const cu_event *ev,
                     span *s) {
  uint64_t key = type == SPAN_CMD    ? ev->exec_id
                 : type == SPAN_PIPE ? ev->run_id
                                     : ev->batch_id;
  span_id(t, type, key, s->id);
  s->has_parent = true;
  if (type == SPAN_CMD && ev->n_stages > 1)
    span_id(t, SPAN_PIPE, ev->run_id, s->parent);
  else if (type != SPAN_BATCH && ev->batch_id)
    span_id(t, SPAN_BATCH, ev->batch_id, s->parent);
  else if (t->has_parent)
    memcpy(s->parent, t->parent_span, 8);
  else
    s->has_parent = false;
  if (ev->batch_id)
    trace_id(t, SPAN_BATCH, ev->batch_id, s->trace);
  else
    trace_id(t, SPAN_PIPE, ev->run_id, s->trace);
}

static void hex(cu__sbuf *b, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    cu__sbuf_putc(b, digits[p[i] >> 4]);
    cu__sbuf_putc(b, digits[p[i] & 15]);
  }
}

static int unhex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int v = 0;
    for (int j = 0; j < 2; j++) {
      char c = s[2 * i + (size_t)j];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : -1;
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
    out[i] = (uint8_t)v;
  }
  return 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

/* W3C Trace Context level 1, section 3.2: version 00 is exactly
 * "00-<32 hex>-<16 hex>-<2 hex>" in lower case; a higher version (not ff)
 * is read by the same prefix, which must end the string or be followed by
 * '-' (section 3.2.4, "Versioning of traceparent"). */
bool cu__traceparent_parse(const char *s, uint8_t trace[16],
                           uint8_t parent[8], uint8_t *flags) {
  if (!s || strnlen(s, 55) < 55 || s[2] != '-' || s[35] != '-' ||
      s[52] != '-')
    return false;
  uint8_t ver[1], tr[16], sp[8], fl[1];
  if (unhex(s, ver, 1) || ver[0] == 0xff ||
      (ver[0] == 0 ? s[55] != '\0' : s[55] != '\0' && s[55] != '-') ||
      unhex(s + 3, tr, 16) || unhex(s + 36, sp, 8) || unhex(s + 53, fl, 1) ||
      all_zero(tr, 16) || all_zero(sp, 8))
    return false;
  memcpy(trace, tr, 16);
  memcpy(parent, sp, 8);
  *flags = fl[0];
  return true;
}

void cu__traceparent_format(char out[CU__TRACEPARENT_LEN + 1],
                            const uint8_t trace[16], const uint8_t id[8],
                            uint8_t flags) {
  static const char digits[] = "0123456789abcdef";
  char *o = out;
  *o++ = '0';
  *o++ = '0';
  *o++ = '-';
  for (size_t i = 0; i < 16; i++, o += 2)
    o[0] = digits[trace[i] >> 4], o[1] = digits[trace[i] & 15];
  *o++ = '-';
  for (size_t i = 0; i < 8; i++, o += 2)
    o[0] = digits[id[i] >> 4], o[1] = digits[id[i] & 15];
  *o++ = '-';
  *o++ = digits[flags >> 4];
  *o++ = digits[flags & 15];
  *o = '\0';
}

static bool parse_traceparent(cu_tracer *t, const char *s) {
  uint8_t flags;
  t->has_parent = cu__traceparent_parse(s, t->parent_trace, t->parent_span,
                                        &flags);
  return t->has_parent;
}

/* ------------------------------------------------------------- attrs */

static void attr_begin(cu__sbuf *b, const char *key) {
  if (b->len)
    cu__sbuf_putc(b, ',');
  cu__sbuf_puts(b, "{\"key\":");
  cu__json_cstr(b, key);
  cu__sbuf_puts(b, ",\"value\":");
}

static void attr_str(cu__sbuf *b, const char *key, const char *v) {
  attr_begin(b, key);
  cu__sbuf_puts(b, "{\"stringValue\":");
  cu__json_cstr(b, v ? v : "");
  cu__sbuf_puts(b, "}}");
}

static void attr_int(cu__sbuf *b, const char *key, long long v) {
  attr_begin(b, key); /* int64 is a JSON string in the protobuf mapping */
  cu__sbuf_printf(b, "{\"intValue\":\"%lld\"}}", v);
}

static void attr_double(cu__sbuf *b, const char *key, double v) {
  attr_begin(b, key);
  cu__sbuf_printf(b, "{\"doubleValue\":%.6f}}", v);
}

static void attr_bool(cu__sbuf *b, const char *key, bool v) {
  attr_begin(b, key);
  cu__sbuf_printf(b, "{\"boolValue\":%s}}", v ? "true" : "false");
}

static void attr_strings(cu__sbuf *b, const char *key,
                         const char *const *v, size_t n) {
  attr_begin(b, key);
  cu__sbuf_puts(b, "{\"arrayValue\":{\"values\":[");
  for (size_t i = 0; i < n; i++) {
    cu__sbuf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
    cu__json_cstr(b, v[i] ? v[i] : "");
    cu__sbuf_putc(b, '}');
  }
  cu__sbuf_puts(b, "]}}}");
}

static int64_t unix_ns(struct timespec ts) { return cu__ts_ns(ts); }

/* ------------------------------------------------------------- spans */

static void span_free(span *s) {
  if (!s)
    return;
  free(s->name);
  cu__sbuf_free(&s->attrs);
  cu__sbuf_free(&s->events);
  free(s);
}

/* Open-span table; caller holds t->mu. */
static span *find(cu_tracer *t, int type, uint64_t key) {
  for (size_t i = 0; i < t->n_open; i++)
    if (t->open[i]->type == type && t->open[i]->key == key)
      return t->open[i];
  return NULL;
}

static span *take(cu_tracer *t, span *s) {
  for (size_t i = 0; i < t->n_open; i++) {
    if (t->open[i] == s) {
      t->open[i] = t->open[--t->n_open];
      return s;
    }
  }
  return NULL;
}

static span *open_span(cu_tracer *t, int type, uint64_t key,
                       const cu_event *ev, const char *name, int kind,
                       int64_t start_ns) {
  if (t->n_open == t->cap_open) {
    size_t cap = t->cap_open ? t->cap_open * 2 : 16;
    span **v = realloc(t->open, cap * sizeof *v);
    if (!v)
      return NULL;
    t->open = v;
    t->cap_open = cap;
  }
  span *s = calloc(1, sizeof *s);
  if (!s || !(s->name = cu__strdup(name))) {
    free(s);
    return NULL;
  }
  s->type = type;
  s->key = key;
  s->run_id = ev->run_id;
  s->kind = kind;
  s->start_ns = start_ns;
  identify(t, type, ev, s);
  t->open[t->n_open++] = s;
  return s;
}

/* Encode a finished span as one OTLP/JSON Span object and queue it. */
static void finish(cu_tracer *t, span *s, int64_t end_ns) {
  cu__sbuf b = {0};
  cu__sbuf_puts(&b, "{\"traceId\":\"");
  hex(&b, s->trace, 16);
  cu__sbuf_puts(&b, "\",\"spanId\":\"");
  hex(&b, s->id, 8);
  cu__sbuf_putc(&b, '"');
  if (s->has_parent) {
    cu__sbuf_puts(&b, ",\"parentSpanId\":\"");
    hex(&b, s->parent, 8);
    cu__sbuf_putc(&b, '"');
  }
  if (t->tracestate[0] && t->has_parent) {
    cu__sbuf_puts(&b, ",\"traceState\":");
    cu__json_cstr(&b, t->tracestate);
  }
  cu__sbuf_puts(&b, ",\"name\":");
  cu__json_cstr(&b, s->name);
  cu__sbuf_printf(&b, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\","
                  "\"endTimeUnixNano\":\"%lld\",\"attributes\":[",
                  s->kind, (long long)s->start_ns,
                  (long long)(end_ns > s->start_ns ? end_ns : s->start_ns));
  cu__sbuf_putn(&b, s->attrs.data ? s->attrs.data : "", s->attrs.len);
  cu__sbuf_puts(&b, "],\"droppedAttributesCount\":0,\"events\":[");
  cu__sbuf_putn(&b, s->events.data ? s->events.data : "", s->events.len);
  cu__sbuf_printf(&b, "],\"droppedEventsCount\":%u,\"links\":[],"
                  "\"droppedLinksCount\":0,\"status\":{",
                  s->dropped_events);
  if (s->failed) {
    cu__sbuf_puts(&b, "\"code\":2,\"message\":");
    cu__json_cstr(&b, s->error_type);
  } else {
    cu__sbuf_puts(&b, "\"code\":0");
  }
  /* W3C flags (sampled) plus OTLP's "is-remote known" bit, and "remote"
   * when the parent came from outside the process, as the SDKs do. */
  bool remote = s->has_parent && t->has_parent &&
                memcmp(s->parent, t->parent_span, 8) == 0;
  cu__sbuf_printf(&b, "},\"flags\":%d}", remote ? 0x301 : 0x101);
  /* An attribute or event list cut short by a failed allocation would be
   * broken JSON: the span is dropped (and counted) instead. */
  b.oom |= s->attrs.oom || s->events.oom;
  span_free(s);
  char *json = NULL;
  if (cu__sbuf_finish(&b, &json) != 0) {
    atomic_fetch_add(&t->ex.dropped, 1);
    return;
  }
  if (atomic_load(&t->shut)) {
    free(json);
    atomic_fetch_add(&t->ex.dropped, 1);
    return;
  }
  cu__exporter_push(&t->ex, json);
}

static void set_error(span *s, const char *type) {
  if (s->failed)
    return; /* the first cause names it */
  s->failed = true;
  snprintf(s->error_type, sizeof s->error_type, "%s", type);
  attr_str(&s->attrs, "error.type", type);
}

/* ------------------------------------------------------------- events */

static const char *base_name(const char *path, const char *fallback) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  return slash ? slash + 1 : path ? path : fallback ? fallback : "";
}

/* Whether tag i becomes a cuprum.tag.* attribute: not one with an
 * attribute of its own, and not repeated later (a scope's tag and a call's
 * of one name: the last wins, as in the event JSON, since OTLP attribute
 * keys must be unique; "\xff" and "\xfe" are one key once written). */
static bool tag_attr(const cu_event *ev, size_t i) {
  const char *k = ev->tags[i].key;
  if (!k || !strcmp(k, "project") || !strcmp(k, "stage") ||
      !strcmp(k, "stages"))
    return false; /* already attributes of their own */
  for (size_t j = i + 1; j < ev->n_tags; j++)
    if (ev->tags[j].key && cu__json_same_key(ev->tags[j].key, k))
      return false;
  return true;
}

static void on_plan(cu_tracer *t, const cu_event *ev) {
  int64_t now = unix_ns(ev->wall);
  if (ev->n_stages > 1 && !find(t, SPAN_PIPE, ev->run_id)) {
    span *p = open_span(t, SPAN_PIPE, ev->run_id, ev, "pipeline",
                        KIND_INTERNAL, now);
    if (p) {
      p->open_stages = ev->n_stages;
      attr_int(&p->attrs, "cuprum.stage.count", ev->n_stages);
      if (ev->batch_id)
        attr_int(&p->attrs, "cuprum.batch.index", ev->batch_index);
    }
  }
  const char *name = base_name(ev->path, ev->program);
  span *s = open_span(t, SPAN_CMD, ev->exec_id, ev, name, KIND_CLIENT, now);
  if (!s)
    return;
  cu__sbuf *a = &s->attrs;
  attr_str(a, "process.executable.name", name);
  attr_str(a, "process.executable.path", ev->path);
  if (t->command_args && ev->argv) {
    char **argv = NULL;
    if (cu_redact_argv(t->redact, ev->argv, ev->n_argv, &argv) == 0) {
      attr_strings(a, "process.command_args", (const char *const *)argv,
                   ev->n_argv);
      free(argv);
    }
  }
  attr_int(a, "cuprum.exec_id", (long long)ev->exec_id);
  if (ev->project)
    attr_str(a, "cuprum.project", cu_project_name(ev->project));
  if (ev->unsafe)
    attr_bool(a, "cuprum.unsafe", true);
  if (ev->n_stages > 1) {
    attr_int(a, "cuprum.stage.index", ev->stage_index);
    attr_int(a, "cuprum.stage.count", ev->n_stages);
  }
  if (ev->batch_id && ev->n_stages <= 1)
    attr_int(a, "cuprum.batch.index", ev->batch_index);
  for (size_t i = 0; i < ev->n_tags; i++) {
    const char *k = ev->tags[i].key;
    if (!tag_attr(ev, i))
      continue;
    char *key = cu__asprintf("cuprum.tag.%s", k);
    if (!key) {
      a->oom = true; /* the span is dropped and counted */
      return;
    }
    attr_str(a, key, cu__redact_label(t->redact, ev->tags[i].value));
    free(key);
  }
}

/* A stage ended (exit or spawn failure): its pipeline may end with it. */
static void stage_ended(cu_tracer *t, const cu_event *ev, bool failed,
                        const char *why, int64_t end) {
  if (ev->n_stages <= 1)
    return;
  span *p = find(t, SPAN_PIPE, ev->run_id);
  if (!p)
    return;
  if (failed)
    set_error(p, why);
  if (--p->open_stages <= 0)
    finish(t, take(t, p), end);
}

/* The signal's name without "SIG" ("TERM"), or NULL. glibc >= 2.32 has
 * sigabbrev_np; elsewhere (musl, older glibc; CMake probes it) a table of
 * the POSIX.1-2017 <signal.h> signals, which Linux numbers alike. */
static const char *sig_abbrev(int sig) {
#ifdef CU_HAVE_SIGABBREV_NP
  return sigabbrev_np(sig);
#else
  static const struct { int sig; const char *name; } names[] = {
      {SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"},
      {SIGILL, "ILL"},   {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},
      {SIGBUS, "BUS"},   {SIGFPE, "FPE"},   {SIGKILL, "KILL"},
      {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
      {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},
      {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"}, {SIGSTOP, "STOP"},
      {SIGTSTP, "TSTP"}, {SIGTTIN, "TTIN"}, {SIGTTOU, "TTOU"},
      {SIGURG, "URG"},   {SIGXCPU, "XCPU"}, {SIGXFSZ, "XFSZ"},
      {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGSYS, "SYS"},
  };
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (names[i].sig == sig)
      return names[i].name;
  return NULL;
#endif
}

static void on_exit_event(cu_tracer *t, const cu_event *ev) {
  span *s = find(t, SPAN_CMD, ev->exec_id);
  int64_t end = unix_ns(ev->wall);
  if (!s)
    return;
  char why[48] = "";
  if (ev->term_signal) {
    const char *abbrev = sig_abbrev(ev->term_signal);
    attr_int(&s->attrs, "cuprum.signal", ev->term_signal);
    snprintf(why, sizeof why, "SIG%s", abbrev ? abbrev : "?");
  } else {
    attr_int(&s->attrs, "process.exit.code", ev->exit_code);
    if (ev->exit_code != 0)
      snprintf(why, sizeof why, "%d", ev->exit_code);
  }
  /* Accounting. OpenTelemetry defines process CPU time only as a metric
   * (process.cpu.time with cpu.mode), no span attribute: ours are in the
   * cuprum namespace, seconds and bytes as semconv units go. */
  attr_double(&s->attrs, "cuprum.cpu.user_time",
              (double)ev->user_cpu_us / 1e6);
  attr_double(&s->attrs, "cuprum.cpu.system_time",
              (double)ev->sys_cpu_us / 1e6);
  attr_int(&s->attrs, "cuprum.memory.max_rss", ev->max_rss_kb * 1024LL);
  if (ev->contained) {
    attr_bool(&s->attrs, "cuprum.contained", true);
    attr_double(&s->attrs, "cuprum.cgroup.cpu_time",
                (double)ev->cgroup_cpu_us / 1e6);
    if (ev->cgroup_mem_peak >= 0)
      attr_int(&s->attrs, "cuprum.cgroup.memory_peak", ev->cgroup_mem_peak);
  }
  if (s->timed_out)
    snprintf(why, sizeof why, "timeout");
  else if (s->cancelled && why[0])
    snprintf(why, sizeof why, "cancelled");
  if (why[0])
    set_error(s, why);
  bool failed = s->failed;
  finish(t, take(t, s), end);
  stage_ended(t, ev, failed, why, end);
}

static void on_spawn_failed(cu_tracer *t, const cu_event *ev) {
  int64_t end = unix_ns(ev->wall);
  const char *why = cu_err_name(ev->error);
  /* Stages before it were killed without exit events, later ones never
   * spawned: end every span of the run here. */
  for (size_t i = t->n_open; i-- > 0;) {
    span *s = t->open[i];
    if (s->type != SPAN_CMD || s->run_id != ev->run_id)
      continue;
    set_error(s, s->key == ev->exec_id ? why : "aborted");
    if (s->key == ev->exec_id && ev->err_no)
      attr_int(&s->attrs, "cuprum.errno", ev->err_no);
    finish(t, take(t, s), end);
  }
  span *p = find(t, SPAN_PIPE, ev->run_id);
  if (p) {
    set_error(p, why);
    finish(t, take(t, p), end);
  }
}

/* Timeout and cancellation concern the whole run: mark every open span
 * of it (stages and the pipeline). */
static void mark_run(cu_tracer *t, const cu_event *ev, bool timeout) {
  for (size_t i = 0; i < t->n_open; i++) {
    span *s = t->open[i];
    if (s->run_id != ev->run_id || s->type == SPAN_BATCH)
      continue;
    if (timeout && !s->timed_out) {
      s->timed_out = true;
      attr_bool(&s->attrs, "cuprum.timed_out", true);
    } else if (!timeout && !s->cancelled) {
      s->cancelled = true;
      attr_bool(&s->attrs, "cuprum.cancelled", true);
    }
  }
}

static void on_line(cu_tracer *t, const cu_event *ev) {
  span *s = find(t, SPAN_CMD, ev->exec_id);
  if (!s)
    return;
  if (s->n_events >= MAX_SPAN_EVENTS) {
    s->dropped_events++;
    return;
  }
  cu__sbuf *b = &s->events;
  if (b->len)
    cu__sbuf_putc(b, ',');
  cu__sbuf_printf(b, "{\"timeUnixNano\":\"%lld\",\"name\":\"%s\","
                  "\"attributes\":[{\"key\":\"line\",\"value\":"
                  "{\"stringValue\":",
                  (long long)unix_ns(ev->wall),
                  ev->phase == CU_EV_STDOUT_LINE ? "stdout" : "stderr");
  cu__json_str(b, ev->line, ev->line_len);
  cu__sbuf_puts(b, "}}],\"droppedAttributesCount\":0}");
  s->n_events++;
}

static int tracer_observe(void *data, const cu_event *ev) {
  cu_tracer *t = data;
  pthread_mutex_lock(&t->mu);
  switch (ev->phase) {
  case CU_EV_PLAN:
    on_plan(t, ev);
    break;
  case CU_EV_START: {
    span *s = find(t, SPAN_CMD, ev->exec_id);
    if (s)
      attr_int(&s->attrs, "process.pid", ev->pid);
    break;
  }
  case CU_EV_EXIT:
    on_exit_event(t, ev);
    break;
  case CU_EV_SPAWN_FAILED:
    on_spawn_failed(t, ev);
    break;
  case CU_EV_TIMEOUT:
  case CU_EV_CANCEL:
    mark_run(t, ev, ev->phase == CU_EV_TIMEOUT);
    break;
  case CU_EV_STDOUT_LINE:
  case CU_EV_STDERR_LINE:
    on_line(t, ev);
    break;
  default:
    break;
  }
  pthread_mutex_unlock(&t->mu);
  return 0;
}

static bool tracer_propagate(void *data, const cu_event *ev, char *tp,
                             size_t tp_cap, char *ts, size_t ts_cap) {
  cu_tracer *t = data;
  if (!t->propagate || tp_cap < CU__TRACEPARENT_LEN + 1)
    return false;
  span s = {0};
  identify(t, SPAN_CMD, ev, &s);
  cu__traceparent_format(tp, s.trace, s.id, 0x01); /* sampled */
  if (t->has_parent && strlen(t->tracestate) < ts_cap)
    strcpy(ts, t->tracestate);
  return true;
}

static void tracer_batch(void *data, uint64_t batch_id, size_t n, bool end) {
  cu_tracer *t = data;
  struct timespec now = cu__now(CLOCK_REALTIME);
  cu_event ev = {.batch_id = batch_id, .wall = now};
  pthread_mutex_lock(&t->mu);
  if (!end) {
    span *s = open_span(t, SPAN_BATCH, batch_id, &ev, "batch", KIND_INTERNAL,
                        unix_ns(now));
    if (s)
      attr_int(&s->attrs, "cuprum.batch.size", (long long)n);
  } else {
    span *s = find(t, SPAN_BATCH, batch_id);
    if (s)
      finish(t, take(t, s), unix_ns(now));
  }
  pthread_mutex_unlock(&t->mu);
}

/* ------------------------------------------------------------- lifetime */

static cu_tracer *tracer_ref(cu_tracer *t) {
  atomic_fetch_add(&t->refs, 1);
  return t;
}

static void tracer_unref(void *data) {
  cu_tracer *t = data;
  if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
    return;
  cu__exporter_destroy(&t->ex);
  for (size_t i = 0; i < t->n_open; i++)
    span_free(t->open[i]);
  free(t->open);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static size_t env_size(const char *name, size_t given, size_t dflt) {
  if (given)
    return given;
  const char *v = getenv(name);
  char *end;
  unsigned long long n = v ? strtoull(v, &end, 10) : 0;
  return v && *v && !*end && n > 0 && n < (1u << 24) ? (size_t)n : dflt;
}

static void random_salt(uint64_t *salt, size_t n) {
  if (getrandom(salt, n * sizeof *salt, GRND_NONBLOCK) ==
      (ssize_t)(n * sizeof *salt))
    return;
  struct timespec ts = cu__now(CLOCK_REALTIME);
  for (size_t i = 0; i < n; i++) /* no entropy yet: unique is enough */
    salt[i] = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ i ^
                  (uint64_t)(uintptr_t)salt);
}

static char *resource_prefix(const char *service) {
  cu__sbuf b = {0};
  cu__sbuf_puts(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
  cu__sbuf attrs = {0};
  attr_str(&attrs, "service.name", service);
  attr_str(&attrs, "telemetry.sdk.name", "cuprum");
  attr_str(&attrs, "telemetry.sdk.language", "c");
  attr_str(&attrs, "telemetry.sdk.version", cu_version());
  cu__sbuf_putn(&b, attrs.data ? attrs.data : "", attrs.len);
  b.oom |= attrs.oom;
  cu__sbuf_free(&attrs);
  cu__sbuf_printf(&b, "],\"droppedAttributesCount\":0},\"scopeSpans\":[{"
                  "\"scope\":{\"name\":\"cuprum\",\"version\":\"%s\"},"
                  "\"spans\":[", cu_version());
  char *s = NULL;
  return cu__sbuf_finish(&b, &s) == 0 ? s : NULL;
}

static int open_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0 && fd < 3) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = moved;
  }
  return fd;
}

static int setup(cu_tracer *t, const cu_tracer_opts *o) {
  const char *tp = o->traceparent, *ts = o->tracestate;
  if (!tp && !o->no_env_parent) {
    tp = getenv("TRACEPARENT");
    ts = getenv("TRACESTATE");
  }
  /* The list is kept only with a valid parent, and only when it parses
   * (W3C Trace Context level 1, section 3.3). */
  if (tp && parse_traceparent(t, tp) && ts)
    cu__tracestate_normalize(ts, t->tracestate, sizeof t->tracestate);
  t->propagate = !o->no_propagate;
  t->command_args = o->command_args;
  t->line_events = o->line_events;
  t->redact = o->redact;
  cu__exporter *e = &t->ex;
  e->fd = -1;
  e->cap = env_size("OTEL_BSP_MAX_QUEUE_SIZE", o->queue_size, 2048);
  e->batch = env_size("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", o->batch_size, 512);
  if (e->batch > e->cap)
    e->batch = e->cap;
  e->delay_ns = (int64_t)env_size("OTEL_BSP_SCHEDULE_DELAY",
                                  (size_t)o->schedule_delay_ms, 1000) *
                1000000;
  e->export_timeout_ms = (int64_t)env_size("OTEL_BSP_EXPORT_TIMEOUT",
                                           (size_t)o->export_timeout_ms,
                                           10000);
  t->shutdown_timeout_ms = o->shutdown_timeout_ms ? o->shutdown_timeout_ms
                                                  : 5000;
  e->fn = o->export_fn;
  e->fn_data = o->export_data;
  if (o->file && (e->fd = open_file(o->file)) < 0)
    return cu__fail_errno(CU_EIO, errno, "trace file '%s'", o->file);
  const char *service = o->service_name ? o->service_name
                                        : getenv("OTEL_SERVICE_NAME");
  char *prefix = resource_prefix(service && *service ? service : "cuprum");
  if (!prefix)
    return cu__fail(CU_ENOMEM, "out of memory making a tracer");
  return cu__exporter_start(e, prefix);
}

int cu_tracer_new(const cu_tracer_opts *opts, cu_tracer **ret) {
  cu_tracer_opts o;
  if (!ret || !opts)
    return cu__fail(CU_EINVAL, "cu_tracer_new: opts and ret are required");
  int lrc = CU__OPTS_LOAD(&o, opts, cu_tracer_opts, CU_TRACER_OPTS_INIT);
  if (lrc != 0)
    return lrc;
  if (!o.file && !o.export_fn)
    return cu__fail(CU_EINVAL, "cu_tracer_new: set file or export_fn (where "
                               "would spans go?)");
  if (o.schedule_delay_ms < 0 || o.export_timeout_ms < 0 ||
      o.shutdown_timeout_ms < 0)
    return cu__fail(CU_EINVAL, "cu_tracer_new: negative duration");
  cu_tracer *t = calloc(1, sizeof *t);
  if (!t)
    return cu__fail(CU_ENOMEM, "out of memory making a tracer");
  atomic_init(&t->refs, 1);
  atomic_init(&t->shut, false);
  pthread_mutex_init(&t->mu, NULL);
  random_salt(t->salt, 3);
  int rc = setup(t, &o);
  if (rc != 0) {
    tracer_unref(t);
    return rc;
  }
  *ret = t;
  return 0;
}

int cu_tracer_attach(cu_tracer *t, cu_hook **ret) {
  if (!t)
    return cu__fail(CU_EINVAL, "cu_tracer_attach: tracer is NULL");
  cu_hook *hook = cu__hook_new(CU__HOOK_OBSERVE, tracer_ref(t));
  if (!hook) {
    tracer_unref(t);
    return cu__fail(CU_ENOMEM, "out of memory attaching a tracer");
  }
  hook->observe = tracer_observe;
  hook->propagate = tracer_propagate;
  hook->batch = tracer_batch;
  hook->flags = t->line_events ? CU_OBSERVE_LINES : 0;
  hook->free_data = tracer_unref;
  (void)cu_hook_set_name(hook, "tracer");
  return cu__scope_register(hook, ret);
}

int cu_tracer_flush(cu_tracer *t, int64_t timeout_ms) {
  if (!t || timeout_ms < 0)
    return cu__fail(CU_EINVAL, "cu_tracer_flush: tracer and a timeout >= 0 "
                               "are required");
  return cu__exporter_flush(&t->ex, timeout_ms ? timeout_ms
                                               : t->ex.export_timeout_ms);
}

uint64_t cu_tracer_dropped(const cu_tracer *t) {
  return t ? atomic_load(&((cu_tracer *)t)->ex.dropped) : 0;
}

uint64_t cu_tracer_exported(const cu_tracer *t) {
  return t ? atomic_load(&((cu_tracer *)t)->ex.exported) : 0;
}

cu_tracer *cu_tracer_free(cu_tracer *t) {
  if (!t)
    return NULL;
  (void)cu__exporter_flush(&t->ex, t->shutdown_timeout_ms);
  atomic_store(&t->shut, true);
  cu__exporter_stop(&t->ex);
  tracer_unref(t);
  return NULL;
}
