/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Prometheus text exposition writer
 * (cu_metrics_render(), src/telemetry/metrics.c): label values are program
 * and project names, which a catalogue file or the API may fill with any
 * bytes but NUL. The input:
 *   byte 0             max_series - 1 (mod 6): small, so `_other` is used
 *   two NUL-ended strings, names of two projects of a catalogue
 *   then events:       phase byte, project byte (none, first, second),
 *                      NUL-ended program name; at most 24
 * The events go straight to the metrics' observer; the text is then read
 * back by a reference parser of the exposition format (version 0.0.4,
 * written here from its specification) and checked:
 *   - every line is a HELP, a TYPE or a sample line; names are valid metric
 *     names ([a-zA-Z_:][a-zA-Z0-9_:]*), label names valid label names;
 *     HELP text and label values use only the escapes the format has
 *     (\\ and \n; \" too in label values) and are valid UTF-8; values are
 *     numbers; the text ends with a newline;
 *   - each family has one TYPE before its samples, a sample belongs to the
 *     family of the TYPE above it (histograms: _bucket, _sum, _count), and
 *     no family holds two samples with the same labels (Prometheus refuses
 *     a scrape with duplicates);
 *   - the program/project labels, unescaped, are the names given, after
 *     the documented replacement of each byte that starts no valid UTF-8
 *     sequence by U+FFFD (fuzz/ref_utf8.h): the first max_series
 *     distinct pairs have their own series, later ones are counted under
 *     program="_other" and cuprum_series_dropped_total; a program named
 *     "_other" without a project is counted in that series, not dropped;
 *   - cuprum_executions_total of each series is the number of its starts.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/catalogue.h>
#include <cuprum/context.h>
#include <cuprum/metrics.h>

#include "context/scope.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "ref_utf8.h"

#define MAX_EVENTS 24
#define MAX_LABELS 4

/* The label a name must become. */
static char *label_of(const char *s) { return ref_utf8_fix(s, strlen(s), NULL); }

/* ---------------------------------------------------- exposition reader */

typedef struct sample {
  char *name;
  size_t n_labels;
  char *lname[MAX_LABELS], *lval[MAX_LABELS];
  double value;
} sample;

static bool name_char(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* A metric name (colon) or label name at *p; advances; NULL if none. */
static char *read_name(const char **p, const char *end, bool colon) {
  const char *s = *p;
  while (*p < end && name_char(**p, *p == s, colon))
    (*p)++;
  if (*p == s)
    return NULL;
  char *n = strndup(s, (size_t)(*p - s));
  CHECK(n);
  return n;
}

/* A label value after its opening quote, up to the closing one,
 * unescaped; NULL if malformed. */
static char *read_label_value(const char **p, const char *end) {
  char *out = malloc((size_t)(end - *p) + 1);
  CHECK(out);
  size_t o = 0;
  while (*p < end && **p != '"') {
    char c = *(*p)++;
    if (c == '\\') {
      if (*p >= end)
        goto bad;
      char e = *(*p)++;
      if (e == 'n')
        c = '\n';
      else if (e == '\\' || e == '"')
        c = e;
      else
        goto bad;
    }
    out[o++] = c;
  }
  if (*p >= end)
    goto bad;
  (*p)++; /* the closing quote */
  if (!ref_utf8_ok(out, o) || memchr(out, '\0', o))
    goto bad;
  out[o] = '\0';
  return out;
bad:
  free(out);
  return NULL;
}

static void sample_free(sample *s) {
  free(s->name);
  for (size_t i = 0; i < s->n_labels; i++) {
    free(s->lname[i]);
    free(s->lval[i]);
  }
  memset(s, 0, sizeof *s);
}

/* One sample line [p, end): name [{labels}] SP value. */
static bool read_sample(const char *p, const char *end, sample *s) {
  memset(s, 0, sizeof *s);
  if (!(s->name = read_name(&p, end, true)))
    return false;
  if (p < end && *p == '{') {
    p++;
    while (p < end && *p != '}') {
      if (s->n_labels == MAX_LABELS)
        return false;
      char *ln = read_name(&p, end, false);
      if (!ln)
        return false;
      s->lname[s->n_labels] = ln;
      s->lval[s->n_labels] = NULL;
      s->n_labels++;
      if (p + 1 >= end || p[0] != '=' || p[1] != '"')
        return false;
      p += 2;
      if (!(s->lval[s->n_labels - 1] = read_label_value(&p, end)))
        return false;
      if (p < end && *p == ',')
        p++;
      else if (p < end && *p != '}')
        return false;
    }
    if (p >= end)
      return false;
    p++;
  }
  if (p >= end || *p != ' ')
    return false;
  p++;
  char num[64];
  size_t nl = (size_t)(end - p);
  if (nl == 0 || nl >= sizeof num)
    return false;
  memcpy(num, p, nl);
  num[nl] = '\0';
  char *stop = NULL;
  s->value = strtod(num, &stop);
  return *stop == '\0' && !isnan(s->value);
}

/* HELP text: only \\ and \n escapes; valid UTF-8. */
static bool help_ok(const char *p, const char *end) {
  for (const char *q = p; q < end; q++)
    if (*q == '\\' && (++q >= end || (*q != '\\' && *q != 'n')))
      return false;
  return ref_utf8_ok(p, (size_t)(end - p));
}

static const char *label(const sample *s, const char *name) {
  for (size_t i = 0; i < s->n_labels; i++)
    if (strcmp(s->lname[i], name) == 0)
      return s->lval[i];
  return NULL;
}

/* --------------------------------------------------------------- model */

typedef struct pair {
  char *program, *project; /* labels */
  unsigned starts;
  bool own;      /* has its own series */
  bool reserved; /* ("_other", ""): counted in the overflow series */
} pair;

typedef struct model {
  pair p[MAX_EVENTS];
  size_t n, own;
  unsigned other_starts, dropped;
  bool other_used;
} model;

static void model_event(model *m, size_t max_series, const char *program,
                        const char *project, bool start) {
  char *pl = label_of(program), *jl = label_of(project);
  size_t i = 0;
  while (i < m->n && !(strcmp(m->p[i].program, pl) == 0 &&
                       strcmp(m->p[i].project, jl) == 0))
    i++;
  bool reserved = strcmp(pl, "_other") == 0 && !*jl;
  if (i == m->n) {
    m->p[i] = (pair){.program = pl, .project = jl,
                     .own = !reserved && m->own < max_series,
                     .reserved = reserved};
    m->own += m->p[i].own;
    m->n++;
  } else {
    free(pl);
    free(jl);
  }
  if (m->p[i].own) {
    m->p[i].starts += start;
  } else {
    m->other_starts += start;
    m->dropped += !m->p[i].reserved;
    m->other_used = true;
  }
}

/* ------------------------------------------------------------- checking */

static bool family_of(const char *family, const char *type, const char *name) {
  size_t fl = strlen(family);
  if (strncmp(name, family, fl) != 0)
    return false;
  const char *rest = name + fl;
  if (!*rest)
    return true;
  return strcmp(type, "histogram") == 0 &&
         (strcmp(rest, "_bucket") == 0 || strcmp(rest, "_sum") == 0 ||
          strcmp(rest, "_count") == 0);
}

/* A canonical key of a sample (name and sorted-as-written labels) to find
 * duplicates: the writer always writes labels in one order. */
static char *sample_key(const sample *s) {
  size_t len = strlen(s->name) + 2;
  for (size_t i = 0; i < s->n_labels; i++)
    len += strlen(s->lname[i]) + strlen(s->lval[i]) + 3;
  char *k = malloc(len);
  CHECK(k);
  size_t o = (size_t)sprintf(k, "%s", s->name);
  for (size_t i = 0; i < s->n_labels; i++)
    o += (size_t)sprintf(k + o, "\x01%s\x02%s", s->lname[i], s->lval[i]);
  return k;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_text(const char *text, size_t len, const model *m) {
  CHECK(len > 0 && text[len - 1] == '\n' && strlen(text) == len);
  char family[128] = "", type[32] = "";
  char **types = NULL, **keys = NULL;
  size_t n_types = 0, n_keys = 0;
  unsigned dropped_seen = 0;
  bool dropped_line = false;
  unsigned *starts = calloc(m->n + 1, sizeof *starts);
  CHECK(starts);
  for (const char *p = text; p < text + len;) {
    const char *end = memchr(p, '\n', (size_t)(text + len - p));
    CHECK(end);
    if (strncmp(p, "# HELP ", 7) == 0) {
      const char *q = p + 7;
      char *n = read_name(&q, end, true);
      CHECK(n && q < end && *q == ' ' && help_ok(q + 1, end));
      free(n);
    } else if (strncmp(p, "# TYPE ", 7) == 0) {
      const char *q = p + 7;
      char *n = read_name(&q, end, true);
      CHECK(n && q < end && *q == ' ' && strlen(n) < sizeof family);
      size_t tl = (size_t)(end - q - 1);
      CHECK(tl < sizeof type);
      memcpy(type, q + 1, tl);
      type[tl] = '\0';
      CHECK(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
            !strcmp(type, "histogram") || !strcmp(type, "summary") ||
            !strcmp(type, "untyped"));
      for (size_t i = 0; i < n_types; i++)
        CHECK(strcmp(types[i], n) != 0); /* one TYPE per family */
      types = realloc(types, (n_types + 1) * sizeof *types);
      CHECK(types);
      types[n_types++] = n;
      strcpy(family, n);
    } else {
      CHECK(*p != '#');
      sample s;
      CHECK(read_sample(p, end, &s));
      CHECK(family[0] && family_of(family, type, s.name));
      keys = realloc(keys, (n_keys + 1) * sizeof *keys);
      CHECK(keys);
      keys[n_keys++] = sample_key(&s);
      if (strcmp(s.name, "cuprum_series_dropped_total") == 0) {
        CHECK(s.n_labels == 0);
        dropped_seen = (unsigned)s.value;
        dropped_line = true;
      } else {
        const char *prog = label(&s, "program"), *proj = label(&s, "project");
        CHECK(prog && proj);
        size_t i = 0;
        while (i < m->n && !(m->p[i].own && !strcmp(m->p[i].program, prog) &&
                             !strcmp(m->p[i].project, proj)))
          i++;
        /* Not a pair with its own series: the overflow series. */
        CHECK(i < m->n || (!strcmp(prog, "_other") && !*proj && m->other_used));
        if (!strcmp(s.name, "cuprum_executions_total"))
          starts[i] = (unsigned)s.value + 1; /* +1: seen */
      }
      sample_free(&s);
    }
    p = end + 1;
  }
  CHECK(dropped_line && dropped_seen == m->dropped);
  for (size_t i = 0; i < m->n; i++)
    if (m->p[i].own)
      CHECK(starts[i] == m->p[i].starts + 1);
  if (m->other_used)
    CHECK(starts[m->n] == m->other_starts + 1);
  else
    CHECK(starts[m->n] == 0);
  qsort(keys, n_keys, sizeof *keys, cmp_str);
  for (size_t i = 1; i < n_keys; i++)
    CHECK(strcmp(keys[i - 1], keys[i]) != 0); /* no duplicate series */
  for (size_t i = 0; i < n_keys; i++)
    free(keys[i]);
  for (size_t i = 0; i < n_types; i++)
    free(types[i]);
  free(keys);
  free(types);
  free(starts);
}

/* ----------------------------------------------------------------- run */

static const cu_event_phase phases[] = {
    CU_EV_START,     CU_EV_EXIT,       CU_EV_STDOUT_LINE, CU_EV_STDERR_LINE,
    CU_EV_STDIN,     CU_EV_TIMEOUT,    CU_EV_CANCEL,      CU_EV_TERM_SENT,
    CU_EV_KILL_SENT, CU_EV_SPAWN_FAILED};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in r = {data, size, 0};
  if (size == 0)
    return 0;
  size_t max_series = 1 + (size_t)take_u64(&r, 1) % 6;
  char *pname[2];
  pname[0] = take_str(&r); /* in order: an initializer list is not */
  pname[1] = take_str(&r);
  cu_catalogue *cat = NULL;
  CHECK(cu_catalogue_new(&cat) == 0);
  const cu_project *proj[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 2; i++) {
    cu_project_spec spec = CU_PROJECT_SPEC_INIT;
    spec.name = pname[i];
    if (pname[i] && cu_catalogue_add_project(cat, &spec) == 0)
      proj[i + 1] = cu_catalogue_project(cat, pname[i]);
  }
  cu_metrics_opts o = CU_METRICS_OPTS_INIT;
  o.max_series = max_series;
  static const double bounds[] = {0.005, 1.5}; /* short text: fast runs */
  o.buckets = bounds;
  o.n_buckets = 2;
  cu_metrics *met = NULL;
  CHECK(cu_metrics_new(&o, &met) == 0);
  cu_hook *hook = NULL;
  CHECK(cu_metrics_attach(met, &hook) == 0);
  cu_hook_detach(hook); /* called directly below, never by a run */
  model m = {.n = 0};
  for (int e = 0; e < MAX_EVENTS; e++) {
    if (r.at + 2 >= r.n)
      break; /* no room for a program name */
    int ph = (int)take_u64(&r, 1), pj = (int)take_u64(&r, 1);
    char *program = take_str(&r);
    cu_event ev = {.phase = phases[(size_t)ph % (sizeof phases /
                                                 sizeof *phases)],
                   .program = program,
                   .project = proj[pj % 3],
                   .exit_code = ph & 1,
                   .duration_ns = (int64_t)ph * 1000003,
                   .error = -(ph % 40),
                   .bytes = (uint64_t)pj};
    CHECK(hook->observe(hook->data, &ev) == 0);
    model_event(&m, max_series, program,
                proj[pj % 3] ? cu_project_name(proj[pj % 3]) : "",
                ev.phase == CU_EV_START);
    free(program);
  }
  char *text = NULL;
  size_t len = 0;
  CHECK(cu_metrics_render(met, &text, &len) == 0);
  check_text(text, len, &m);
  free(text);
  for (size_t i = 0; i < m.n; i++) {
    free(m.p[i].program);
    free(m.p[i].project);
  }
  cu_hook_unref(hook);
  met = cu_metrics_free(met);
  cu_catalogue_unref(cat);
  free(pname[0]);
  free(pname[1]);
  return 0;
}
