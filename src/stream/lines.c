/* SPDX-License-Identifier: MIT */
/*
 * Incremental line splitting over raw bytes, delivering decoded UTF-8.
 *
 * Input is decoded first (in slices, so scratch memory stays bounded) and
 * split afterwards: '\n' and '\r' never occur inside a multi-byte sequence
 * and U+FFFD contains neither, so splitting the decoded text is the same as
 * splitting the raw bytes. Lines wholly inside a slice are delivered in
 * place (the terminator is overwritten with the NUL); only a line that
 * spans slices is copied into the carry buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "cuprum/events.h"
#include "cuprum/stream.h"
#include "base/internal.h"

#define SLICE (64u * 1024u)
/* carry holds at most CU_LINE_MAX content bytes, a held '\r', a few bytes
 * of a cut character and the NUL */
#define CARRY_CAP (CU_LINE_MAX + 16u)

struct cu_line_splitter {
  cu_line_fn fn;
  void *userdata;
  cu_utf8_decoder dec;
  char *dbuf; /* decoded slice, CU_UTF8_MAX_OUT(SLICE) + 1 */
  char *carry;
  size_t clen;
};

int cu_line_splitter_new(cu_line_fn fn, void *userdata,
                         cu_line_splitter **ret) {
  if (!fn || !ret)
    return cu__fail(CU_EINVAL, "line splitter needs a callback");
  cu_line_splitter *s = calloc(1, sizeof *s);
  if (s) {
    s->dbuf = malloc(CU_UTF8_MAX_OUT(SLICE) + 1);
    s->carry = malloc(CARRY_CAP);
  }
  if (!s || !s->dbuf || !s->carry) {
    cu_line_splitter_free(s);
    return cu__fail(CU_ENOMEM, "out of memory for a line splitter");
  }
  s->fn = fn;
  s->userdata = userdata;
  *ret = s;
  return 0;
}

cu_line_splitter *cu_line_splitter_free(cu_line_splitter *s) {
  if (!s)
    return NULL;
  free(s->dbuf);
  free(s->carry);
  free(s);
  return NULL;
}

/* Largest character boundary <= CU_LINE_MAX in valid UTF-8 text. */
static size_t cut_point(const char *p) {
  size_t cut = CU_LINE_MAX;
  while (cut > 0 && ((unsigned char)p[cut] & 0xC0u) == 0x80u)
    cut--;
  return cut;
}

/* Deliver p[0..len) with the byte after it replaced by NUL for the call. */
static void deliver(cu_line_splitter *s, char *p, size_t len,
                    unsigned flags) {
  char saved = p[len];
  p[len] = '\0';
  s->fn(s->userdata, p, len, flags);
  p[len] = saved;
}

/* Deliver a complete line that lives in writable memory with at least one
 * byte after it, cutting it into CU_LINE_MAX pieces when too long. */
static void deliver_line(cu_line_splitter *s, char *p, size_t len,
                         unsigned last_flags) {
  while (len > CU_LINE_MAX) {
    size_t cut = cut_point(p);
    deliver(s, p, cut, CU_LINE_SPLIT);
    p += cut;
    len -= cut;
  }
  deliver(s, p, len, last_flags);
}

/* Cut pieces off the carry while its content is too long. A trailing '\r'
 * may be half of a "\r\n" terminator, so it does not count yet. */
static void trim_carry(cu_line_splitter *s) {
  for (;;) {
    size_t content = s->clen;
    if (content && s->carry[content - 1] == '\r')
      content--;
    if (content <= CU_LINE_MAX)
      return;
    size_t cut = cut_point(s->carry);
    deliver(s, s->carry, cut, CU_LINE_SPLIT);
    s->clen -= cut;
    memmove(s->carry, s->carry + cut, s->clen);
  }
}

static void append_carry(cu_line_splitter *s, const char *p, size_t len) {
  while (len) {
    size_t room = CARRY_CAP - 1 - s->clen;
    size_t take = len < room ? len : room;
    memcpy(s->carry + s->clen, p, take);
    s->clen += take;
    p += take;
    len -= take;
    trim_carry(s);
  }
}

static size_t strip_cr(const char *p, size_t len) {
  return len && p[len - 1] == '\r' ? len - 1 : len;
}

/* Split one decoded slice (writable, one spare byte after it). */
static void split(cu_line_splitter *s, char *p, size_t n) {
  char *end = p + n;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
      append_carry(s, p, (size_t)(end - p));
      return;
    }
    if (s->clen) {
      append_carry(s, p, (size_t)(nl - p));
      size_t len = strip_cr(s->carry, s->clen);
      deliver(s, s->carry, len, 0);
      s->clen = 0;
    } else {
      deliver_line(s, p, strip_cr(p, (size_t)(nl - p)), 0);
    }
    p = nl + 1;
  }
}

int cu_line_splitter_feed(cu_line_splitter *s, const void *data,
                          size_t len) {
  if (!s || (!data && len))
    return cu__fail(CU_EINVAL, "line splitter: invalid argument");
  const unsigned char *in = data;
  while (len) {
    size_t take = len < SLICE ? len : SLICE;
    size_t n = cu_utf8_decode(&s->dec, in, take, s->dbuf);
    split(s, s->dbuf, n);
    in += take;
    len -= take;
  }
  return 0;
}

void cu_line_splitter_finish(cu_line_splitter *s) {
  if (!s)
    return;
  char tail[4];
  size_t n = cu_utf8_finish(&s->dec, tail);
  append_carry(s, tail, n);
  if (!s->clen)
    return;
  /* at EOF a trailing '\r' is plain content */
  deliver_line(s, s->carry, s->clen, CU_LINE_PARTIAL);
  s->clen = 0;
}
