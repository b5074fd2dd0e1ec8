/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the TRACEPARENT parser (cu__traceparent_parse(),
 * src/telemetry/trace.c; the tracer reads TRACEPARENT or
 * cu_tracer_opts.traceparent through it) and the encoder of the
 * traceparent the tracer hands to children (cu__traceparent_format()).
 * The input, up to a NUL as getenv() would give it, is the value.
 * Checks, against a reference written here from W3C Trace Context level 1
 * (section 3.2.2: version "-" trace-id "-" parent-id "-" trace-flags, each
 * 2HEXDIGLC / 32HEXDIGLC / 16HEXDIGLC / 2HEXDIGLC; version ff invalid;
 * all-zero trace-id and parent-id invalid; section 3.2.4: version 00 is
 * exactly 55 characters, a higher version is read by its first 55, which
 * must end the value or be followed by "-"):
 *   - accepted exactly when the reference accepts;
 *   - an accepted value's ids and flags are the hex digits of the input,
 *     and re-encoding them gives the input back (its first 55 characters
 *     with version 00 for a higher version);
 *   - a refused value leaves the outputs untouched.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/trace_int.h"

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c))                                                                  \
      abort();                                                                 \
  } while (0)

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
