/* SPDX-License-Identifier: MIT */
/* The growing capture buffer used by consume and the outstreams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/internal.h"
#include "stream/stream_internal.h"

#define CAP_MIN (64u * 1024u)
/* A first reservation this small (see cu__capbuf_reserve) gets exactly that:
 * most commands write little or nothing, and 64 KiB per stream held by
 * every run in flight is what fragmented the heap of a large batch. */
#define CAP_FIRST_MAX 4096u
/* Captures at most this long are copied into a fresh block on take, and
 * the reading buffer freed whole: shrinking in place would leave a small
 * block pinning the start of a large free one (docs/reliability.md,
 * "Soak"). */
#define TAKE_COPY_MAX 4096u

ssize_t cu__capbuf_reserve(cu__capbuf *b, size_t want, size_t limit) {
  size_t hard = limit ? limit + 1 : SIZE_MAX / 2;
  if (b->cap > b->len + want || b->cap >= hard)
    return (ssize_t)(b->cap - b->len - 1);
  size_t cap = b->cap                     ? b->cap
               : want < CAP_FIRST_MAX ? CAP_FIRST_MAX
                                        : CAP_MIN;
  while (cap <= b->len + want && cap < hard)
    cap *= 2; /* geometric: amortised O(1) copies per byte */
  if (cap > hard)
    cap = hard;
  char *p = realloc(b->data, cap);
  if (!p)
    return cu__fail(CU_ENOMEM, "out of memory growing a capture to %zu bytes",
                    cap);
  b->data = p;
  b->cap = cap;
  return (ssize_t)(cap - b->len - 1);
}

/* Fresh pages are otherwise faulted in one at a time by the kernel's copy
 * into them, and a fault costs more than copying the page (much more in a
 * VM). MADV_POPULATE_WRITE (Linux 5.14) maps a whole range in one call;
 * older kernels say EINVAL and we simply fault as before. Small reads are
 * not worth the call. */
#define PREFAULT_MIN (64u * 1024u)

void cu__capbuf_prefault(cu__capbuf *b, size_t n) {
#ifdef MADV_POPULATE_WRITE
  size_t from = b->prefaulted > b->len ? b->prefaulted : b->len;
  size_t to = b->len + n < b->cap ? b->len + n : b->cap;
  if (!b->data || to < from + PREFAULT_MIN)
    return;
  uintptr_t lo = ((uintptr_t)(b->data + from) + 4095) & ~(uintptr_t)4095;
  uintptr_t hi = (uintptr_t)(b->data + to) & ~(uintptr_t)4095;
  if (hi > lo)
    (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
  b->prefaulted = to;
#else
  (void)b, (void)n;
#endif
}

int cu__capbuf_take(cu__capbuf *b, char **ret_data, size_t *ret_len) {
  char *p;
  if (!b->data) {
    p = malloc(1);
  } else {
    /* shrink-wrap: a 1 MiB read buffer should not pin 2 MiB per result;
     * a small capture moves to a block of its own (TAKE_COPY_MAX) */
    size_t spare = b->cap - (b->len + 1);
    p = NULL;
    if (b->len < TAKE_COPY_MAX && spare > 64 && (p = malloc(b->len + 1))) {
      memcpy(p, b->data, b->len);
      free(b->data);
    } else if (spare > 4096) {
      p = realloc(b->data, b->len + 1);
    }
    if (!p)
      p = b->data; /* a failed shrink keeps the larger block */
  }
  if (!p)
    return cu__fail(CU_ENOMEM, "out of memory finishing a capture");
  p[b->len] = '\0';
  *ret_data = p;
  if (ret_len)
    *ret_len = b->len;
  memset(b, 0, sizeof *b);
  return 0;
}

void cu__capbuf_free(cu__capbuf *b) {
  if (!b)
    return;
  free(b->data);
  memset(b, 0, sizeof *b);
}
