/* SPDX-License-Identifier: MIT */
/*
 * Confinement of a child (cuprum/confine.h): the parent builds Landlock
 * rulesets (everything that allocates, opens files or may fail for reasons
 * worth a message); the child only sets no_new_privs and enforces the
 * prepared rulesets, with raw system calls, before execve. Not installed.
 */
#ifndef CUPRUM_SPAWN_CONFINE_H
#define CUPRUM_SPAWN_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

#include "cuprum/confine.h"

/* Layers one child enforces: a project's and a run's. */
#define CU__CONFINE_LAYERS 2

/* What one child does (the argument of cu__confine_apply). Ruleset fds are
 * O_CLOEXEC, > 2, owned by whoever filled this (cu__confine_close). */
typedef struct cu__confine_child {
  bool no_new_privs;
  int n_fds;
  int fds[CU__CONFINE_LAYERS]; /* Landlock rulesets, enforced in order */
} cu__confine_child;

/*
 * Parent side: add the layer asked for by `c` (loaded and checked:
 * catalogue/confine_rules.h) for a child that executes `program` to `out`:
 * sets out->no_new_privs when asked for (or implied by Landlock) and
 * appends a ruleset fd when there are Landlock rules this host can
 * enforce. ORs what will be enforced into *applied (CU_CONFINED_*) and
 * appends to `note` (a NUL-terminated buffer of note_len bytes) what a
 * best-effort request skipped and why.
 * Errors: CU_EUNSUPPORTED (Landlock, or the ABI a rule needs, is missing
 * and `c->best_effort` is false; the message says which and what the host
 * offers), CU_EINVAL (a listed path cannot be opened: message and errno
 * name it), CU_ESYS (the kernel refused a ruleset), CU_ENOMEM. On failure
 * nothing is added to `out`.
 */
int cu__confine_prepare(const cu_confine *c, const char *program,
                        cu__confine_child *out, unsigned *applied,
                        char *note, size_t note_len);

/* Close the ruleset fds of `c` (parent side, after the spawn). */
void cu__confine_close(cu__confine_child *c);

/* Whether `c` has anything for the child to do. */
bool cu__confine_active(const cu__confine_child *c);

/*
 * Child side, the hook of cu__spawn_req.confine: prctl(PR_SET_NO_NEW_PRIVS)
 * when asked, then landlock_restrict_self() for each ruleset. Raw system
 * calls only, no allocation, no writes but its own stack: safe in a
 * vfork-style or forked child. Returns 0 or a positive errno.
 */
int cu__confine_apply(const void *arg);

/* Test-only: make cu_landlock_abi() answer `abi` (0 = no Landlock), or
 * probe again with -1. Not thread-safe with respect to runs in flight. */
void cu__confine_force_abi_for_tests(int abi);

#endif /* CUPRUM_SPAWN_CONFINE_H */
