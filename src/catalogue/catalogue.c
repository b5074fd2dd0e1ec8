/* SPDX-License-Identifier: MIT */
/* The catalogue: projects owning programs, lookup, lazy resolution, and
 * reference counting (commands keep their catalogue alive). */
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/catalogue_int.h"
#include "catalogue/cmd_int.h"
#include "catalogue/confine_rules.h"

struct cu_project {
  char *name;
  size_t pos; /* index in its catalogue's projects array */
  char **docs;
  size_t n_docs;
  char **noise_src; /* the patterns as given, for messages and listings */
  regex_t *noise;
  bool *noise_ok;   /* noise[i] holds a compiled pattern */
  size_t n_noise;
  /* Rules from a trusted source (the built-in catalogue, a clone of a
   * checked project) are compiled on first use, under this lock: compiling
   * them was most of what a short `cuprum run` executed, and only an
   * observer of noise needs them. */
  pthread_mutex_t noise_lock;
  atomic_bool noise_ready;
  cu_confine *confine; /* the project's confinement rules, or NULL */
};

/* One allowed program. Resolution happens once, on first lookup: `state`
 * is released after path/err/msg are written, so readers that acquire it
 * see them without taking the lock. */
struct entry {
  char *program;
  char *pinned; /* absolute path given by the catalogue, or NULL */
  cu_project *project;
  pthread_mutex_t lock;
  atomic_int state; /* 0 unresolved, 1 resolved (path or err set) */
  char *path;
  int err;
  char *msg; /* the failure message, replayed on every lookup */
};

/*
 * A hash index from a name to an item (an entry or a project), so that
 * building a catalogue of N programs and looking one up are linear and
 * constant time: a 60,000-program file took 10 s with linear scans.
 * Open addressing, linear probing, at most half full. Items are never
 * removed (a failed add is undone before it is indexed).
 */
typedef const char *(*key_fn)(const void *item);

typedef struct name_index {
  const void **slots;
  size_t cap; /* a power of two, or 0 */
  size_t n;
} name_index;

static uint64_t hash_name(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static const void *index_find(const name_index *ix, key_fn key,
                              const char *name) {
  if (ix->cap == 0)
    return NULL;
  for (size_t i = hash_name(name) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
    if (!ix->slots[i])
      return NULL;
    if (strcmp(key(ix->slots[i]), name) == 0)
      return ix->slots[i];
  }
}

static void index_put_unchecked(name_index *ix, key_fn key, const void *item) {
  size_t i = hash_name(key(item)) & (ix->cap - 1);
  while (ix->slots[i])
    i = (i + 1) & (ix->cap - 1);
  ix->slots[i] = item;
  ix->n++;
}

/* Room for `more` items, so that the puts that follow cannot fail. */
static int index_reserve(name_index *ix, key_fn key, size_t more) {
  size_t want = ix->cap ? ix->cap : 16;
  while ((ix->n + more) * 2 > want)
    want *= 2;
  if (want == ix->cap)
    return 0;
  name_index grown = {.slots = calloc(want, sizeof *grown.slots),
                      .cap = want};
  if (!grown.slots)
    return -1;
  for (size_t i = 0; i < ix->cap; i++)
    if (ix->slots[i])
      index_put_unchecked(&grown, key, ix->slots[i]);
  free(ix->slots);
  *ix = grown;
  return 0;
}

struct cu_catalogue {
  atomic_size_t refs;
  bool is_default;
  cu_project **projects;
  size_t n_projects;
  struct entry **entries; /* pointers: entries never move once published */
  size_t n_entries;
  size_t cap_projects, cap_entries;
  name_index by_program; /* struct entry * by program name */
  name_index by_project; /* cu_project * by name */
};

static const char *entry_key(const void *e) {
  return ((const struct entry *)e)->program;
}

static const char *project_key(const void *p) {
  return ((const cu_project *)p)->name;
}

#define ALLOWED_PROJECT "allowed"

/* ------------------------------------------------------------ freeing */

static void project_free(cu_project *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n_docs; i++)
    free(p->docs[i]);
  for (size_t i = 0; i < p->n_noise; i++) {
    if (p->noise_ok && p->noise_ok[i])
      regfree(&p->noise[i]);
    free(p->noise_src[i]);
  }
  pthread_mutex_destroy(&p->noise_lock);
  free(p->docs);
  free(p->noise);
  free(p->noise_ok);
  free(p->noise_src);
  free(p->confine);
  free(p->name);
  free(p);
}

