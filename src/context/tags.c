/* SPDX-License-Identifier: MIT */
/* Tag lists: the copies scopes, runs, results and events keep. */
#include <stdlib.h>

#include "base/internal.h"
#include "context/tags.h"

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
  const size_t counts[2] = {na, nb};
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
