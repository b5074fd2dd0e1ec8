/* SPDX-License-Identifier: MIT */
/* The catalogue file: JSON (jansson) to cu_catalogue, with located errors. */
#include "catalogue_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* One load: the file name for messages and the catalogue being filled. */
typedef struct loader {
  const char *file;
  cu_catalogue *cat;
} loader;

/* Report a semantic error. `where` says which part of the document (a JSON
 * path with the project's name), since jansson keeps no positions for values
 * once parsed. Always returns -1. */
__attribute__((format(printf, 3, 4))) static int
fail(const loader *l, const char *where, const char *fmt, ...) {
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (where && where[0])
    cli_error("%s: %s: %s", l->file, where, reason);
  else
    cli_error("%s: %s", l->file, reason);
  return -1;
}

/* Every key of `obj` must be one of `allowed` (NULL-terminated): a typo such
 * as "program" must not silently drop a project's allowlist. */
static int check_keys(const loader *l, const char *where, json_t *obj,
                      const char *const *allowed) {
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value) {
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++)
      known = strcmp(key, *a) == 0;
    if (!known) {
      char list[256] = "";
      for (const char *const *a = allowed; *a; a++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                 a == allowed ? "" : ", ", *a);
      return fail(l, where, "unknown key '%s' (expected one of: %s)", key,
                  list);
    }
  }
  return 0;
}

/* An optional array of strings: borrowed pointers into the JSON document,
 * which outlives cu_catalogue_add_project() (that copies them). */
static int string_array(const loader *l, const char *where, json_t *project,
                        const char *key, const char ***ret, size_t *ret_n) {
  json_t *arr = json_object_get(project, key);
  *ret = NULL;
  *ret_n = 0;
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return fail(l, where, "'%s' must be an array of strings", key);
  size_t n = json_array_size(arr);
  const char **v = calloc(n ? n : 1, sizeof *v);
  if (!v)
    return fail(l, where, "out of memory");
  for (size_t i = 0; i < n; i++) {
    v[i] = json_string_value(json_array_get(arr, i));
    if (!v[i]) {
      free(v);
      return fail(l, where, "%s[%zu] must be a string", key, i);
    }
  }
  *ret = v;
  *ret_n = n;
  return 0;
}

/* One program: "name", or {"name": "name", "path": "/absolute/path"}. */
static int program_entry(const loader *l, const char *where, json_t *item,
                         size_t i, cu_program_entry *ret) {
  static const char *const keys[] = {"name", "path", NULL};
  if (json_is_string(item)) {
    *ret = (cu_program_entry){.program = CU_PROGRAM(json_string_value(item))};
    return 0;
  }
  if (!json_is_object(item))
    return fail(l, where, "programs[%zu] must be a program name or an object "
                "{\"name\": ..., \"path\": ...}", i);
  char sub[320];
  snprintf(sub, sizeof sub, "%s: programs[%zu]", where, i);
  if (check_keys(l, sub, item, keys) != 0)
    return -1;
  const char *name = json_string_value(json_object_get(item, "name"));
  json_t *path = json_object_get(item, "path");
  if (!name)
    return fail(l, sub, "'name' is required and must be a string");
  if (path && !json_is_string(path))
    return fail(l, sub, "'path' must be a string (an absolute path)");
  *ret = (cu_program_entry){.program = CU_PROGRAM(name),
                            .path = json_string_value(path)};
  return 0;
}

static int program_entries(const loader *l, const char *where, json_t *project,
                           cu_program_entry **ret, size_t *ret_n) {
  json_t *arr = json_object_get(project, "programs");
  *ret = NULL;
  *ret_n = 0;
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return fail(l, where, "'programs' must be an array");
  size_t n = json_array_size(arr);
  cu_program_entry *v = calloc(n ? n : 1, sizeof *v);
  if (!v)
    return fail(l, where, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (program_entry(l, where, json_array_get(arr, i), i, &v[i]) != 0) {
      free(v);
      return -1;
    }
  }
  *ret = v;
  *ret_n = n;
  return 0;
}

