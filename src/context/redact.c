/* SPDX-License-Identifier: MIT */
/*
 * Redaction rules (cuprum/redact.h): value globs, secret-name globs, and
 * the redacted copies of an event's argv and environment overlay that the
 * log, event, metrics and trace sinks print instead of the real ones.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/redact_int.h"

struct cu_redact {
  char **patterns;
  size_t n_patterns;
  char **names;
  size_t n_names;
};

static const char *const default_names[] = {"*TOKEN*", "*SECRET*",
                                            "*PASSWORD*", "*KEY*"};

/* The rules a NULL redactor stands for. */
static const cu_redact defaults = {
    .names = (char **)default_names,
    .n_names = sizeof default_names / sizeof *default_names,
};

static const cu_redact *rules(const cu_redact *r) { return r ? r : &defaults; }

static void free_list(char **v, size_t n) {
  for (size_t i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

cu_redact *cu_redact_free(cu_redact *r) {
  if (!r)
    return NULL;
  free_list(r->patterns, r->n_patterns);
  free_list(r->names, r->n_names);
  free(r);
  return NULL;
}

static int copy_list(const char *const *src, size_t n, const char *what,
                     char ***dst, size_t *dst_n, size_t extra) {
  if (n && !src)
    return cu__fail(CU_EINVAL, "cu_redact_new: %s is NULL with a count of %zu",
                    what, n);
  for (size_t i = 0; i < n; i++)
    if (!src[i] || !src[i][0])
      return cu__fail(CU_EINVAL, "cu_redact_new: %s[%zu] is %s", what, i,
                      src[i] ? "empty" : "NULL");
  *dst = calloc(n + extra + 1, sizeof **dst);
  if (!*dst)
    return cu__fail(CU_ENOMEM, "out of memory copying redaction rules");
  for (size_t i = 0; i < n + extra; i++) {
    const char *s = i < extra ? default_names[i] : src[i - extra];
    if (!((*dst)[i] = cu__strdup(s)))
      return cu__fail(CU_ENOMEM, "out of memory copying redaction rules");
    *dst_n = i + 1;
  }
  return 0;
}

int cu_redact_new(const cu_redact_opts *opts, cu_redact **ret) {
  cu_redact_opts o;
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_redact_new: ret is NULL");
  int lrc = CU__OPTS_LOAD(&o, opts, cu_redact_opts, CU_REDACT_OPTS_INIT);
  if (lrc != 0)
    return lrc;
  cu_redact *r = calloc(1, sizeof *r);
  if (!r)
    return cu__fail(CU_ENOMEM, "out of memory making a redactor");
  size_t extra = o.no_default_names ? 0 : CU__ARRAY_LEN(default_names);
  int rc = copy_list(o.patterns, o.n_patterns, "patterns", &r->patterns,
                     &r->n_patterns, 0);
  if (rc == 0)
    rc = copy_list(o.secret_names, o.n_secret_names, "secret_names",
                   &r->names, &r->n_names, extra);
  if (rc != 0) {
    cu_redact_free(r);
    return rc;
  }
  *ret = r;
  return 0;
}

/* ------------------------------------------------------------- matching */

static bool match_value(const cu_redact *r, const char *s) {
  for (size_t i = 0; i < r->n_patterns; i++)
    if (fnmatch(r->patterns[i], s, 0) == 0)
      return true;
  return false;
}

/* Name globs compare case-insensitively: `--api-key` and `API_KEY` alike.
 * `name` is `len` bytes, not terminated. */
static bool match_name(const cu_redact *r, const char *name, size_t len) {
  if (len == 0 || r->n_names == 0)
    return false;
  char buf[256];
  if (len >= sizeof buf)
    len = sizeof buf - 1; /* a longer name is judged by its start */
  memcpy(buf, name, len);
  buf[len] = '\0';
  for (size_t i = 0; i < r->n_names; i++)
    if (fnmatch(r->names[i], buf, FNM_CASEFOLD) == 0)
      return true;
  return false;
}

/* "--name" / "-n" → the name without dashes; NULL when not an option. */
static const char *option_name(const char *s, size_t *len) {
  if (s[0] != '-' || s[1] == '\0')
    return NULL;
  s += s[1] == '-' ? 2 : 1;
  *len = strlen(s);
  return strchr(s, '=') ? NULL : s;
}

int cu_redact_argv_elem(const cu_redact *r, const char *const *argv,
                        size_t argc, size_t i) {
  r = rules(r);
  if (!argv || i >= argc || !argv[i])
    return 0;
  const char *s = argv[i];
  if (match_value(r, s))
    return 1;
  const char *eq = strchr(s, '=');
  if (eq && i > 0) {
    const char *name = s;
    while (*name == '-')
      name++;
    if (name < eq && match_name(r, name, (size_t)(eq - name)))
      return 2;
  }
  if (i > 1 && argv[i - 1]) { /* argv[0] is the program, never an option */
    size_t len = 0;
    const char *prev = option_name(argv[i - 1], &len);
    if (prev && match_name(r, prev, len))
      return 1;
  }
  return 0;
}

bool cu_redact_env(const cu_redact *r, const char *name, const char *value) {
  r = rules(r);
  if (name && match_name(r, name, strlen(name)))
    return true;
  return value && match_value(r, value);
}

const char *cu__redact_label(const cu_redact *r, const char *value) {
  if (!r || !value)
    return value;
  return match_value(r, value) ? CU_REDACTED : value;
}

/* ------------------------------------------------------------- copies */

/* Size of the redacted text of element i (with its NUL), and its form. */
static size_t elem_size(const char *s, int how) {
  if (how == 1)
    return sizeof CU_REDACTED;
  if (how == 2)
    return (size_t)(strchr(s, '=') - s) + 1 + sizeof CU_REDACTED;
  return strlen(s) + 1;
}

static char *elem_write(char *p, const char *s, int how) {
  size_t keep = how == 1 ? 0 : how == 2 ? (size_t)(strchr(s, '=') - s) + 1
                                        : strlen(s) + 1;
  memcpy(p, s, keep);
  p += keep;
  if (how) {
    memcpy(p, CU_REDACTED, sizeof CU_REDACTED);
    p += sizeof CU_REDACTED;
  }
  return p;
}

/* A redacted argv in one block, or NULL with *any false when nothing is
 * hidden (and `force` is false). */
static char **argv_copy(const cu_redact *r, const char *const *argv,
                        size_t argc, bool force, bool *any, int *rc) {
  size_t bytes = (argc + 1) * sizeof(char *);
  *any = false;
  *rc = 0;
  for (size_t i = 0; i < argc; i++) {
    int how = argv[i] ? cu_redact_argv_elem(r, argv, argc, i) : 0;
    *any |= how != 0;
    bytes += argv[i] ? elem_size(argv[i], how) : 1;
  }
  if (!*any && !force)
    return NULL;
  char **v = malloc(bytes);
  if (!v) {
    *rc = cu__fail(CU_ENOMEM, "out of memory redacting an argv");
    return NULL;
  }
  char *p = (char *)(v + argc + 1);
  for (size_t i = 0; i < argc; i++) {
    v[i] = p;
    p = elem_write(p, argv[i] ? argv[i] : "",
                   argv[i] ? cu_redact_argv_elem(r, argv, argc, i) : 0);
  }
  v[argc] = NULL;
  return v;
}

int cu_redact_argv(const cu_redact *r, const char *const *argv, size_t argc,
                   char ***ret) {
  if ((!argv && argc) || !ret)
    return cu__fail(CU_EINVAL, "cu_redact_argv: argv and ret are required");
  bool any;
  int rc;
  char **v = argv_copy(r, argv, argc, true, &any, &rc);
  if (!v)
    return rc;
  *ret = v;
  return 0;
}

struct storage {
  char **argv;
  cu_env_var env[];
};

int cu__redact_event(const cu_redact *r, const cu_event *ev, cu_event *out,
                     void **storage) {
  *out = *ev;
  *storage = NULL;
  bool any_env = false;
  for (size_t i = 0; ev->env && i < ev->n_env; i++)
    any_env |= cu_redact_env(r, ev->env[i].name, ev->env[i].value);
  bool any_argv = false;
  int rc = 0;
  char **argv = ev->argv ? argv_copy(r, ev->argv, ev->n_argv, false, &any_argv,
                                     &rc)
                         : NULL;
  if (rc != 0)
    goto oom;
  if (!any_argv && !any_env)
    return 0;
  struct storage *s = malloc(sizeof *s + ev->n_env * sizeof s->env[0]);
  if (!s) {
    free(argv);
    rc = cu__fail(CU_ENOMEM, "out of memory redacting an event");
    goto oom;
  }
  s->argv = argv;
  for (size_t i = 0; i < ev->n_env; i++) {
    s->env[i] = ev->env[i];
    if (cu_redact_env(r, ev->env[i].name, ev->env[i].value))
      s->env[i].value = CU_REDACTED;
  }
  if (argv)
    out->argv = (const char *const *)argv;
  if (any_env)
    out->env = s->env;
  *storage = s;
  return 0;
oom:
  out->argv = NULL;
  out->n_argv = 0;
  out->env = NULL;
  out->n_env = 0;
  return rc;
}

void cu__redact_storage_free(void *storage) {
  struct storage *s = storage;
  if (s)
    free(s->argv);
  free(s);
}
