/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the library's environment-variable parsers, each
 * checked against a reference parser written here from the documented
 * syntax (docs/users-guide.md): the first byte picks
 *   0 CUPRUM_POLICY          cu_policy_parse()        key=value,... with
 *                            narrow/widen switches and unsafe modes
 *   1 CUPRUM_ECHO            cu_echo_parse()          cmd/output switches
 *   2 CUPRUM_STREAM_BACKEND  cu_stream_backend_parse() auto|splice|readwrite
 * and the rest (up to a NUL, as getenv() would give it) is the value.
 * Checks: accepted exactly when the reference accepts, with the same
 * fields; a rejection is CU_EINVAL / CU_EBACKEND with a message; no crash,
 * leak or UB. (The operator's copies, read once through getenv(), use the
 * same functions: src/context/policy.c, src/stream/backend.c.)
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cuprum/cuprum.h>

#include "fuzz_check.h"

/* [lo, hi) of s without the blanks at either end. */
static void trim(const char *s, size_t *lo, size_t *hi) {
  while (*lo < *hi && isspace((unsigned char)s[*lo]))
    (*lo)++;
  while (*hi > *lo && isspace((unsigned char)s[*hi - 1]))
    (*hi)--;
}

static bool span_is(const char *s, size_t lo, size_t hi, const char *w) {
  return hi - lo == strlen(w) && memcmp(s + lo, w, hi - lo) == 0;
}

/* A switch value: 1 on, 2 off (cu_switch), 0 invalid. */
static int ref_switch(const char *s, size_t lo, size_t hi) {
  static const char *const on[] = {"allow", "on", "yes", "true", "1"};
  static const char *const off[] = {"deny", "off", "no", "false", "0"};
  for (size_t i = 0; i < 5; i++) {
    if (span_is(s, lo, hi, on[i]))
      return CU_SWITCH_ON;
    if (span_is(s, lo, hi, off[i]))
      return CU_SWITCH_OFF;
  }
  return 0;
}

static int ref_unsafe(const char *s, size_t lo, size_t hi) {
  if (span_is(s, lo, hi, "allow"))
    return CU_UNSAFE_ALLOW;
  if (span_is(s, lo, hi, "warn"))
    return CU_UNSAFE_WARN;
  if (span_is(s, lo, hi, "deny"))
    return CU_UNSAFE_DENY;
  return 0;
}

/* Comma-separated key=value items (blank items skipped, blanks around
 * keys and values ignored, each key at most once). keys[i] is a switch
 * unless unsafe_key == i. Returns whether valid; values in out[]. */
static bool ref_items(const char *s, const char *const *keys, size_t n_keys,
                      int unsafe_key, int *out) {
  size_t len = strlen(s);
  bool seen[4] = {false};
  for (size_t start = 0; start <= len;) {
    size_t end = start;
    while (end < len && s[end] != ',')
      end++;
    size_t lo = start, hi = end;
    trim(s, &lo, &hi);
    start = end + 1;
    if (lo == hi)
      continue;
    const char *eq = memchr(s + lo, '=', hi - lo);
    if (!eq)
      return false;
    size_t klo = lo, khi = (size_t)(eq - s), vlo = khi + 1, vhi = hi;
    trim(s, &klo, &khi);
    trim(s, &vlo, &vhi);
    size_t k = 0;
    while (k < n_keys && !span_is(s, klo, khi, keys[k]))
      k++;
    if (k == n_keys || seen[k])
      return false;
    seen[k] = true;
    out[k] = (int)k == unsafe_key ? ref_unsafe(s, vlo, vhi)
                                  : ref_switch(s, vlo, vhi);
    if (!out[k])
      return false;
  }
  return true;
}

static void fuzz_policy(const char *s) {
  static const char *const keys[] = {"narrow", "widen", "unsafe"};
  int want[3] = {0};
  bool ok = ref_items(s, keys, 3, 2, want);
  cu_policy p;
  memset(&p, 0x5a, sizeof p);
  int rc = cu_policy_parse(s, &p);
  if (!ok) {
    CHECK(rc == CU_EINVAL && cu_last_error()[0]);
    return;
  }
  CHECK(rc == 0);
  CHECK((int)p.narrow == want[0] && (int)p.widen == want[1] &&
        (int)p.unsafe == want[2]);
}

static void fuzz_echo(const char *s) {
  static const char *const keys[] = {"cmd", "output"};
  int want[2] = {0};
  bool ok = ref_items(s, keys, 2, -1, want);
  cu_echo e;
  memset(&e, 0x5a, sizeof e);
  int rc = cu_echo_parse(s, &e);
  if (!ok) {
    CHECK(rc == CU_EINVAL && cu_last_error()[0]);
    return;
  }
  CHECK(rc == 0);
  CHECK((int)e.cmd == want[0] && (int)e.output == want[1]);
}

static void fuzz_backend(const char *s) {
  size_t lo = 0, hi = strlen(s);
  trim(s, &lo, &hi);
  static const cu_stream_backend all[] = {CU_BACKEND_AUTO, CU_BACKEND_SPLICE,
                                          CU_BACKEND_READWRITE};
  int want = lo == hi ? 0 : -1;
  for (size_t i = 0; i < 3 && want < 0; i++) {
    const char *name = cu_stream_backend_name(all[i]);
    if (hi - lo == strlen(name) && strncasecmp(s + lo, name, hi - lo) == 0)
      want = (int)i;
  }
  cu_stream_backend b;
  int rc = cu_stream_backend_parse(s, &b);
  if (want < 0) {
    CHECK(rc == CU_EBACKEND && cu_last_error()[0]);
    return;
  }
  CHECK(rc == 0 && b == all[want]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const char *v = (const char *)data + 1;
  size_t n = strnlen(v, size - 1);
  char *s = malloc(n + 1);
  CHECK(s);
  memcpy(s, v, n);
  s[n] = '\0';
  switch (data[0] % 3) {
  case 0:
    fuzz_policy(s);
    break;
  case 1:
    fuzz_echo(s);
    break;
  default:
    fuzz_backend(s);
    break;
  }
  free(s);
  return 0;
}
