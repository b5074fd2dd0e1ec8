/* SPDX-License-Identifier: MIT */
/* Growable text buffer and the JSON / logfmt escapers (see fmt.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"

static bool sbuf_reserve(cu__sbuf *b, size_t extra) {
  if (b->oom)
    return false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void cu__sbuf_putn(cu__sbuf *b, const char *s, size_t n) {
  if (!sbuf_reserve(b, n))
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void cu__sbuf_puts(cu__sbuf *b, const char *s) { cu__sbuf_putn(b, s, strlen(s)); }

void cu__sbuf_putc(cu__sbuf *b, char c) { cu__sbuf_putn(b, &c, 1); }

void cu__sbuf_printf(cu__sbuf *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    cu__sbuf_putn(b, small, (size_t)n);
    return;
  }
  if (!sbuf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

int cu__sbuf_finish(cu__sbuf *b, char **ret) {
  if (!b->oom && !b->data)
    cu__sbuf_putn(b, "", 0);
  if (b->oom) {
    cu__sbuf_free(b);
    return cu__fail(CU_ENOMEM, "out of memory while formatting");
  }
  *ret = b->data;
  *b = (cu__sbuf){0};
  return 0;
}

void cu__sbuf_free(cu__sbuf *b) {
  free(b->data);
  *b = (cu__sbuf){0};
}

size_t cu__utf8_seq_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  unsigned cp = c & (0x3Fu >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

bool cu__utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0, len; i < n; i += len)
    if (!(len = cu__utf8_seq_len(p + i, n - i)))
      return false;
  return true;
}

char *cu__utf8_dup(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s), bad = 0;
  for (size_t i = 0; i < n;) {
    size_t len = cu__utf8_seq_len(p + i, n - i);
    bad += len == 0;
    i += len ? len : 1;
  }
  char *out = malloc(n + 2 * bad + 1);
  if (!out)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len = cu__utf8_seq_len(p + i, n - i);
    if (len) {
      memcpy(out + o, s + i, len);
      o += len;
      i += len;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  return out;
}

static const char *short_escape(unsigned char c) {
  switch (c) {
  case '"':
    return "\\\"";
  case '\\':
    return "\\\\";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  case '\b':
    return "\\b";
  case '\f':
    return "\\f";
  default:
    return NULL;
  }
}

/* The body of a JSON string (no quotes). */
static void json_body(cu__sbuf *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    /* copy plain printable ASCII in one go */
    while (run < n && p[run] >= 0x20 && p[run] < 0x7F && p[run] != '"' &&
           p[run] != '\\')
      run++;
    cu__sbuf_putn(b, s + i, run - i);
    i = run;
    if (i >= n)
      break;
    const char *esc = short_escape(p[i]);
    if (esc) {
      cu__sbuf_puts(b, esc);
      i++;
    } else if (p[i] < 0x20 || p[i] == 0x7F) {
      cu__sbuf_printf(b, "\\u%04x", p[i]);
      i++;
    } else {
      size_t len = cu__utf8_seq_len(p + i, n - i);
      if (len == 0) {
        cu__sbuf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
        i++;
      } else {
        cu__sbuf_putn(b, s + i, len);
        i += len;
      }
    }
  }
}

void cu__json_str(cu__sbuf *b, const char *s, size_t n) {
  if (!s) {
    cu__sbuf_puts(b, "null");
    return;
  }
  cu__sbuf_putc(b, '"');
  json_body(b, s, n);
  cu__sbuf_putc(b, '"');
}

void cu__json_cstr(cu__sbuf *b, const char *s) {
  cu__json_str(b, s, s ? strlen(s) : 0);
}

static bool logfmt_bare(const char *s, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7F ||
        c >= 0x80)
      return false;
  }
  return true;
}

void cu__logfmt_val(cu__sbuf *b, const char *s, size_t n) {
  if (s && logfmt_bare(s, n))
    cu__sbuf_putn(b, s, n);
  else
    cu__json_str(b, s ? s : "", s ? n : 0);
}

/* Whether s[0..n) prints as itself: valid UTF-8 without C0 controls or
 * DEL. */
static bool printable_text(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x20 || p[i] == 0x7F)
      return false;
    size_t len = cu__utf8_seq_len(p + i, n - i);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

void cu__argv_line(cu__sbuf *b, const char *const *argv, size_t argc) {
  for (size_t i = 0; i < argc && argv[i]; i++) {
    if (i)
      cu__sbuf_putc(b, ' ');
    /* A newline or escape sequence in an argument must not forge a log
     * line or drive the terminal (fuzz_event_json checks it): such an
     * element is written as a quoted, escaped JSON string. */
    size_t n = strlen(argv[i]);
    if (printable_text(argv[i], n))
      cu__sbuf_putn(b, argv[i], n);
    else
      cu__json_str(b, argv[i], n);
  }
}

void cu__rfc3339(cu__sbuf *b, struct timespec wall) {
  struct tm tm;
  time_t t = wall.tv_sec;
  if (!gmtime_r(&t, &tm)) {
    cu__sbuf_puts(b, "1970-01-01T00:00:00.000000000Z");
    return;
  }
  cu__sbuf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  (long)wall.tv_nsec);
}

/* ------------------------------------------------------------- records */

void cu__kv_begin(cu__kv *kv, cu__sbuf *b, bool json) {
  *kv = (cu__kv){.b = b, .json = json, .first = true};
  if (json)
    cu__sbuf_putc(b, '{');
}