static void entry_free(struct entry *e) {
  if (!e)
    return;
  pthread_mutex_destroy(&e->lock);
  free(e->program);
  free(e->pinned);
  free(e->path);
  free(e->msg);
  free(e);
}

static void catalogue_destroy(cu_catalogue *cat) {
  for (size_t i = 0; i < cat->n_entries; i++)
    entry_free(cat->entries[i]);
  for (size_t i = 0; i < cat->n_projects; i++)
    project_free(cat->projects[i]);
  free(cat->entries);
  free(cat->projects);
  free(cat->by_program.slots);
  free(cat->by_project.slots);
  free(cat);
}

cu_catalogue *cu__catalogue_ref(const cu_catalogue *cat) {
  cu_catalogue *c = (cu_catalogue *)cat; /* the count is not the contents */
  if (c && !c->is_default)
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void cu__catalogue_unref(cu_catalogue *cat) {
  if (!cat || cat->is_default)
    return;
  if (atomic_fetch_sub_explicit(&cat->refs, 1, memory_order_acq_rel) == 1)
    catalogue_destroy(cat);
}

cu_catalogue *cu_catalogue_unref(cu_catalogue *cat) {
  cu__catalogue_unref(cat);
  return NULL;
}

void cu__catalogue_make_default(cu_catalogue *cat) { cat->is_default = true; }

int cu_catalogue_new(cu_catalogue **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_catalogue_new: ret is NULL");
  cu_catalogue *cat = calloc(1, sizeof *cat);
  if (!cat)
    return cu__fail(CU_ENOMEM, "out of memory creating a catalogue");
  atomic_init(&cat->refs, 1);
  *ret = cat;
  return 0;
}

/* ------------------------------------------------------------ lookup */

static struct entry *find_entry(const cu_catalogue *cat, const char *name) {
  return (struct entry *)index_find(&cat->by_program, entry_key, name);
}

static cu_project *find_project(const cu_catalogue *cat, const char *name) {
  return (cu_project *)index_find(&cat->by_project, project_key, name);
}

static void resolve_locked(struct entry *e) {
  int rc = cu__resolve_program(e->program, e->pinned, &e->path);
  if (rc != 0) {
    e->err = rc;
    e->msg = cu__strdup(cu_last_error()); /* NULL: replay a plain message */
  }
  atomic_store_explicit(&e->state, 1, memory_order_release);
}

/* Resolve once; returns 0 with e->path set, or the (cached) failure. */
static int entry_resolve(struct entry *e) {
  if (!atomic_load_explicit(&e->state, memory_order_acquire)) {
    pthread_mutex_lock(&e->lock);
    if (!atomic_load_explicit(&e->state, memory_order_relaxed))
      resolve_locked(e);
    pthread_mutex_unlock(&e->lock);
  }
  if (e->err == 0)
    return 0;
  if (e->msg)
    return cu__fail(e->err, "%s", e->msg);
  return cu__fail(e->err, "program '%s' could not be resolved", e->program);
}

int cu_catalogue_lookup(const cu_catalogue *cat, cu_program program,
                        const cu_project **ret_project, const char **ret_path) {
  if (!cat || !program.name)
    return cu__fail(CU_EINVAL, "cu_catalogue_lookup: %s is NULL",
                    cat ? "program name" : "catalogue");
  struct entry *e = find_entry(cat, program.name);
  if (!e)
    return cu__fail(CU_EUNKNOWN_PROGRAM,
                    "program '%s' is not in the catalogue", program.name);
  int rc = entry_resolve(e);
  if (rc != 0)
    return rc;
  if (ret_project)
    *ret_project = e->project;
  if (ret_path)
    *ret_path = e->path;
  return 0;
}

bool cu_catalogue_contains(const cu_catalogue *cat, cu_program program) {
  return cat && program.name && find_entry(cat, program.name);
}

size_t cu_catalogue_count(const cu_catalogue *cat) {
  return cat ? cat->n_entries : 0;
}

int cu_catalogue_entry_at(const cu_catalogue *cat, size_t i,
                          cu_catalogue_entry *ret) {
  if (!cat || !ret || i >= cat->n_entries)
    return cu__fail(CU_EINVAL, "cu_catalogue_entry_at: no entry %zu", i);
  struct entry *e = cat->entries[i];
  int rc = entry_resolve(e);
  *ret = (cu_catalogue_entry){.program = e->program,
                              .project = e->project->name,
                              .path = rc == 0 ? e->path : NULL,
                              .resolve_error = rc};
  return 0;
}

const cu_project *cu_catalogue_project(const cu_catalogue *cat,
                                       const char *name) {
  return cat && name ? find_project(cat, name) : NULL;
}

/* ------------------------------------------------------------ projects */

const char *cu_project_name(const cu_project *project) {
  return project ? project->name : NULL;
}

const cu_confine *cu_project_confine(const cu_project *project) {
  return project ? project->confine : NULL;
}

size_t cu_project_docs_count(const cu_project *project) {
  return project ? project->n_docs : 0;
}

const char *cu_project_doc(const cu_project *project, size_t i) {
  return project && i < project->n_docs ? project->docs[i] : NULL;
}

size_t cu_project_noise_count(const cu_project *project) {
  return project ? project->n_noise : 0;
}

const char *cu_project_noise_rule(const cu_project *project, size_t i) {
  return project && i < project->n_noise ? project->noise_src[i] : NULL;
}

/* Compile a trusted project's rules the first time they are needed. A rule
 * that fails (it cannot: they were checked, or are the library's own) just
 * never matches. */
static void noise_ensure(const cu_project *cp) {
  cu_project *p = (cu_project *)(uintptr_t)cp; /* the cache is ours */
  if (atomic_load_explicit(&p->noise_ready, memory_order_acquire))
    return;
  pthread_mutex_lock(&p->noise_lock);
  if (!atomic_load_explicit(&p->noise_ready, memory_order_relaxed)) {
    for (size_t i = 0; i < p->n_noise; i++)
      p->noise_ok[i] = regcomp(&p->noise[i], p->noise_src[i],
                               REG_EXTENDED | REG_NOSUB) == 0;
    atomic_store_explicit(&p->noise_ready, true, memory_order_release);
  }
  pthread_mutex_unlock(&p->noise_lock);
}

bool cu_project_is_noise(const cu_project *project, const char *line,
                         size_t len) {
  if (!project || (!line && len) || project->n_noise == 0)
    return false;
  noise_ensure(project);
#ifdef REG_STARTEND
  for (size_t i = 0; i < project->n_noise; i++) {
    if (!project->noise_ok[i])
      continue;
    /* REG_STARTEND: match the given bytes only, no NUL needed. */
    regmatch_t span = {.rm_so = 0, .rm_eo = (regoff_t)len};
    if (regexec(&project->noise[i], line ? line : "", 1, &span,
                REG_STARTEND) == 0)
      return true;
  }
  return false;
#else
  /* No REG_STARTEND (musl, POSIX.1-2017 regexec): match a NUL-terminated
   * copy, so a NUL inside the line ends it there for the rules. A line too
   * long to copy is not noise. */
  char small[256];
  char *buf = len < sizeof small ? small : malloc(len + 1);
  if (!buf)
    return false;
  if (len)
    memcpy(buf, line, len);
  buf[len] = '\0';
  bool hit = false;
  for (size_t i = 0; i < project->n_noise && !hit; i++)
    hit = project->noise_ok[i] &&
          regexec(&project->noise[i], buf, 0, NULL, 0) == 0;
  if (buf != small)
    free(buf);
  return hit;
#endif
}

/* ------------------------------------------------------------ building */

static int validate_program(const cu_catalogue *cat, const cu_program_entry *pe,
                            const char *project) {
  if (!cu__program_name_ok(pe->program.name))
    return cu__fail(CU_EINVAL,
                    "project '%s': invalid program name '%s' (empty, or "
                    "contains '/', whitespace or control characters)",
                    project, pe->program.name ? pe->program.name : "(null)");
  if (pe->path && pe->path[0] != '/')
    return cu__fail(CU_EINVAL,
                    "project '%s': program '%s' pins a relative path '%s'",
                    project, pe->program.name, pe->path);
  struct entry *owner = find_entry(cat, pe->program.name);
  if (owner)
    return cu__fail(CU_EPROGRAM_CONFLICT,
                    "program '%s' is already owned by project '%s'",
                    pe->program.name, owner->project->name);
  return 0;
}

static const char *program_entry_key(const void *pe) {
  return ((const cu_program_entry *)pe)->program.name;
}

/* A program listed twice in one spec: a temporary index keeps it linear. */
static int check_repeats(const cu_project_spec *spec) {
  if (spec->n_programs < 2)
    return 0;
  name_index seen = {0};
  if (index_reserve(&seen, program_entry_key, spec->n_programs) != 0)
    return cu__fail(CU_ENOMEM, "out of memory adding project '%s'",
                    spec->name);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < spec->n_programs; i++) {
    const cu_program_entry *pe = &spec->programs[i];
    if (index_find(&seen, program_entry_key, pe->program.name))
      rc = cu__fail(CU_EPROGRAM_CONFLICT,
                    "project '%s' lists program '%s' twice", spec->name,
                    pe->program.name);
    else
      index_put_unchecked(&seen, program_entry_key, pe);
  }
  free(seen.slots);
  return rc;
}

