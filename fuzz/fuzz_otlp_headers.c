/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the OTEL_EXPORTER_OTLP_*HEADERS decoder
 * (cu__otel_headers_each(), otel/otel_headers.c, which cu_otel_http_new()
 * uses to make its request headers). The first byte says after how many
 * headers the callback stops the walk (0: never); the rest, up to a NUL as
 * getenv() would give it, is the value. Checks:
 *   - every header handed on is one "Name: value" line whose name is an
 *     RFC 9110 token and whose value has no control byte but HTAB;
 *   - the lines are exactly the pairs a reference decoder written here
 *     gives (the OpenTelemetry specification's format: W3C Baggage members
 *     `key=value` separated by ",", optional blanks around members, keys
 *     and values, both percent-decoded; empty members and members without
 *     "=" or without a key skipped), in order;
 *   - the value is refused (CU_EINVAL) exactly when the reference finds a
 *     member that is not a header (a name not a token, a control byte in
 *     the value, a line over CU__OTEL_HEADER_MAX), and then only the
 *     members before it were handed on;
 *   - a callback's nonzero answer stops the walk and is returned.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/error.h>

#include "fuzz_check.h"
#include "otel_headers.h"

#define STOP_RC 4242

typedef struct pair {
  char *name, *value;
  size_t nlen, vlen;
} pair;

typedef struct seen {
  char **lines;
  size_t n, cap;
  size_t stop_after; /* 0: never */
} seen;

static int collect(void *data, const char *line) {
  seen *s = data;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 8;
    s->lines = realloc(s->lines, s->cap * sizeof *s->lines);
    CHECK(s->lines);
  }
  s->lines[s->n] = strdup(line);
  CHECK(s->lines[s->n]);
  s->n++;
  return s->stop_after && s->n == s->stop_after ? STOP_RC : 0;
}

/* ------------------------------------------------------------ reference */

static bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return true;
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
  case '+': case '-': case '.': case '^': case '_': case '`': case '|':
  case '~':
    return true;
  default:
    return false;
  }
}

static int xdigit(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A new buffer holding p[0, n) percent-decoded; its length in *len. */
static char *decode(const char *p, size_t n, size_t *len) {
  char *out = malloc(n + 1);
  CHECK(out);
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (p[i] == '%' && n - i >= 3 && xdigit((unsigned char)p[i + 1]) >= 0 &&
        xdigit((unsigned char)p[i + 2]) >= 0) {
      out[o++] = (char)(xdigit((unsigned char)p[i + 1]) * 16 +
                        xdigit((unsigned char)p[i + 2]));
      i += 3;
    } else {
      out[o++] = p[i++];
    }
  }
  *len = o;
  return out;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* The pairs of spec in order into *ret (n in *ret_n); returns whether the
 * whole value is accepted (false: the last pair is the refused one and
 * is not part of *ret_n). */
static bool ref_decode(const char *spec, pair **ret, size_t *ret_n) {
  size_t len = strlen(spec), n = 0;
  pair *v = calloc(len / 2 + 2, sizeof *v);
  CHECK(v);
  bool ok = true;
  const char *p = spec, *end = spec + len;
  while (ok && p <= end) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    const char *m_end = c ? c : end;
    const char *eq = memchr(p, '=', (size_t)(m_end - p));
    if (eq) {
      const char *k0 = p, *k1 = eq, *v0 = eq + 1, *v1 = m_end;
      while (k0 < k1 && blank(*k0))
        k0++;
      while (k1 > k0 && blank(k1[-1]))
        k1--;
      while (v0 < v1 && blank(*v0))
        v0++;
      while (v1 > v0 && blank(v1[-1]))
        v1--;
      if (k1 > k0) {
        pair *q = &v[n];
        q->name = decode(k0, (size_t)(k1 - k0), &q->nlen);
        q->value = decode(v0, (size_t)(v1 - v0), &q->vlen);
        bool good = q->nlen > 0 && q->nlen + 2 + q->vlen <= CU__OTEL_HEADER_MAX;
        for (size_t i = 0; i < q->nlen; i++)
          good &= is_tchar((unsigned char)q->name[i]);
        for (size_t i = 0; i < q->vlen; i++) {
          unsigned char b = (unsigned char)q->value[i];
          good &= b == '\t' || (b >= 0x20 && b != 0x7f);
        }
        if (good) {
          n++;
        } else {
          free(q->name);
          free(q->value);
          ok = false;
        }
      }
    }
    p = m_end + 1;
  }
  *ret = v;
  *ret_n = n;
  return ok;
}

/* ---------------------------------------------------------------- check */

static void check_line(const char *line) {
  const char *colon = strchr(line, ':');
  CHECK(colon && colon > line && colon[1] == ' ');
  for (const char *q = line; q < colon; q++)
    CHECK(is_tchar((unsigned char)*q));
  for (const char *q = colon + 2; *q; q++)
    CHECK(*q == '\t' || ((unsigned char)*q >= 0x20 && *q != 0x7f));
  CHECK(strlen(line) <= CU__OTEL_HEADER_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t n = strnlen((const char *)data + 1, size - 1);
  char *spec = malloc(n + 1);
  CHECK(spec);
  memcpy(spec, data + 1, n);
  spec[n] = '\0';
  seen s = {.stop_after = data[0] % 8};
  int rc = cu__otel_headers_each(spec, collect, &s);
  pair *want = NULL;
  size_t n_ref = 0;
  bool ok = ref_decode(spec, &want, &n_ref);
  size_t n_want = n_ref;
  if (s.stop_after && n_want >= s.stop_after) {
    /* The callback stopped the walk at its stop_after-th header. */
    CHECK(rc == STOP_RC && s.n == s.stop_after);
    n_want = s.stop_after;
  } else if (ok) {
    CHECK(rc == 0 && s.n == n_want);
  } else {
    CHECK(rc == CU_EINVAL && s.n == n_want);
  }
  for (size_t i = 0; i < s.n; i++) {
    check_line(s.lines[i]);
    const char *l = s.lines[i];
    CHECK(strlen(l) == want[i].nlen + 2 + want[i].vlen);
    CHECK(memcmp(l, want[i].name, want[i].nlen) == 0);
    CHECK(memcmp(l + want[i].nlen, ": ", 2) == 0);
    CHECK(memcmp(l + want[i].nlen + 2, want[i].value, want[i].vlen) == 0);
  }
  for (size_t i = 0; i < s.n; i++)
    free(s.lines[i]);
  free(s.lines);
  for (size_t i = 0; i < n_ref; i++) {
    free(want[i].name);
    free(want[i].value);
  }
  free(want);
  free(spec);
  return 0;
}
