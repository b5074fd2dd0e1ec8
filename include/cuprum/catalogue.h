/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/catalogue.h
 * @brief The allowlist: a catalogue of projects, each owning programs.
 *
 * Only programs that a catalogue names can be turned into commands (see
 * cuprum/cmd.h).  A project groups programs with their documentation
 * locations and noise rules (POSIX extended regular expressions matching
 * output lines that downstream loggers may drop).
 *
 * Program resolution: each program resolves once, in the parent, to an
 * absolute path: either the path the catalogue pins, or the first regular,
 * executable file found on the parent's PATH at first use (the system
 * default path from confstr(_CS_PATH) when PATH is unset).  Relative PATH
 * entries ("", ".", "bin") are ignored, so a writable current directory cannot
 * hijack a program.  Children only ever execve() the absolute path.  The
 * outcome, failure included, is kept for the life of the catalogue.
 *
 * Ownership: a catalogue is reference-counted internally; commands made from
 * it keep it alive, so cu_catalogue_unref() may be called while commands still
 * exist.  The default catalogue is immutable, built once, and never freed.
 *
 * Thread-safety: a catalogue may be shared between threads once it is built
 * (lookups and resolution are internally synchronised).  Adding projects
 * while other threads use the same catalogue is not allowed.
 */
#ifndef CUPRUM_CATALOGUE_H
#define CUPRUM_CATALOGUE_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#include "confine.h"
#include "program.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_catalogue cu_catalogue;
typedef struct cu_project cu_project;

/** One program of a project; path NULL means "search PATH once". Frozen:
 * passed as an array, it never grows. */
typedef struct cu_program_entry {
  cu_program program;
  const char *path; /**< absolute path to pin, or NULL */
} cu_program_entry;

/** Everything a project is made of. All strings are copied. Start from
 * CU_PROJECT_SPEC_INIT: size-versioned like cu_run_opts (docs/design.md,
 * "The ABI rule"). */
typedef struct cu_project_spec {
  size_t size;                      /**< sizeof(cu_project_spec) */
  const char *name;                 /**< unique within the catalogue */
  const cu_program_entry *programs; /**< n_programs entries */
  size_t n_programs;
  const char *const *docs; /**< documentation locations (URLs, paths) */
  size_t n_docs;
  const char *const *noise_rules; /**< POSIX EREs for droppable lines;
                                       bounded in size (users' guide) */
  size_t n_noise_rules;
  const struct cu_confine *confine; /**< confinement of every program of
                                         the project (cuprum/confine.h;
                                         copied); NULL = none */
} cu_project_spec;

/** Initialiser of an empty cu_project_spec (set at least `name`). */
#define CU_PROJECT_SPEC_INIT {.size = sizeof(cu_project_spec)}

/** A read-only view of one catalogue entry, for listings. Frozen: the
 * caller allocates it for cu_catalogue_entry_at(), so it never grows. */
typedef struct cu_catalogue_entry {
  const char *program; /**< program name */
  const char *project; /**< owning project's name */
  const char *path;    /**< resolved absolute path, or NULL if unresolvable */
  int resolve_error;   /**< 0, or the CU_E* code resolution gave */
} cu_catalogue_entry;

/** Name of the curated default project. */
#define CU_PROJECT_CORE_OPS "core-ops"

/**
 * Create an empty catalogue. *ret holds one reference, the caller's
 * (release with cu_catalogue_unref()). Errors: CU_EINVAL (ret NULL),
 * CU_ENOMEM.
 */
int cu_catalogue_new(cu_catalogue **ret) CU_NODISCARD CU_NONNULL(1);

/**
 * The curated default catalogue: project `core-ops` (everyday tools, see
 * cuprum/program.h), plus `vcs` (git), `archive` (tar, gzip) and `sync`
 * (rsync). Programs that run other programs (sh, bash, env, xargs, sudo,
 * nice, timeout, find, sed, ...) are never in it; git, tar and rsync have
 * options that can run commands, so never let untrusted input choose their
 * options. Programs missing on the machine stay listed and fail lookup with
 * CU_ENOTFOUND. Built on first use, immutable; the returned pointer is valid
 * for the life of the process. Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_catalogue_default(const cu_catalogue **ret) CU_NODISCARD CU_NONNULL(1);

/** A mutable copy of `cat` (for example of the default, to extend it).
 * *ret holds one reference, the caller's (cu_catalogue_unref()); its
 * programs are resolved again on first use. Errors: CU_EINVAL (NULL
 * argument), CU_ENOMEM. */