/* Everything that can be wrong with a spec, checked before any change. */
static int validate_spec(const cu_catalogue *cat, const cu_project_spec *spec) {
  if (!spec->name || !spec->name[0])
    return cu__fail(CU_EINVAL, "a project needs a non-empty name");
  if (find_project(cat, spec->name))
    return cu__fail(CU_EDUPLICATE_PROJECT,
                    "project '%s' is already in the catalogue", spec->name);
  if ((spec->n_programs && !spec->programs) || (spec->n_docs && !spec->docs) ||
      (spec->n_noise_rules && !spec->noise_rules))
    return cu__fail(CU_EINVAL, "project '%s': an array is NULL but its "
                               "count is not zero", spec->name);
  for (size_t i = 0; i < spec->n_programs; i++) {
    int rc = validate_program(cat, &spec->programs[i], spec->name);
    if (rc != 0)
      return rc;
  }
  int rc = check_repeats(spec);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < spec->n_docs; i++)
    if (!spec->docs[i])
      return cu__fail(CU_EINVAL, "project '%s': documentation location %zu "
                                 "is NULL", spec->name, i);
  if (spec->confine) {
    char what[160];
    snprintf(what, sizeof what, "project '%s': confine", spec->name);
    cu_confine c;
    return cu__confine_load(spec->confine, &c, what);
  }
  return 0;
}

