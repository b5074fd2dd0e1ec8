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
const char *cli_json_unknown_key(const json_t *obj,
                                 const char *const *allowed) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++)
      known = strcmp(key, *a) == 0;
    if (!known)
      return key;
  }
  return NULL;
}

static int check_keys(const loader *l, const char *where, json_t *obj,
                      const char *const *allowed) {
  const char *key = cli_json_unknown_key(obj, allowed);
  if (!key)
    return 0;
  char list[256] = "";
  for (const char *const *a = allowed; *a; a++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
             a == allowed ? "" : ", ", *a);
  return fail(l, where, "unknown key '%s' (expected one of: %s)", key, list);
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

/* A project's confinement rules (cuprum/confine.h), all optional:
 *   {"read": [PATH...], "write": [PATH...], "exec": [PATH...],
 *    "connect": [PORT...], "bind": [PORT...], "no_new_privs": true,
 *    "best_effort": true, "system_paths": false}
 * Any of read/write/exec present (even empty) confines files; connect or
 * bind present (even empty) confines those TCP operations to the listed
 * ports. Paths are borrowed from the document; `c` owns the arrays
 * (confine_free). */
typedef struct confine_buf {
  cu_confine c;
  cu_confine_path *paths;
  uint16_t *ports;
} confine_buf;

static void confine_free(confine_buf *b) {
  free(b->paths);
  free(b->ports);
}

static int confine_bool(const loader *l, const char *where, json_t *obj,
                        const char *key, bool *ret) {
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_boolean(v))
    return fail(l, where, "confine: '%s' must be true or false", key);
  *ret = json_is_true(v);
  return 0;
}

static int confine_paths(const loader *l, const char *where, json_t *obj,
                         const char *key, unsigned access, confine_buf *b) {
  json_t *arr = json_object_get(obj, key);
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return fail(l, where, "confine: '%s' must be an array of paths", key);
  b->c.restrict_fs = true;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v))
      return fail(l, where, "confine: %s[%zu] must be a string", key, i);
    b->paths[b->c.n_paths++] =
        (cu_confine_path){json_string_value(v), access};
  }
  return 0;
}

static int confine_ports(const loader *l, const char *where, json_t *obj,
                         const char *key, confine_buf *b, bool *restrict_,
                         size_t *n) {
  json_t *arr = json_object_get(obj, key);
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return fail(l, where, "confine: '%s' must be an array of TCP ports",
                key);
  *restrict_ = true;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    json_int_t port = json_is_integer(v) ? json_integer_value(v) : -1;
    if (port < 0 || port > 65535)
      return fail(l, where, "confine: %s[%zu] must be a TCP port (0-65535)",
                  key, i);
    b->ports[b->c.n_connect + b->c.n_bind] = (uint16_t)port;
    (*n)++;
  }
  return 0;
}

static int parse_confine(const loader *l, const char *where, json_t *project,
                         confine_buf *b) {
  static const char *const keys[] = {"read",        "write",
                                     "exec",        "connect",
                                     "bind",        "no_new_privs",
                                     "best_effort", "system_paths",
                                     NULL};
  json_t *obj = json_object_get(project, "confine");
  if (!obj)
    return 0;
  char sub[320];
  snprintf(sub, sizeof sub, "%s: confine", where);
  if (!json_is_object(obj))
    return fail(l, where, "'confine' must be an object");
  if (check_keys(l, sub, obj, keys) != 0)
    return -1;
  size_t np = json_array_size(json_object_get(obj, "read")) +
              json_array_size(json_object_get(obj, "write")) +
              json_array_size(json_object_get(obj, "exec"));
  size_t nports = json_array_size(json_object_get(obj, "connect")) +
                  json_array_size(json_object_get(obj, "bind"));
  b->c = (cu_confine)CU_CONFINE_INIT;
  b->paths = calloc(np + 1, sizeof *b->paths);
  b->ports = calloc(nports + 1, sizeof *b->ports);
  if (!b->paths || !b->ports)
    return fail(l, where, "out of memory");
  bool system_paths = true;
  /* connect first, then bind: both fill `ports` in that order. */
  if (confine_paths(l, where, obj, "read", CU_ACCESS_READ, b) != 0 ||
      confine_paths(l, where, obj, "write", CU_ACCESS_READ | CU_ACCESS_WRITE,
                    b) != 0 ||
      confine_paths(l, where, obj, "exec", CU_ACCESS_READ | CU_ACCESS_EXEC,
                    b) != 0 ||
      confine_ports(l, where, obj, "connect", b, &b->c.restrict_connect,
                    &b->c.n_connect) != 0 ||
      confine_ports(l, where, obj, "bind", b, &b->c.restrict_bind,
                    &b->c.n_bind) != 0 ||
      confine_bool(l, where, obj, "no_new_privs", &b->c.no_new_privs) != 0 ||
      confine_bool(l, where, obj, "best_effort", &b->c.best_effort) != 0 ||
      confine_bool(l, where, obj, "system_paths", &system_paths) != 0)
    return -1;
  b->c.no_system_paths = !system_paths;
  b->c.paths = b->paths;
  b->c.connect = b->ports;
  b->c.bind = b->ports + b->c.n_connect;
  return 0;
}