static int add_project(const loader *l, json_t *project, size_t index) {
  static const char *const keys[] = {"name", "programs", "docs", "noise",
                                     NULL};
  char where[256];
  snprintf(where, sizeof where, "projects[%zu]", index);
  if (!json_is_object(project))
    return fail(l, where, "a project must be an object");
  const char *name = json_string_value(json_object_get(project, "name"));
  if (name)
    snprintf(where, sizeof where, "projects[%zu] '%s'", index, name);
  if (check_keys(l, where, project, keys) != 0)
    return -1;
  if (!name)
    return fail(l, where, "'name' is required and must be a string");

  cu_project_spec spec = {.size = sizeof(cu_project_spec), .name = name};
  const char **docs = NULL, **noise = NULL;
  cu_program_entry *programs = NULL;
  int rc = -1;
  if (program_entries(l, where, project, &programs, &spec.n_programs) == 0 &&
      string_array(l, where, project, "docs", &docs, &spec.n_docs) == 0 &&
      string_array(l, where, project, "noise", &noise,
                   &spec.n_noise_rules) == 0) {
    spec.programs = programs;
    spec.docs = docs;
    spec.noise_rules = noise;
    /* The library validates the rest (duplicates, conflicts, regular
     * expressions, relative paths) and says what is wrong. */
    rc = cu_catalogue_add_project(l->cat, &spec);
    if (rc != 0) {
      /* Most library messages name the project already; say it once. */
      const char *msg = cu_last_error();
      if (strncmp(msg, "project '", 9) == 0)
        snprintf(where, sizeof where, "projects[%zu]", index);
      rc = fail(l, where, "%s", msg);
    }
  }
  free(programs);
  free(docs);
  free(noise);
  return rc;
}

static int load_document(loader *l, json_t *root) {
  static const char *const keys[] = {"projects", "include_default", NULL};
  if (!json_is_object(root))
    return fail(l, NULL, "the document must be an object with a "
                "\"projects\" array");
  if (check_keys(l, "top level", root, keys) != 0)
    return -1;
  json_t *projects = json_object_get(root, "projects");
  json_t *include_default = json_object_get(root, "include_default");
  if (!json_is_array(projects))
    return fail(l, NULL, "\"projects\" is required and must be an array");
  if (include_default && !json_is_boolean(include_default))
    return fail(l, NULL, "\"include_default\" must be true or false");

  int rc;
  const cu_catalogue *def = NULL;
  if (json_is_true(include_default))
    rc = cu_catalogue_default(&def) ?: cu_catalogue_clone(def, &l->cat);
  else
    rc = cu_catalogue_new(&l->cat);
  if (rc != 0)
    return fail(l, NULL, "%s", cu_last_error());

  size_t i;
  json_t *project;
  json_array_foreach(projects, i, project) {
    if (add_project(l, project, i) != 0)
      return -1;
  }
  return 0;
}

/* The whole file in one buffer, read in large blocks: json_loadfd() reads
 * one byte per system call (770,000 reads for a 60,000-program file). */
static int read_all(int fd, char **ret, size_t *ret_len) {
  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len == cap) {
      char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!grown)
        break;
      buf = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n == 0) {
      *ret = buf;
      *ret_len = len;
      return 0;
    }
    if (n < 0 && errno != EINTR) {
      free(buf);
      return errno;
    }
    if (n > 0)
      len += (size_t)n;
  }
  free(buf);
  return ENOMEM;
}

int catalogue_file_load(const char *path, cu_catalogue **ret) {
  loader l = {.file = path};
  /* Opened here rather than by json_load_file() so the descriptor is
   * close-on-exec from birth like every other fd in the process. */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cli_error("%s: cannot open catalogue file: %s", path, strerror(errno));
    return -1;
  }
  char *text = NULL;
  size_t len = 0;
  int err = read_all(fd, &text, &len);
  close(fd);
  if (err != 0) {
    cli_error("%s: cannot read catalogue file: %s", path, strerror(err));
    return -1;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (!root) {
    if (jerr.line > 0)
      cli_error("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    else
      cli_error("%s: %s", path, jerr.text);
    return -1;
  }
  int rc = load_document(&l, root);
  json_decref(root);
  if (rc != 0) {
    cu_catalogue_unref(l.cat);
    return -1;
  }
  *ret = l.cat;
  return 0;
}