/* A bound on what regcomp makes of a rule. glibc copies a repeated
 * subexpression once per bound (and once for '+'), so nested bounds
 * ("((a{255}){255}){255}") or a run of '+' grow its memory exponentially:
 * fuzz_catalogue_file found a catalogue file whose one rule took 2 GB.
 * Repeating a repetition ("a++", "a*{2}") is undefined in POSIX EREs
 * (XBD 9.4.6) and refused; otherwise the rule's size with every repetition
 * expanded must stay under NOISE_MAX_COST. Returns NULL or why not. */
#define NOISE_MAX_LEN 1024
#define NOISE_MAX_COST 20000.0
#define NOISE_MAX_DEPTH 32

static size_t bracket_end(const char *s, size_t i, size_t len) {
  size_t j = i + 1; /* after '[' */
  if (j < len && s[j] == '^')
    j++;
  if (j < len && s[j] == ']')
    j++;
  while (j < len && s[j] != ']') {
    if (s[j] == '[' && j + 1 < len &&
        (s[j + 1] == ':' || s[j + 1] == '=' || s[j + 1] == '.')) {
      const char *close = strstr(s + j + 2, (char[]){s[j + 1], ']', '\0'});
      j = close ? (size_t)(close - s) + 2 : len;
      continue;
    }
    j++;
  }
  return j; /* at ']' (or len: regcomp reports it) */
}