static int add_project(const loader *l, json_t *project, size_t index) {
  static const char *const keys[] = {"name", "programs", "docs", "noise",
                                     "confine", NULL};
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
  confine_buf confine = {.c = CU_CONFINE_INIT};
  int rc = -1;
  if (parse_confine(l, where, project, &confine) == 0 &&
      program_entries(l, where, project, &programs, &spec.n_programs) == 0 &&
      string_array(l, where, project, "docs", &docs, &spec.n_docs) == 0 &&
      string_array(l, where, project, "noise", &noise,
                   &spec.n_noise_rules) == 0) {
    spec.programs = programs;
    spec.docs = docs;
    spec.noise_rules = noise;
    spec.confine = json_object_get(project, "confine") ? &confine.c : NULL;
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
  confine_free(&confine);
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

int catalogue_file_load_json(json_t *root, const char *name,
                             cu_catalogue **ret) {
  loader l = {.file = name};
  if (load_document(&l, root) != 0) {
    cu_catalogue_unref(l.cat);
    return -1;
  }
  *ret = l.cat;
  return 0;
}

/* Append `port`s to the array `key` of `o` (created even when empty: an
 * empty list restricts to nothing). */
static int ports_json(json_t *o, const char *key, const uint16_t *ports,
                      size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, json_integer(ports[i])) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  return arr ? json_object_set_new(o, key, arr) : -1;
}

json_t *catalogue_file_confine_json(const cu_confine *c, const char **why) {
  *why = NULL;
  json_t *o = json_object();
  json_t *arr[3] = {json_array(), json_array(), json_array()};
  static const char *const keys[3] = {"read", "write", "exec"};
  bool bad = !o || !arr[0] || !arr[1] || !arr[2];
  for (size_t i = 0; !bad && i < c->n_paths; i++) {
    unsigned a = c->paths[i].access;
    int k = a == CU_ACCESS_READ                     ? 0
            : a == (CU_ACCESS_READ | CU_ACCESS_WRITE) ? 1
            : a == (CU_ACCESS_READ | CU_ACCESS_EXEC)  ? 2
                                                      : -1;
    if (k < 0) {
      /* Not one of the file's three kinds: never widened or narrowed. */
      *why = "has a path rule the catalogue file cannot express";
      bad = true;
    } else {
      bad = json_array_append_new(arr[k], json_string(c->paths[i].path)) != 0;
    }
  }
  bool fs = c->restrict_fs || c->n_paths > 0;
  for (size_t k = 0; k < 3; k++) {
    /* An empty "read" keeps a filesystem restriction with no path. */
    bool want = json_array_size(arr[k]) > 0 || (k == 0 && fs);
    if (!bad && want)
      bad = json_object_set(o, keys[k], arr[k]) != 0;
    json_decref(arr[k]);
  }
  if (!bad && (c->restrict_connect || c->n_connect > 0))
    bad = ports_json(o, "connect", c->connect, c->n_connect) != 0;
  if (!bad && (c->restrict_bind || c->n_bind > 0))
    bad = ports_json(o, "bind", c->bind, c->n_bind) != 0;
  if (!bad && c->no_new_privs)
    bad = json_object_set_new(o, "no_new_privs", json_true()) != 0;
  if (!bad && c->best_effort)
    bad = json_object_set_new(o, "best_effort", json_true()) != 0;
  if (!bad && c->no_system_paths)
    bad = json_object_set_new(o, "system_paths", json_false()) != 0;
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
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
