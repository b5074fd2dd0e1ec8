/* SPDX-License-Identifier: MIT */
/* Results: text views, tags, release. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "runtime/job.h"

int cu__tags_copy(const cu_tag *a, size_t na, const cu_tag *b, size_t nb,
                  cu_tag **ret, size_t *ret_n) {
  *ret = NULL;
  *ret_n = 0;
  if (na + nb == 0)
    return 0;
  cu_tag *t = calloc(na + nb, sizeof *t);
  if (!t)
    return cu__fail(CU_ENOMEM, "copying tags");
  const cu_tag *lists[2] = {a, b};
  size_t counts[2] = {na, nb};
  size_t k = 0;
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++, k++) {
      t[k].key = cu__strdup(lists[l][i].key ? lists[l][i].key : "");
      t[k].value = cu__strdup(lists[l][i].value ? lists[l][i].value : "");
      if (!t[k].key || !t[k].value) {
        cu__tags_free(t, k + 1);
        return cu__fail(CU_ENOMEM, "copying tags");
      }
    }
  *ret = t;
  *ret_n = k;
  return 0;
}

void cu__tags_free(cu_tag *tags, size_t n) {
  for (size_t i = 0; tags && i < n; i++) {
    free((char *)tags[i].key);
    free((char *)tags[i].value);
  }
  free(tags);
}

/* A UTF-8 view, allocated with its length in front. */
typedef struct text_view {
  size_t len;
  char text[];
} text_view;

/* The library's allocation behind every cu_result it hands out: the public
 * struct first (so a cu_result * is a cu__result *), private fields after,
 * out of the ABI. The text views are filled lazily behind a const pointer:
 * atomics make concurrent first calls safe (one view wins). */
typedef struct cu__result {
  cu_result pub;
  _Atomic(text_view *) text[2];
} cu__result;

cu_result *cu__result_new(void) {
  cu__result *r = calloc(1, sizeof *r);
  if (!r) {
    cu__fail(CU_ENOMEM, "allocating a result");
    return NULL;
  }
  atomic_init(&r->text[0], NULL);
  atomic_init(&r->text[1], NULL);
  return &r->pub;
}

static text_view *decode_view(const cu_bytes *b) {
  text_view *v = malloc(sizeof *v + CU_UTF8_MAX_OUT(b->len) + 1);
  if (!v)
    return NULL;
  cu_utf8_decoder d;
  cu_utf8_init(&d);
  size_t n = cu_utf8_decode(&d, b->data ? b->data : "", b->len, v->text);
  n += cu_utf8_finish(&d, v->text + n);
  v->text[n] = '\0';
  v->len = n;
  return v;
}

const char *cu_result_text(const cu_result *r, cu_stream_id which) {
  return cu_result_text_len(r, which, NULL);
}

const char *cu_result_text_len(const cu_result *r, cu_stream_id which,
                               size_t *ret_len) {
  if (!r || (which != CU_STDOUT && which != CU_STDERR))
    return NULL;
  int i = which == CU_STDOUT ? 0 : 1;
  /* The cache is the library's own, not the caller's const data. */
  cu__result *p = (cu__result *)(uintptr_t)r;
  text_view *v = atomic_load_explicit(&p->text[i], memory_order_acquire);
  if (!v) {
    text_view *mine = decode_view(i == 0 ? &r->out : &r->err);
    if (!mine)
      return NULL;
    text_view *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&p->text[i], &expected, mine,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
      v = mine;
    } else {
      free(mine); /* another thread published first: use its view */
      v = expected;
    }
  }
  if (ret_len)
    *ret_len = v->len;
  return v->text;
}

cu_result *cu_result_free(cu_result *r) {
  if (!r)
    return NULL;
  cu__result *p = (cu__result *)r;
  free(r->out.data);
  free(r->err.data);
  free(atomic_load(&p->text[0]));
  free(atomic_load(&p->text[1]));
  cu__tags_free(r->tags, r->n_tags);
  free(p);
  return NULL;
}
