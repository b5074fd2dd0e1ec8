/* SPDX-License-Identifier: MIT */
/*
 * Confinement rules as data (cuprum/confine.h): loading a caller's
 * size-versioned cu_confine, checking it, and keeping a copy. Used by the
 * catalogue (a project's rules) and the runtime (a run's rules); applying
 * them is spawn/confine.c's job. Not installed.
 */
#ifndef CUPRUM_CONFINE_RULES_H
#define CUPRUM_CONFINE_RULES_H

#include "cuprum/confine.h"

/* Load `src` (ABI rule) into `dst` and check it: access bits known and
 * non-zero, paths absolute and non-NULL, a count never with a NULL array,
 * at most 256 entries per list. `what` names it in messages ("confine",
 * "project 'git': confine"). The arrays stay borrowed from `src`.
 * Errors: CU_EINVAL. */
int cu__confine_load(const cu_confine *src, cu_confine *dst, const char *what);

/* Whether a loaded cu_confine asks for anything at all. */
bool cu__confine_wanted(const cu_confine *c);

/* A deep copy of a loaded cu_confine in one allocation (free() it).
 * Errors: CU_ENOMEM. */
int cu__confine_dup(const cu_confine *c, cu_confine **ret);

#endif /* CUPRUM_CONFINE_RULES_H */
