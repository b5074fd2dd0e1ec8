/* SPDX-License-Identifier: MIT */
/*
 * Incremental UTF-8 decoding with U+FFFD replacement of maximal subparts
 * (Unicode 3.9 "best practice", which Python's "replace" handler follows):
 * an ill-formed sequence is replaced by one U+FFFD per longest prefix that
 * could still have become well-formed, and the byte that broke it starts
 * afresh. The state carried between chunks is the incomplete prefix only, so
 * the output never depends on where the input was cut.
 */
#include <string.h>

#include "base/internal.h"
#include "stream/stream_internal.h"

#define REPL_0 0xEFu
#define REPL_1 0xBFu
#define REPL_2 0xBDu

/* Sequence length announced by a lead byte, and the range its second byte
 * must fall in (Unicode table 3-7); 0 = not a lead byte. */
static unsigned lead_info(unsigned char c, unsigned char *lo,
                          unsigned char *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    return 2;
  if (c >= 0xE0 && c <= 0xEF) {
    if (c == 0xE0)
      *lo = 0xA0;
    else if (c == 0xED)
      *hi = 0x9F;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (c == 0xF0)
      *lo = 0x90;
    else if (c == 0xF4)
      *hi = 0x8F;
    return 4;
  }
  return 0;
}

/* Length of the valid prefix of the sequence starting at p (avail >= 1
 * bytes). *need = the full length it announces (1 for a bad lead byte).
 * Result == *need: complete; == avail < *need: incomplete so far; else
 * ill-formed after that many bytes. */
static size_t seq_prefix(const unsigned char *p, size_t avail,
                         size_t *need) {
  unsigned char lo, hi;
  unsigned n = lead_info(p[0], &lo, &hi);
  if (n == 0) {
    *need = 1;
    return 0;
  }
  *need = n;
  size_t k = 1;
  for (; k < n && k < avail; k++) {
    if (p[k] < lo || p[k] > hi)
      break;
    lo = 0x80;
    hi = 0xBF;
  }
  return k;
}

static char *put_repl(char *o) {
  o[0] = (char)REPL_0;
  o[1] = (char)REPL_1;
  o[2] = (char)REPL_2;
  return o + 3;
}

static bool is_cont(unsigned char c) { return (c & 0xC0u) == 0x80u; }

/* Lead byte -> sequence length, and the second byte's bounds: the same
 * facts as lead_info(), as tables for the hot loop. */
static const unsigned char seq_len[256] = {
    [0xC2 ... 0xDF] = 2, [0xE0 ... 0xEF] = 3, [0xF0 ... 0xF4] = 4};
static const unsigned char second_lo[256] = {
    [0xC2 ... 0xDF] = 0x80, [0xE0] = 0xA0, [0xE1 ... 0xEF] = 0x80,
    [0xF0] = 0x90,          [0xF1 ... 0xF4] = 0x80};
static const unsigned char second_hi[256] = {
    [0xC2 ... 0xEC] = 0xBF, [0xED] = 0x9F, [0xEE ... 0xF3] = 0xBF,
    [0xF4] = 0x8F};

/* Length of the longest well-formed prefix of p[0..n) that ends on a
 * character boundary. Validation only, so the caller copies whole runs with
 * one memcpy: ASCII is checked eight bytes at a time and multi-byte forms
 * through the tables. (Tried and measured slower on dense non-ASCII text:
 * a table-driven DFA, whose load-to-load dependency costs ~8 cycles a
 * byte, and a branch-free per-character check.) */
size_t cu__utf8_valid_prefix(const void *data, size_t n) {
  const unsigned char *p = data;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      uint64_t w;
      while (n - i >= 8 &&
             (memcpy(&w, p + i, 8), !(w & 0x8080808080808080ull)))
        i += 8;
      while (i < n && p[i] < 0x80)
        i++;
      continue;
    }
    size_t len = seq_len[c];
    if (len == 0 || n - i < len || p[i + 1] < second_lo[c] ||
        p[i + 1] > second_hi[c])
      break;
    if (len >= 3 && (!is_cont(p[i + 2]) || (len == 4 && !is_cont(p[i + 3]))))
      break;
    i += len;
  }
  return i;
}

/* Complete a sequence left pending by the previous chunk. Returns the
 * input bytes consumed; *done is false when the input ran out first. */
static size_t finish_pending(cu_utf8_decoder *d, const unsigned char *in,
                             size_t len, char **o, bool *done) {
  unsigned char tmp[4];
  size_t have = d->npend;
  memcpy(tmp, d->pend, have);
  size_t take = 4 - have < len ? 4 - have : len;
  memcpy(tmp + have, in, take);
  size_t need;
  size_t k = seq_prefix(tmp, have + take, &need);
  *done = true;
  if (k == need) {
    memcpy(*o, tmp, need);
    *o += need;
    d->npend = 0;
    return need - have;
  }
  if (k == have + take) { /* still incomplete: keep it all */
    memcpy(d->pend, tmp, k);
    d->npend = (unsigned char)k;
    *done = false;
    return take;
  }
  /* ill-formed: the pending bytes were a valid prefix, so k >= have */
  *o = put_repl(*o);
  d->npend = 0;
  return k - have;
}

void cu_utf8_init(cu_utf8_decoder *d) { memset(d, 0, sizeof *d); }

size_t cu_utf8_decode(cu_utf8_decoder *d, const void *in, size_t len,
                      char *out) {
  if (len == 0)
    return 0;
  const unsigned char *p = in;
  const unsigned char *end = p + len;
  char *o = out;
  if (d->npend) {
    bool done;
    p += finish_pending(d, p, len, &o, &done);
    if (!done)
      return (size_t)(o - out);
  }
  while (p < end) {
    size_t a = cu__utf8_valid_prefix(p, (size_t)(end - p));
    memcpy(o, p, a);
    p += a;
    o += a;
    if (p == end)
      break;
    size_t need;
    size_t avail = (size_t)(end - p);
    size_t k = seq_prefix(p, avail, &need);
    if (k == need) {
      memcpy(o, p, need);
      o += need;
      p += need;
    } else if (k == avail) {
      memcpy(d->pend, p, k);
      d->npend = (unsigned char)k;
      break;
    } else {
      o = put_repl(o);
      p += k ? k : 1;
    }
  }
  return (size_t)(o - out);
}

size_t cu_utf8_finish(cu_utf8_decoder *d, char *out) {
  if (!d->npend)
    return 0;
  d->npend = 0;
  put_repl(out);
  return 3;
}