int cu_catalogue_clone(const cu_catalogue *cat, cu_catalogue **ret)
    CU_NODISCARD CU_NONNULL(2);

/**
 * Add a project. Validates everything before changing the catalogue.
 * Program names must be non-empty, without '/', whitespace or control
 * characters. Pinned paths must be absolute; they are checked to exist at
 * resolution (CU_ENOTFOUND naming program and path), and whether they can
 * be executed is left to the spawn (CU_EACCES / CU_ENOEXEC).
 * Errors: CU_EINVAL (missing name, empty program name, relative pinned
 * path, bad regular expression: the message gives the pattern and reason,
 * the default catalogue),
 * CU_EDUPLICATE_PROJECT, CU_EPROGRAM_CONFLICT (a program already owned by
 * another project, or listed twice), CU_ENOMEM.
 */
int cu_catalogue_add_project(cu_catalogue *cat, const cu_project_spec *spec)
    CU_NODISCARD CU_NONNULL(1, 2);

/**
 * Explicitly widen a catalogue with one program, owned by the project
 * named "allowed" (created on first use). Path NULL = PATH search.
 * Allowing a program the catalogue already has is a no-op when `path` is
 * NULL or equals its pinned path (so "--allow ls" next to the default
 * catalogue is harmless); with a different pinned path it is
 * CU_EPROGRAM_CONFLICT. The default catalogue itself cannot be changed
 * (CU_EINVAL); clone it first. Errors as for cu_catalogue_add_project().
 */
int cu_catalogue_allow(cu_catalogue *cat, cu_program program,
                       const char *path) CU_NODISCARD CU_NONNULL(1);

/**
 * Look a program up and resolve it. On success writes the owning project
 * and the absolute path (both owned by the catalogue; either ret may be
 * NULL). Resolution happens once per program and catalogue, on first use;
 * its outcome, failure included, is kept. Errors:
 * CU_EUNKNOWN_PROGRAM (message names the program), CU_ENOTFOUND (allowed
 * but no executable found; message names the program), CU_EINVAL,
 * CU_ENOMEM (kept like any resolution failure).
 */
int cu_catalogue_lookup(const cu_catalogue *cat, cu_program program,
                        const cu_project **ret_project, const char **ret_path)
    CU_NODISCARD;

/** True when the catalogue names the program (no resolution). */
bool cu_catalogue_contains(const cu_catalogue *cat, cu_program program);

/** Number of programs in the catalogue. */
size_t cu_catalogue_count(const cu_catalogue *cat);

/**
 * The i-th entry in a stable order (the order programs were added); resolves
 * the program. A resolution failure is not an error here: it is reported in
 * ret->resolve_error with ret->path NULL. Errors: CU_EINVAL (i out of range).
 */
int cu_catalogue_entry_at(const cu_catalogue *cat, size_t i,
                          cu_catalogue_entry *ret) CU_NODISCARD CU_NONNULL(3);

/** Find a project by name; NULL if absent. */
const cu_project *cu_catalogue_project(const cu_catalogue *cat,
                                       const char *name);

/** Release the caller's reference to a catalogue (commands built from it
 * hold their own, so it lives until the last of them is freed). NULL and
 * the default catalogue are ignored. Returns NULL. Thread-safe. */
cu_catalogue *cu_catalogue_unref(cu_catalogue *cat);

/** The project's name. */
const char *cu_project_name(const cu_project *project);

/** Number of documentation locations, and the i-th one (NULL if absent). */
size_t cu_project_docs_count(const cu_project *project);
const char *cu_project_doc(const cu_project *project, size_t i);

/** Number of noise rules, and the i-th one as given (NULL if absent). */
size_t cu_project_noise_count(const cu_project *project);
const char *cu_project_noise_rule(const cu_project *project, size_t i);

/** The project's confinement rules as given (copied), or NULL when it
 * declared none (or `project` is NULL). Valid while the catalogue lives. */
const cu_confine *cu_project_confine(const cu_project *project);

/**
 * Whether a line (without its terminator; need not be NUL-terminated)
 * matches one of the project's noise rules. NULL project: false.
 */
bool cu_project_is_noise(const cu_project *project, const char *line,
                         size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_CATALOGUE_H */
