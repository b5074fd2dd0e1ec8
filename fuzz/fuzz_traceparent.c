/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the trace context the tracer reads from TRACEPARENT
 * and TRACESTATE (or cu_tracer_opts): the traceparent parser
 * (cu__traceparent_parse(), src/telemetry/trace.c), the encoder of the
 * traceparent handed to children (cu__traceparent_format()) and the
 * tracestate checker (cu__tracestate_normalize(), tracestate.c).
 * The input, up to a NUL as getenv() would give it, is the traceparent;
 * what follows that NUL, up to the next, is the tracestate.
 *
 * traceparent, against a reference written here from W3C Trace Context
 * level 1 (section 3.2.2: version "-" trace-id "-" parent-id "-"
 * trace-flags, each 2HEXDIGLC / 32HEXDIGLC / 16HEXDIGLC / 2HEXDIGLC;
 * version ff invalid; all-zero trace-id and parent-id invalid; section
 * 3.2.4: version 00 is exactly 55 characters, a higher version is read by
 * its first 55, which must end the value or be followed by "-"):
 *   - accepted exactly when the reference accepts;
 *   - an accepted value's ids and flags are the hex digits of the input,
 *     and re-encoding them gives the input back (its first 55 characters
 *     with version 00 for a higher version);
 *   - a refused value leaves the outputs untouched.
 *
 * tracestate, against a reference of section 3.3.1 (list members
 * key "=" value separated by "," with optional SP/HTAB around them, empty
 * members allowed, at most 32 members, unique keys; the key and value
 * grammars of 3.3.1.3) and its truncation rule (3.3.1.5), at the tracer's
 * 512-byte buffer and at a small one:
 *   - accepted exactly when the reference accepts; refused gives "";
 *   - accepted gives the reference's members joined by "," when they fit,
 *     else what is left after dropping members over 128 characters from
 *     the end, then any members from the end, until they fit;
 *   - the output is its own canonical form (checking it again gives it
 *     back unchanged).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "telemetry/trace_int.h"

static bool lchex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* n lower-case hex digits at s, not all "0" when nonzero is set. */
static bool hexfield(const char *s, size_t n, bool nonzero) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    if (!lchex(s[i]))
      return false;
    any |= s[i] != '0';
  }
  return any || !nonzero;
}

/* The reference: the grammar read field by field, over len bytes. */
static bool ref_accepts(const char *s, size_t len) {
  if (len < 55)
    return false;
  if (!hexfield(s, 2, false) || (s[0] == 'f' && s[1] == 'f'))
    return false;
  bool v00 = s[0] == '0' && s[1] == '0';
  if (v00 ? len != 55 : len > 55 && s[55] != '-')
    return false;
  return s[2] == '-' && hexfield(s + 3, 32, true) && s[35] == '-' &&
         hexfield(s + 36, 16, true) && s[52] == '-' &&
         hexfield(s + 53, 2, false);
}

static void bytes_of(const char *hex, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
}

/* ---------------------------------------------------------- tracestate */

#define REF_MAX 32

typedef struct ref_member {
  const char *p;
  size_t n;     /* "key=value" */
  size_t key_n; /* up to the "=" */
} ref_member;

/* The character classes of section 3.3.1.3, by table. */
static bool in_class(char c, const char *extra) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c && strchr(extra, c) != NULL);
}

static bool ref_key(const char *k, size_t n) {
  size_t at = n;
  for (size_t i = 0; i < n; i++)
    if (k[i] == '@') {
      if (at != n)
        return false; /* two "@" */
      at = i;
    }
  for (size_t i = 0; i < n; i++)
    if (i != at && !in_class(k[i], "_-*/"))
      return false;
  if (at == n) /* simple-key: lcalpha 0*255(...) */
    return n >= 1 && n <= 256 && k[0] >= 'a' && k[0] <= 'z';
  /* tenant-id "@" system-id: 1-241 characters from lcalpha or DIGIT,
   * then 1-14 from lcalpha */
  return at >= 1 && at <= 241 && n - at - 1 >= 1 && n - at - 1 <= 14 &&
         in_class(k[0], "") && k[at + 1] >= 'a' && k[at + 1] <= 'z';
}

static bool ref_value(const char *v, size_t n) {
  if (n == 0 || n > 256)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    bool nblk = c >= 0x21 && c <= 0x7e && c != 0x2c && c != 0x3d;
    if (!(nblk || (c == 0x20 && i + 1 < n)))
      return false;
  }
  return true;
}

