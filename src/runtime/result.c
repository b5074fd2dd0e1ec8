/* SPDX-License-Identifier: MIT */
/* Results: text views, tags, release. */
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

const char *cu_result_text(cu_result *r, cu_stream_id which) {
  return cu_result_text_len(r, which, NULL);
}

const char *cu_result_text_len(cu_result *r, cu_stream_id which,
                               size_t *ret_len) {
  if (!r || (which != CU_STDOUT && which != CU_STDERR))
    return NULL;
  int i = which == CU_STDOUT ? 0 : 1;
  if (!r->text_cache[i]) {
    const cu_bytes *b = i == 0 ? &r->out : &r->err;
    char *text = malloc(CU_UTF8_MAX_OUT(b->len) + 1);
    if (!text)
      return NULL;
    cu_utf8_decoder d;
    cu_utf8_init(&d);
    size_t n = cu_utf8_decode(&d, b->data ? b->data : "", b->len, text);
    n += cu_utf8_finish(&d, text + n);
    text[n] = '\0';
    r->text_cache[i] = text;
    r->text_len[i] = n;
  }
  if (ret_len)
    *ret_len = r->text_len[i];
  return r->text_cache[i];
}

void cu_result_free(cu_result *r) {
  if (!r)
    return;
  free(r->out.data);
  free(r->err.data);
  free(r->text_cache[0]);
  free(r->text_cache[1]);
  cu__tags_free(r->tags, r->n_tags);
  memset(r, 0, sizeof *r);
}
