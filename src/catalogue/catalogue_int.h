/* SPDX-License-Identifier: MIT */
/* Private to the catalogue sources (catalogue.c, resolve.c,
 * catalogue_default.c). Not installed. */
#ifndef CUPRUM_CATALOGUE_INT_H
#define CUPRUM_CATALOGUE_INT_H

#include <stdbool.h>

#include "cuprum/catalogue.h"

/*
 * Resolve a program name to an absolute executable path, in the parent.
 * `pinned` non-NULL: that absolute path, which must exist (whether it can be
 * executed is left to the spawn, which reports EACCES/ENOEXEC precisely).
 * `pinned` NULL: the first regular file with execute permission in an
 * absolute entry of the parent's PATH (confstr(_CS_PATH) when PATH is
 * unset); relative entries are skipped so a writable working directory
 * cannot hijack the program.
 * On success writes a malloc'd path. Errors: CU_ENOTFOUND (message names the
 * program, and the path when pinned), CU_ENOMEM.
 */
int cu__resolve_program(const char *name, const char *pinned,
                        char **ret_path);

/* Whether `name` is a valid program name: non-empty, no '/', no whitespace
 * or control characters. */
bool cu__program_name_ok(const char *name);

/* Mark a catalogue as the immutable process-wide default (never freed, never
 * changed again). */
void cu__catalogue_make_default(cu_catalogue *cat);

/* cu_catalogue_add_project() for rules that need no checking (the built-in
 * catalogue's own): its noise rules are compiled when first matched, not
 * now. Same errors otherwise. */
int cu__catalogue_add_trusted(cu_catalogue *cat, const cu_project_spec *spec);

#endif /* CUPRUM_CATALOGUE_INT_H */