void cu__kv_end(cu__kv *kv) {
  if (kv->json)
    cu__sbuf_putc(kv->b, '}');
}

static void kv_key(cu__kv *kv, const char *key) {
  if (!kv->first)
    cu__sbuf_putc(kv->b, kv->json ? ',' : ' ');
  kv->first = false;
  if (kv->json) {
    cu__json_cstr(kv->b, key);
    cu__sbuf_putc(kv->b, ':');
  } else {
    /* Keys are ours, or tag and variable names a caller chose: a byte a
     * logfmt key cannot hold (blank, '=', quote, control, non-ASCII) is
     * written as '_', so a key can never end the record or forge an item
     * (fuzz_event_json checks it). */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
      unsigned char c = *p;
      bool ok = c > ' ' && c < 0x7F && c != '"' && c != '=' && c != '\\';
      cu__sbuf_putc(kv->b, (char)(ok ? c : '_'));
    }
    cu__sbuf_putc(kv->b, '=');
  }
}

void cu__kv_strn(cu__kv *kv, const char *key, const char *s, size_t n) {
  if (!s && !kv->json)
    return;
  kv_key(kv, key);
  if (kv->json)
    cu__json_str(kv->b, s, n);
  else
    cu__logfmt_val(kv->b, s, n);
}

void cu__kv_str(cu__kv *kv, const char *key, const char *s) {
  cu__kv_strn(kv, key, s, s ? strlen(s) : 0);
}

void cu__kv_int(cu__kv *kv, const char *key, long long v) {
  kv_key(kv, key);
  cu__sbuf_printf(kv->b, "%lld", v);
}

void cu__kv_bool(cu__kv *kv, const char *key, bool v) {
  kv_key(kv, key);
  cu__sbuf_puts(kv->b, v ? "true" : "false");
}

void cu__kv_ms(cu__kv *kv, const char *key, int64_t ns) {
  kv_key(kv, key);
  if (ns < 0)
    ns = 0;
  cu__sbuf_printf(kv->b, "%lld.%03lld", (long long)(ns / 1000000),
                  (long long)(ns / 1000 % 1000));
}

void cu__kv_argv(cu__kv *kv, const char *key, const char *const *argv,
                 size_t argc) {
  kv_key(kv, key);
  if (!kv->json) {
    cu__sbuf line = {0};
    cu__argv_line(&line, argv, argc);
    cu__logfmt_val(kv->b, line.data ? line.data : "", line.len);
    kv->b->oom |= line.oom;
    cu__sbuf_free(&line);
    return;
  }
  cu__sbuf_putc(kv->b, '[');
  for (size_t i = 0; i < argc && argv && argv[i]; i++) {
    if (i)
      cu__sbuf_putc(kv->b, ',');
    cu__json_cstr(kv->b, argv[i]);
  }
  cu__sbuf_putc(kv->b, ']');
}

#define PAIR_AT(base, i, stride)                                               \
  (*(const char *const *)((const char *)(base) + (i) * (stride)))

/* The next character of a JSON key as written: a valid UTF-8 sequence, or
 * U+FFFD for a byte that starts none. Returns the bytes consumed. */
static size_t key_char(const char *s, size_t n, const char **ret,
                       size_t *ret_len) {
  size_t len = cu__utf8_seq_len((const unsigned char *)s, n);
  *ret = len ? s : "\xEF\xBF\xBD";
  *ret_len = len ? len : 3;
  return len ? len : 1;
}

bool cu__json_same_key(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b), i = 0, j = 0;
  while (i < na && j < nb) {
    const char *ca, *cb;
    size_t la, lb;
    i += key_char(a + i, na - i, &ca, &la);
    j += key_char(b + j, nb - j, &cb, &lb);
    if (la != lb || memcmp(ca, cb, la) != 0)
      return false;
  }
  return i == na && j == nb;
}

/* Repeated names, as written: "\xff" and "\xfe" are both "\uFFFD" and
 * must not make a JSON object with a duplicate key (fuzz_event_json checks
 * it); the last one wins, as for equal names. */
static bool repeated_later(const char *const *names, size_t n, size_t stride,
                           size_t i) {
  for (size_t j = i + 1; j < n; j++)
    if (cu__json_same_key(PAIR_AT(names, j, stride), PAIR_AT(names, i, stride)))
      return true;
  return false;
}

void cu__kv_pairs(cu__kv *kv, const char *key, const char *const *names,
                  const char *const *values, size_t n, size_t stride) {
  if (!kv->json) {
    for (size_t i = 0; i < n; i++) {
      char *k = cu__asprintf("%s.%s", key, PAIR_AT(names, i, stride));
      if (!k) {
        kv->b->oom = true;
        return;
      }
      const char *v = PAIR_AT(values, i, stride);
      cu__kv_str(kv, k, v ? v : "<unset>");
      free(k);
    }
    return;
  }
  kv_key(kv, key);
  cu__sbuf_putc(kv->b, '{');
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    if (repeated_later(names, n, stride, i))
      continue;
    if (!first)
      cu__sbuf_putc(kv->b, ',');
    first = false;
    cu__json_cstr(kv->b, PAIR_AT(names, i, stride));
    cu__sbuf_putc(kv->b, ':');
    cu__json_cstr(kv->b, PAIR_AT(values, i, stride));
  }
  cu__sbuf_putc(kv->b, '}');
}