static const char *noise_too_large(const char *s) {
  size_t len = strlen(s);
  if (len > NOISE_MAX_LEN)
    return "longer than 1024 bytes";
  double sum[NOISE_MAX_DEPTH + 1] = {0}, last[NOISE_MAX_DEPTH + 1] = {0};
  int depth = 0;
  bool repeated = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    double times = 0;
    if (c == '*' || c == '+' || c == '?') {
      times = 2;
    } else if (c == '{' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
      char *end;
      unsigned long lo = strtoul(s + i + 1, &end, 10), hi = lo;
      if (*end == ',')
        hi = end[1] >= '0' && end[1] <= '9' ? strtoul(end + 1, &end, 10)
                                            : (end++, lo + 1);
      if (*end != '}')
        return NULL; /* not a bound: regcomp says what is wrong */
      times = (double)(hi > lo ? hi : lo) + 1;
      i = (size_t)(end - s);
    }
    if (times > 0) {
      if (repeated)
        return "repeats a repetition (undefined in a POSIX ERE)";
      sum[depth] += last[depth] * (times - 1);
      last[depth] *= times;
      repeated = true;
    } else {
      double atom = 1;
      if (c == '(') {
        if (depth == NOISE_MAX_DEPTH)
          return "groups nested too deep";
        depth++;
        sum[depth] = last[depth] = 0;
        repeated = false;
        continue;
      }
      if (c == ')' && depth > 0) {
        atom = sum[depth] + 1;
        depth--;
      } else if (c == '\\' && i + 1 < len) {
        i++;
      } else if (c == '[') {
        i = bracket_end(s, i, len);
      } else if (c == '|') {
        atom = 0;
      }
      sum[depth] += atom;
      last[depth] = atom;
      repeated = false;
    }
    if (sum[depth] > NOISE_MAX_COST)
      return "too large once its repetitions are expanded";
  }
  return NULL;
}

/* Add a rule; a caller's rule is compiled now, so a bad one is an error
 * here, a trusted one (`lazy`) when first needed (noise_ensure). */
static int compile_rule(cu_project *p, const char *pattern, bool lazy) {
  if (!pattern)
    return cu__fail(CU_EINVAL, "project '%s': noise rule %zu is NULL",
                    p->name, p->n_noise);
  size_t i = p->n_noise;
  const char *huge = lazy ? NULL : noise_too_large(pattern);
  if (huge)
    return cu__fail(CU_EINVAL, "project '%s': bad noise rule '%.80s%s': %s",
                    p->name, pattern, strlen(pattern) > 80 ? "..." : "",
                    huge);
  if (!lazy) {
    int rc = regcomp(&p->noise[i], pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char why[256];
      regerror(rc, &p->noise[i], why, sizeof why);
      regfree(&p->noise[i]);
      return cu__fail(CU_EINVAL, "project '%s': bad noise rule '%s': %s",
                      p->name, pattern, why);
    }
    p->noise_ok[i] = true;
  }
  p->noise_src[i] = cu__strdup(pattern);
  if (!p->noise_src[i]) {
    if (p->noise_ok[i])
      regfree(&p->noise[i]);
    p->noise_ok[i] = false;
    return cu__fail(CU_ENOMEM, "out of memory adding project '%s'", p->name);
  }
  p->n_noise++;
  return 0;
}

static char **copy_strings(const char *const *src, size_t n) {
  char **out = calloc(n ? n : 1, sizeof *out);
  for (size_t i = 0; out && i < n; i++) {
    out[i] = cu__strdup(src[i]);
    if (!out[i]) {
      while (i--)
        free(out[i]);
      free(out);
      out = NULL;
    }
  }
  return out;
}

static int project_build(const cu_project_spec *spec, bool lazy,
                         cu_project **ret) {
  cu_project *p = calloc(1, sizeof *p);
  size_t nr = spec->n_noise_rules ? spec->n_noise_rules : 1;
  if (p) {
    pthread_mutex_init(&p->noise_lock, NULL);
    atomic_init(&p->noise_ready, !lazy);
    p->name = cu__strdup(spec->name);
    p->docs = copy_strings(spec->docs, spec->n_docs);
    p->noise = calloc(nr, sizeof *p->noise);
    p->noise_ok = calloc(nr, sizeof *p->noise_ok);
    p->noise_src = calloc(nr, sizeof *p->noise_src);
  }
  if (!p || !p->name || !p->docs || !p->noise || !p->noise_ok ||
      !p->noise_src) {
    if (p && p->docs)
      p->n_docs = spec->n_docs; /* copy_strings filled all of them */
    project_free(p);
    return cu__fail(CU_ENOMEM, "out of memory adding project '%s'",
                    spec->name);
  }
  p->n_docs = spec->n_docs;
  for (size_t i = 0; i < spec->n_noise_rules; i++) {
    int rc = compile_rule(p, spec->noise_rules[i], lazy);
    if (rc != 0) {
      project_free(p);
      return rc;
    }
  }
  if (spec->confine) { /* loaded and checked by validate_spec */
    cu_confine c;
    int rc = cu__confine_load(spec->confine, &c, "confine");
    if (rc == 0 && cu__confine_wanted(&c))
      rc = cu__confine_dup(&c, &p->confine);
    if (rc != 0) {
      project_free(p);
      return rc;
    }
  }
  *ret = p;
  return 0;
}

