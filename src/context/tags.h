/* SPDX-License-Identifier: MIT */
/*
 * Tag lists (key/value labels) as scopes, runs, results and events copy
 * them (tags.c). The context layer owns them because scope tags are where
 * they start; the runtime copies the run's own tags the same way. Not
 * installed.
 */
#ifndef CUPRUM_TAGS_H
#define CUPRUM_TAGS_H

#include <stddef.h>

#include "cuprum/run.h" /* cu_tag */

/* Copies of two tag lists, concatenated (`a` then `b`); NULL keys and
 * values become "". On failure nothing is allocated. Errors: CU_ENOMEM. */
int cu__tags_copy(const cu_tag *a, size_t na, const cu_tag *b, size_t nb,
                  cu_tag **ret, size_t *ret_n);

/* Free `n` tags and the array (NULL ignored). */
void cu__tags_free(cu_tag *tags, size_t n);

#endif /* CUPRUM_TAGS_H */
