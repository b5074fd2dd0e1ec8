/* SPDX-License-Identifier: MIT */
/* Results: text views, release (single commands and pipelines). */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/tags.h"
#include "cuprum/pipeline.h"

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

void cu_pipeline_result_free(cu_pipeline_result *r) {
  if (!r)
    return;
  for (size_t i = 0; r->stages && i < r->n; i++)
    cu_result_free(&r->stages[i]);
  free(r->stages);
  memset(r, 0, sizeof *r);
  r->fail_index = -1;
  r->spawn_index = -1;
}