static struct entry *entry_new(const cu_program_entry *pe, cu_project *p) {
  struct entry *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  pthread_mutex_init(&e->lock, NULL);
  atomic_init(&e->state, 0);
  e->project = p;
  e->program = cu__strdup(pe->program.name);
  e->pinned = pe->path ? cu__strdup(pe->path) : NULL;
  if (!e->program || (pe->path && !e->pinned)) {
    entry_free(e);
    return NULL;
  }
  return e;
}

/* Make room for `more` pointers (and a spare) in an array of `n` with
 * capacity *cap, growing it geometrically so N single additions cost O(N)
 * copies in all; 0 or -1. */
static int reserve(void *arr_ptr, size_t *cap, size_t n, size_t more) {
  if (n + more + 1 <= *cap)
    return 0;
  size_t want = *cap ? *cap : 16;
  while (want < n + more + 1)
    want *= 2;
  void **arr = *(void ***)arr_ptr;
  void **grown = realloc(arr, want * sizeof *arr);
  if (!grown)
    return -1;
  *(void ***)arr_ptr = grown;
  *cap = want;
  return 0;
}

/* Append entries for `programs` owned by `p`; all or nothing. */
static int add_entries(cu_catalogue *cat, cu_project *p,
                       const cu_program_entry *programs, size_t n) {
  if (reserve(&cat->entries, &cat->cap_entries, cat->n_entries, n) != 0 ||
      index_reserve(&cat->by_program, entry_key, n) != 0)
    return cu__fail(CU_ENOMEM, "out of memory adding to project '%s'",
                    p->name);
  for (size_t i = 0; i < n; i++) {
    struct entry *e = entry_new(&programs[i], p);
    if (!e) {
      while (i--)
        entry_free(cat->entries[--cat->n_entries]);
      return cu__fail(CU_ENOMEM, "out of memory adding to project '%s'",
                      p->name);
    }
    cat->entries[cat->n_entries++] = e;
  }
  /* Indexed only once all exist: a failure above has nothing to undo. */
  for (size_t i = cat->n_entries - n; i < cat->n_entries; i++)
    index_put_unchecked(&cat->by_program, entry_key, cat->entries[i]);
  return 0;
}

static int check_mutable(const cu_catalogue *cat, const void *arg) {
  if (!cat || !arg)
    return cu__fail(CU_EINVAL, "catalogue or argument is NULL");
  if (cat->is_default)
    return cu__fail(CU_EINVAL, "the default catalogue is immutable; "
                               "cu_catalogue_clone() it to extend it");
  return 0;
}

static int add_project(cu_catalogue *cat, const cu_project_spec *user,
                       bool lazy) {
  cu_project_spec loaded;
  const cu_project_spec *spec = &loaded;
  int rc = check_mutable(cat, user);
  if (rc == 0)
    rc = CU__OPTS_LOAD(&loaded, user, cu_project_spec, CU_PROJECT_SPEC_INIT);
  if (rc == 0)
    rc = validate_spec(cat, spec);
  cu_project *p = NULL;
  if (rc == 0)
    rc = project_build(spec, lazy, &p);
  if (rc != 0)
    return rc;
  if (reserve(&cat->projects, &cat->cap_projects, cat->n_projects, 1) != 0 ||
      index_reserve(&cat->by_project, project_key, 1) != 0) {
    project_free(p);
    return cu__fail(CU_ENOMEM, "out of memory adding project '%s'",
                    spec->name);
  }
  rc = add_entries(cat, p, spec->programs, spec->n_programs);
  if (rc != 0) {
    project_free(p);
    return rc;
  }
  p->pos = cat->n_projects;
  cat->projects[cat->n_projects++] = p;
  index_put_unchecked(&cat->by_project, project_key, p);
  return 0;
}

