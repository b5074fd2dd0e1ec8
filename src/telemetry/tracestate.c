/* SPDX-License-Identifier: MIT */
/*
 * The tracestate list (W3C Trace Context level 1, section 3.3): checked
 * and put in its canonical form before the tracer records it on spans and
 * hands it on to children (trace.c), so a malformed or oversized value
 * from the environment never travels further.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "telemetry/trace_int.h"

#define MAX_MEMBERS 32   /* section 3.3.1.1 */
#define LONG_MEMBER 128  /* section 3.3.1.5: dropped first when truncating */

typedef struct member {
  const char *s; /* "key=value" */
  size_t len, key_len;
} member;

static bool lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static bool digit(char c) { return c >= '0' && c <= '9'; }

/* lcalpha / DIGIT / "_" / "-" / "*" / "/" */
static bool key_char(char c) {
  return lcalpha(c) || digit(c) || c == '_' || c == '-' || c == '*' ||
         c == '/';
}

static bool key_tail(const char *s, size_t n) {
  for (size_t i = 1; i < n; i++)
    if (!key_char(s[i]))
      return false;
  return true;
}

/* simple-key = lcalpha 0*255(key_char); multi-tenant-key = tenant-id "@"
 * system-id, tenant-id = (lcalpha / DIGIT) 0*240(key_char), system-id =
 * lcalpha 0*13(key_char). */
static bool valid_key(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  if (!at)
    return n >= 1 && n <= 256 && lcalpha(s[0]) && key_tail(s, n);
  size_t tn = (size_t)(at - s), sn = n - tn - 1;
  return tn >= 1 && tn <= 241 && (lcalpha(s[0]) || digit(s[0])) &&
         key_tail(s, tn) && sn >= 1 && sn <= 14 && lcalpha(at[1]) &&
         key_tail(at + 1, sn);
}

/* value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E,
 * chr = %x20 / nblk-chr. */
static bool valid_value(const char *s, size_t n) {
  if (n < 1 || n > 256 || s[n - 1] == ' ')
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
      return false;
  }
  return true;
}

static bool ows(char c) { return c == ' ' || c == '\t'; }

static size_t joined_len(const member *m, size_t n, const bool *keep) {
  size_t len = 0, kept = 0;
  for (size_t i = 0; i < n; i++)
    if (keep[i])
      len += m[i].len, kept++;
  return len + (kept ? kept - 1 : 0);
}

bool cu__tracestate_normalize(const char *s, char *out, size_t cap) {
  if (cap == 0)
    return false;
  out[0] = '\0';
  if (!s)
    return false;
  member m[MAX_MEMBERS];
  size_t n = 0;
  for (const char *p = s;;) {
    const char *end = strchr(p, ',');
    const char *lo = p, *hi = end ? end : p + strlen(p);
    while (lo < hi && ows(*lo))
      lo++;
    while (hi > lo && ows(hi[-1]))
      hi--;
    if (lo < hi) { /* an empty or blank member is allowed and dropped */
      const char *eq = memchr(lo, '=', (size_t)(hi - lo));
      if (!eq || n == MAX_MEMBERS)
        return false;
      size_t kl = (size_t)(eq - lo);
      if (!valid_key(lo, kl) || !valid_value(eq + 1, (size_t)(hi - eq - 1)))
        return false;
      for (size_t i = 0; i < n; i++) /* keys are unique (3.3.1.1) */
        if (m[i].key_len == kl && memcmp(m[i].s, lo, kl) == 0)
          return false;
      m[n++] = (member){lo, (size_t)(hi - lo), kl};
    }
    if (!end)
      break;
    p = end + 1;
  }
  /* Too long for out: members over 128 characters go first, then members
   * from the end (section 3.3.1.5), each time the last such one. */
  bool keep[MAX_MEMBERS];
  for (size_t i = 0; i < n; i++)
    keep[i] = true;
  for (size_t i = n; i-- > 0 && joined_len(m, n, keep) >= cap;)
    if (m[i].len > LONG_MEMBER)
      keep[i] = false;
  for (size_t i = n; i-- > 0 && joined_len(m, n, keep) >= cap;)
    keep[i] = false;
  char *o = out;
  for (size_t i = 0; i < n; i++) {
    if (!keep[i])
      continue;
    if (o != out)
      *o++ = ',';
    memcpy(o, m[i].s, m[i].len);
    o += m[i].len;
  }
  *o = '\0';
  return true;
}