/* The members of s (OWS and empty members removed), or -1 if invalid. */
static int ref_members(const char *s, ref_member *m) {
  int count = 0;
  size_t len = strlen(s), i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && s[j] != ',')
      j++;
    size_t a = i, b = j;
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
      a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
      b--;
    if (b > a) {
      size_t eq = a;
      while (eq < b && s[eq] != '=')
        eq++;
      if (eq == b || count == REF_MAX || !ref_key(s + a, eq - a) ||
          !ref_value(s + eq + 1, b - eq - 1))
        return -1;
      for (int k = 0; k < count; k++)
        if (m[k].key_n == eq - a && strncmp(m[k].p, s + a, eq - a) == 0)
          return -1;
      m[count++] = (ref_member){s + a, b - a, eq - a};
    }
    i = j + 1;
  }
  return count;
}

/* Section 3.3.1.5 at `room` characters: the kept members joined. */
static void ref_truncate(const ref_member *m, int count, size_t room,
                         char *out) {
  bool gone[REF_MAX] = {false};
  size_t total = 0;
  for (int k = 0; k < count; k++)
    total += m[k].n + (k ? 1 : 0);
  int left = count;
  for (int pass = 0; pass < 2; pass++)
    for (int k = count - 1; k >= 0 && total > room; k--) {
      if (gone[k] || (pass == 0 && m[k].n <= 128))
        continue;
      gone[k] = true;
      total -= m[k].n + (left > 1 ? 1 : 0);
      left--;
    }
  out[0] = '\0';
  for (int k = 0; k < count; k++)
    if (!gone[k]) {
      if (out[0])
        strcat(out, ",");
      strncat(out, m[k].p, m[k].n);
    }
}

static void check_tracestate(const char *ts) {
  static const size_t caps[] = {512, 48};
  ref_member m[REF_MAX];
  int count = ref_members(ts, m);
  for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
    size_t cap = caps[c];
    char out[512], want[REF_MAX * 514 + 1], again[512];
    memset(out, 'x', sizeof out);
    bool ok = cu__tracestate_normalize(ts, out, cap);
    CHECK(ok == (count >= 0));
    if (!ok) {
      CHECK(out[0] == '\0');
      continue;
    }
    ref_truncate(m, count, cap - 1, want);
    CHECK(strlen(want) <= cap - 1);
    CHECK(strcmp(out, want) == 0);
    CHECK(cu__tracestate_normalize(out, again, cap));
    CHECK(strcmp(again, out) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = strnlen((const char *)data, size);
  char *s = malloc(n + 1);
  CHECK(s);
  memcpy(s, data, n);
  s[n] = '\0';
  uint8_t trace[16], span[8], flags = 0x5a;
  memset(trace, 0x5a, sizeof trace);
  memset(span, 0x5a, sizeof span);
  if (n < size) { /* a tracestate after the NUL */
    const char *ts = (const char *)data + n + 1;
    size_t tn = strnlen(ts, size - n - 1);
    char *t = malloc(tn + 1);
    CHECK(t);
    memcpy(t, ts, tn);
    t[tn] = '\0';
    check_tracestate(t);
    free(t);
  }
  bool ok = cu__traceparent_parse(s, trace, span, &flags);
  CHECK(ok == ref_accepts(s, n));
  if (!ok) {
    for (size_t i = 0; i < 16; i++)
      CHECK(trace[i] == 0x5a && (i >= 8 || span[i] == 0x5a));
    CHECK(flags == 0x5a);
    free(s);
    return 0;
  }
  uint8_t want_trace[16], want_span[8], want_flags;
  bytes_of(s + 3, 16, want_trace);
  bytes_of(s + 36, 8, want_span);
  bytes_of(s + 53, 1, &want_flags);
  CHECK(memcmp(trace, want_trace, 16) == 0);
  CHECK(memcmp(span, want_span, 8) == 0 && flags == want_flags);
  char again[CU__TRACEPARENT_LEN + 1];
  memset(again, 'x', sizeof again);
  cu__traceparent_format(again, trace, span, flags);
  CHECK(again[CU__TRACEPARENT_LEN] == '\0');
  CHECK(memcmp(again, "00", 2) == 0);
  CHECK(memcmp(again + 2, s + 2, CU__TRACEPARENT_LEN - 2) == 0);
  /* Parsing the re-encoded value gives the same ids and flags. */
  uint8_t t2[16], s2[8], f2;
  CHECK(cu__traceparent_parse(again, t2, s2, &f2));
  CHECK(memcmp(t2, trace, 16) == 0 && memcmp(s2, span, 8) == 0 &&
        f2 == flags);
  free(s);
  return 0;
}
