/* SPDX-License-Identifier: MIT */
/*
 * The catalogue file of `cuprum --catalogue FILE`: a JSON document parsed
 * with jansson. The format (docs/cli.md has the full reference):
 *
 *   {
 *     "include_default": false,
 *     "projects": [
 *       { "name": "build",
 *         "programs": ["make", {"name": "cc", "path": "/usr/bin/gcc"}],
 *         "docs": ["https://example.org/build"],
 *         "noise": ["^make\\[[0-9]+\\]: (Entering|Leaving) directory"] }
 *     ]
 *   }
 *
 * A program is a name (resolved once on PATH) or an object pinning an
 * absolute path. Unknown keys are errors, so a typo cannot silently widen or
 * narrow the allowlist.
 */
#ifndef CUPRUM_TOOLS_CATALOGUE_FILE_H
#define CUPRUM_TOOLS_CATALOGUE_FILE_H

#include <cuprum/cuprum.h>
#include <jansson.h>

/*
 * Load the catalogue file at `path` into a new catalogue (*ret, caller frees
 * with cu_catalogue_unref()). On failure prints one diagnostic to stderr:
 * syntax errors as "FILE:LINE:COLUMN: reason", semantic errors as
 * "FILE: projects[I] 'NAME': reason", and returns -1 (*ret untouched).
 */
int catalogue_file_load(const char *path, cu_catalogue **ret);

/*
 * The same, from a document already parsed (`root`, borrowed); `name`
 * stands for the file in diagnostics. `cuprum exec-item` loads the pinned
 * one-project catalogue it builds this way, so a project's "confine"
 * means on a Slurm node what it means here.
 */
int catalogue_file_load_json(json_t *root, const char *name,
                             cu_catalogue **ret);

/*
 * A project's confinement as the file's "confine" object (a new
 * reference), so that loading it gives the same rules: NULL when out of
 * memory, or with *why set when a rule has no form in the file (an
 * access other than read, read+write or read+exec: never rounded).
 */
json_t *catalogue_file_confine_json(const cu_confine *c, const char **why);

/*
 * The first key of the JSON object `obj` not in `allowed` (a NULL-ended
 * list), or NULL: the closed-object rule of the catalogue file, which
 * `cuprum exec-item`'s item follows too. The key is borrowed from `obj`.
 */
const char *cli_json_unknown_key(const json_t *obj,
                                 const char *const *allowed);

#endif /* CUPRUM_TOOLS_CATALOGUE_FILE_H */