int cu_catalogue_add_project(cu_catalogue *cat, const cu_project_spec *user) {
  return add_project(cat, user, false);
}

int cu__catalogue_add_trusted(cu_catalogue *cat, const cu_project_spec *spec) {
  return add_project(cat, spec, true);
}

static bool same_pin(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int cu_catalogue_allow(cu_catalogue *cat, cu_program program,
                       const char *path) {
  int rc = check_mutable(cat, program.name);
  if (rc != 0)
    return rc;
  /* Allowing what is already allowed, the same way, changes nothing. */
  struct entry *owner = find_entry(cat, program.name);
  if (owner && (!path || same_pin(owner->pinned, path)))
    return 0;
  cu_program_entry pe = {.program = program, .path = path};
  cu_project *p = find_project(cat, ALLOWED_PROJECT);
  if (!p) {
    cu_project_spec spec = {.size = sizeof spec,
                            .name = ALLOWED_PROJECT,
                            .programs = &pe,
                            .n_programs = 1};
    return cu_catalogue_add_project(cat, &spec);
  }
  rc = validate_program(cat, &pe, ALLOWED_PROJECT);
  return rc != 0 ? rc : add_entries(cat, p, &pe, 1);
}

/* ------------------------------------------------------------ cloning */

static int clone_project(cu_catalogue *dst, const cu_project *p,
                         cu_program_entry *pes, size_t n) {
  cu_project_spec spec = {.size = sizeof spec,
                          .name = p->name,
                          .programs = pes,
                          .n_programs = n,
                          .docs = (const char *const *)p->docs,
                          .n_docs = p->n_docs,
                          .noise_rules = (const char *const *)p->noise_src,
                          .n_noise_rules = p->n_noise,
                          .confine = p->confine};
  return add_project(dst, &spec, true); /* its rules were checked */
}

/* The entries grouped by project in one pass (a counting sort keeping
 * each project's order), so cloning is linear too. */
static int group_entries(const cu_catalogue *cat, cu_program_entry **ret_pes,
                         size_t **ret_start) {
  size_t *start = calloc(cat->n_projects + 1, sizeof *start);
  cu_program_entry *pes = calloc(cat->n_entries + 1, sizeof *pes);
  size_t *fill = calloc(cat->n_projects + 1, sizeof *fill);
  if (!start || !pes || !fill) {
    free(start);
    free(pes);
    free(fill);
    return cu__fail(CU_ENOMEM, "out of memory cloning a catalogue");
  }
  for (size_t i = 0; i < cat->n_entries; i++)
    start[cat->entries[i]->project->pos + 1]++;
  for (size_t k = 0; k < cat->n_projects; k++)
    start[k + 1] += start[k];
  for (size_t i = 0; i < cat->n_entries; i++) {
    const struct entry *e = cat->entries[i];
    size_t k = e->project->pos;
    pes[start[k] + fill[k]++] = (cu_program_entry){
        .program = CU_PROGRAM(e->program), .path = e->pinned};
  }
  free(fill);
  *ret_pes = pes;
  *ret_start = start;
  return 0;
}

int cu_catalogue_clone(const cu_catalogue *cat, cu_catalogue **ret) {
  if (!cat || !ret)
    return cu__fail(CU_EINVAL, "cu_catalogue_clone: argument is NULL");
  cu_catalogue *copy = NULL;
  cu_program_entry *pes = NULL;
  size_t *start = NULL;
  int rc = group_entries(cat, &pes, &start);
  if (rc == 0)
    rc = cu_catalogue_new(&copy);
  for (size_t i = 0; rc == 0 && i < cat->n_projects; i++)
    rc = clone_project(copy, cat->projects[i], pes + start[i],
                       start[i + 1] - start[i]);
  free(pes);
  free(start);
  if (rc != 0) {
    cu_catalogue_unref(copy);
    return rc;
  }
  *ret = copy;
  return 0;
}
