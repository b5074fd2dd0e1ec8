/* SPDX-License-Identifier: MIT */
/*
 * A growable text buffer and the escapers the event serializer and the
 * logging hook share (JSON strings, logfmt values). Not installed.
 */
#ifndef CUPRUM_FMT_H
#define CUPRUM_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/internal.h"

/* Allocation failure is sticky: later appends do nothing and finish reports
 * CU_ENOMEM, so formatting code appends without checking each step. */
typedef struct cu__sbuf {
  char *data;
  size_t len;
  size_t cap;
  bool oom;
} cu__sbuf;

void cu__sbuf_putn(cu__sbuf *b, const char *s, size_t n);
void cu__sbuf_puts(cu__sbuf *b, const char *s);
void cu__sbuf_putc(cu__sbuf *b, char c);
void cu__sbuf_printf(cu__sbuf *b, const char *fmt, ...) CU__PRINTF(2, 3);
/* Hand the NUL-terminated text to *ret (caller frees); CU_ENOMEM if an
 * append failed. The buffer is emptied either way. */
int cu__sbuf_finish(cu__sbuf *b, char **ret);
void cu__sbuf_free(cu__sbuf *b);

/* Length of the valid UTF-8 sequence at s (1..4, n > 0 bytes left), or 0
 * if it is invalid: bad lead byte, truncated, overlong, surrogate or above
 * U+10FFFF. */
size_t cu__utf8_seq_len(const unsigned char *s, size_t n);
/* Whether the string is valid UTF-8 throughout. */
bool cu__utf8_valid(const char *s);
/* A copy of s (caller frees) in which each byte that starts no valid UTF-8
 * sequence is U+FFFD, as cu__json_str writes it. NULL when out of memory. */
char *cu__utf8_dup(const char *s);

/* Whether two strings are written as the same JSON string: equal once each
 * byte that starts no valid UTF-8 sequence is U+FFFD. */
bool cu__json_same_key(const char *a, const char *b);

/* A JSON string literal (quotes included): ", \ and control characters
 * escaped, invalid UTF-8 replaced by U+FFFD. NULL gives `null`. */
void cu__json_str(cu__sbuf *b, const char *s, size_t n);
void cu__json_cstr(cu__sbuf *b, const char *s);

/* A logfmt value: bare when it is non-empty and has no blank, quote, '='
 * or control character, else a quoted JSON-style string. */
void cu__logfmt_val(cu__sbuf *b, const char *s, size_t n);

/* An argv as one space-separated string (for logfmt and human records). */
void cu__argv_line(cu__sbuf *b, const char *const *argv, size_t argc);

/* RFC 3339 UTC timestamp with nanoseconds, unquoted. */
void cu__rfc3339(cu__sbuf *b, struct timespec wall);

/*
 * Key/value records written the same way in JSON (an object) and logfmt
 * (space-separated key=value). NULL strings are `null` in JSON and left out
 * in logfmt.
 */
typedef struct cu__kv {
  cu__sbuf *b;
  bool json;
  bool first;
} cu__kv;

void cu__kv_begin(cu__kv *kv, cu__sbuf *b, bool json);
void cu__kv_end(cu__kv *kv);
void cu__kv_strn(cu__kv *kv, const char *key, const char *s, size_t n);
void cu__kv_str(cu__kv *kv, const char *key, const char *s);
void cu__kv_int(cu__kv *kv, const char *key, long long v);
void cu__kv_bool(cu__kv *kv, const char *key, bool v);
/* Milliseconds with three decimals from nanoseconds (a JSON number). */
void cu__kv_ms(cu__kv *kv, const char *key, int64_t ns);
/* JSON: an array of strings; logfmt: the argv joined by spaces, quoted. */
void cu__kv_argv(cu__kv *kv, const char *key, const char *const *argv,
                 size_t argc);
/* Name/value pairs (env overlays, tags): a JSON object in which a repeated
 * name appears once with its last value (NULL value = null); in logfmt one
 * `prefix.name=value` item each. */
void cu__kv_pairs(cu__kv *kv, const char *key, const char *const *names,
                  const char *const *values, size_t n, size_t stride);

#endif /* CUPRUM_FMT_H */
