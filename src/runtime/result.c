/* SPDX-License-Identifier: MIT */
/* Results: text views, release (single commands and pipelines). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/tags.h"
#include "cuprum/pipeline.h"
#include "runtime/job.h"

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
  char *contain_note; /* NULL = "" */
  char *confine_note; /* NULL = "" */
} cu__result;

cu_result *cu__result_new(void) {
  cu__result *r = calloc(1, sizeof *r);
  if (!r) {
    cu__fail(CU_ENOMEM, "allocating a result");
    return NULL;
  }
  atomic_init(&r->text[0], NULL);
  atomic_init(&r->text[1], NULL);
  r->pub.cgroup_cpu_us = -1;
  r->pub.cgroup_mem_peak = -1;
  return &r->pub;
}

/* Replace a note of the private part (copied; NULL or "" = none). */
static int set_note(char **slot, const char *note) {
  free(*slot);
  *slot = NULL;
  if (!note || !*note)
    return 0;
  *slot = cu__strdup(note);
  return *slot ? 0 : CU_ENOMEM;
}

int cu__result_set_contain_note(cu_result *r, const char *note) {
  return set_note(&((cu__result *)r)->contain_note, note);
}

const char *cu_result_contain_note(const cu_result *r) {
  if (!r)
    return NULL;
  const cu__result *p = (const cu__result *)r;
  return p->contain_note ? p->contain_note : "";
}

int cu__result_set_confine_note(cu_result *r, const char *note) {
  return set_note(&((cu__result *)r)->confine_note, note);
}

const char *cu_result_confine_note(const cu_result *r) {
  if (!r)
    return NULL;
  const cu__result *p = (const cu__result *)r;
  return p->confine_note ? p->confine_note : "";
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
  free(p->contain_note);
  free(p->confine_note);
  cu__tags_free(r->tags, r->n_tags);
  free(p);
  return NULL;
}

cu_pipeline_result *cu__pipeline_result_new(void) {
  cu_pipeline_result *r = calloc(1, sizeof *r);
  if (!r) {
    cu__fail(CU_ENOMEM, "allocating a pipeline result");
    return NULL;
  }
  r->fail_index = -1;
  r->spawn_index = -1;
  return r;
}

cu_pipeline_result *cu_pipeline_result_free(cu_pipeline_result *r) {
  if (!r)
    return NULL;
  for (size_t i = 0; r->stages && i < r->n_stages; i++)
    cu_result_free(r->stages[i]);
  free(r->stages);
  free(r);
  return NULL;
}
