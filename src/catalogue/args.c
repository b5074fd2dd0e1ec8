/* SPDX-License-Identifier: MIT */
/* Typed argument values: cu_safe_path and cu_git_ref (cuprum/args.h). */
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"
#include "base/internal.h"
#include "catalogue/args_int.h"
#include "cuprum/args.h"
#include "cuprum/error.h"

struct cu_safe_path {
  bool absolute;
  bool trailing_slash;
  char text[]; /* normalised, NUL-terminated */
};

struct cu_git_ref {
  size_t len;
  char text[];
};

/* Longest part of a bad input shown in a message. */
#define SHOW_MAX 160

int cu__arg_fail(int code, const char *what, const char *rule, const char *s,
                 size_t n) {
  cu__sbuf b = {0};
  cu__json_str(&b, s, n < SHOW_MAX ? n : SHOW_MAX);
  char *shown = NULL;
  if (cu__sbuf_finish(&b, &shown) != 0)
    return cu__fail(code, "%s: rule \"%s\" failed", what, rule);
  int rc = cu__fail(code, "%s: rule \"%s\" failed for %s%s", what, rule,
                    shown, n > SHOW_MAX ? " (shortened)" : "");
  free(shown);
  return rc;
}

bool cu__text_has_control(const char *s, size_t n, bool allow_nl_tab) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (allow_nl_tab && (c == '\n' || c == '\t'))
      continue;
    if (c < 0x20 || c == 0x7f)
      return true;
  }
  return false;
}

/* ------------------------------------------------------------------ paths */

int cu_safe_path_newn(const char *path, size_t len,
                      const cu_safe_path_opts *opts, cu_safe_path **ret) {
  static const char what[] = "cu_safe_path_new";
  cu_safe_path_opts o;
  if (!path || !ret)
    return cu__fail(CU_EINVAL, "%s: path or ret is NULL", what);
  int rc = CU__OPTS_LOAD(&o, opts, cu_safe_path_opts, CU_SAFE_PATH_OPTS_INIT);
  if (rc != 0)
    return rc;
  if (len == 0)
    return cu__arg_fail(CU_EINVAL, what, "empty", path, len);
  if (memchr(path, '\0', len))
    return cu__arg_fail(CU_ENULARG, what, "nul", path, len);
  if (cu__text_has_control(path, len, false))
    return cu__arg_fail(CU_EINVAL, what, "control", path, len);
  bool absolute = path[0] == '/';
  if (!absolute && !o.allow_relative)
    return cu__arg_fail(CU_EINVAL, what, "relative", path, len);
  /* Normalise segment by segment into out (at most len + 2 bytes for a
   * "./" prefix, plus the NUL). */
  cu_safe_path *p = malloc(sizeof *p + len + 3);
  if (!p)
    return cu__fail(CU_ENOMEM, "%s: out of memory", what);
  char *out = p->text;
  size_t o_len = 0;
  if (absolute)
    out[o_len++] = '/';
  bool trailing = len > 1 && path[len - 1] == '/';
  size_t i = 0;
  while (i < len) {
    while (i < len && path[i] == '/')
      i++;
    size_t start = i;
    while (i < len && path[i] != '/')
      i++;
    size_t seg = i - start;
    if (seg == 0 || (seg == 1 && path[start] == '.'))
      continue;
    if (seg == 2 && path[start] == '.' && path[start + 1] == '.') {
      free(p);
      return cu__arg_fail(CU_EINVAL, what, "dotdot", path, len);
    }
    if (o_len > 0 && out[o_len - 1] != '/')
      out[o_len++] = '/';
    if (o_len == 0 && path[start] == '-') {
      out[o_len++] = '.';
      out[o_len++] = '/';
    }
    memcpy(out + o_len, path + start, seg);
    o_len += seg;
  }
  if (o_len == 0)
    out[o_len++] = '.'; /* only "." segments */
  if (trailing && out[o_len - 1] != '/')
    out[o_len++] = '/';
  out[o_len] = '\0';
  if (o_len > CU_SAFE_PATH_MAX) {
    free(p);
    return cu__arg_fail(CU_EINVAL, what, "length", path, len);
  }
  p->absolute = absolute;
  p->trailing_slash = out[o_len - 1] == '/';
  *ret = p;
  return 0;
}

int cu_safe_path_new(const char *path, const cu_safe_path_opts *opts,
                     cu_safe_path **ret) {
  if (!path)
    return cu__fail(CU_EINVAL, "cu_safe_path_new: path is NULL");
  return cu_safe_path_newn(path, strlen(path), opts, ret);
}

const char *cu_safe_path_str(const cu_safe_path *p) {
  return p ? p->text : NULL;
}

bool cu_safe_path_is_absolute(const cu_safe_path *p) {
  return p && p->absolute;
}

bool cu_safe_path_has_trailing_slash(const cu_safe_path *p) {
  return p && p->trailing_slash;
}

cu_safe_path *cu_safe_path_free(cu_safe_path *p) {
  free(p);
  return NULL;
}

/* ------------------------------------------------------------- git refs */

/* The refname rules of git's refs.c check_refname_format() (git 2.39),
 * without REFNAME_REFSPEC_PATTERN (no '*') and REFNAME_ALLOW_ONELEVEL as
 * the options say; plus the leading-dash refusal. Returns the rule name of
 * the first failure or NULL. */
static const char *refname_rule(const char *s, size_t n, bool onelevel) {
  if (n == 0)
    return "empty";
  if (n > CU_GIT_REF_MAX)
    return "length";
  if (s[0] == '-')
    return "dash";
  if (n == 1 && s[0] == '@')
    return "at";
  if (s[0] == '/' || s[n - 1] == '/')
    return "slash";
  size_t components = 0;
  size_t i = 0;
  while (i <= n) {
    size_t start = i;
    char last = '\0';
    for (; i < n && s[i] != '/'; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == 0x7f)
        return "control";
      if (strchr(" ~^:?*[\\", c))
        return "forbidden-char";
      if (c == '.' && last == '.')
        return "dotdot";
      if (c == '{' && last == '@')
        return "at-brace";
      last = (char)c;
    }
    size_t len = i - start;
    if (len == 0)
      return "slash"; /* "a//b" */
    if (s[start] == '.')
      return "dot-component";
    if (len >= 5 && memcmp(s + i - 5, ".lock", 5) == 0)
      return "lock";
    components++;
    i++; /* past '/' (or past the end) */
  }
  if (s[n - 1] == '.')
    return "trailing-dot";
  if (components < 2 && !onelevel)
    return "onelevel";
  return NULL;
}

/* Length of the refname part of s: up to the first '~' or '^' when the
 * suffix is allowed (both are forbidden in refnames), else n. Sets *rule
 * when the suffix is malformed. */
static size_t split_suffix(const char *s, size_t n, const char **rule) {
  size_t base = 0;
  while (base < n && s[base] != '~' && s[base] != '^')
    base++;
  for (size_t i = base; i < n;) {
    if (s[i] != '~' && s[i] != '^') {
      *rule = "suffix";
      return base;
    }
    i++;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      i++;
      digits++;
    }
    if (digits > 9) {
      *rule = "suffix";
      return base;
    }
  }
  return base;
}

static int ref_check(const char *ref, const cu_git_ref_opts *o,
                     const char **rule) {
  size_t n = strlen(ref);
  size_t base = n;
  *rule = NULL;
  if (o->allow_suffix && n > 0) {
    base = split_suffix(ref, n, rule);
    if (*rule)
      return CU_EINVAL;
    if (base == 0 && n > 0) {
      *rule = "empty";
      return CU_EINVAL;
    }
  }
  *rule = refname_rule(ref, base, !o->require_multilevel);
  return *rule ? CU_EINVAL : 0;
}

int cu_git_ref_check(const char *ref, const cu_git_ref_opts *opts,
                     const char **ret_rule) {
  cu_git_ref_opts o = CU_GIT_REF_OPTS_INIT;
  const char *rule = "arguments";
  if (!ref || (opts && opts->size < sizeof(size_t))) {
    if (ret_rule)
      *ret_rule = rule;
    return CU_EINVAL;
  }
  if (opts)
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
  int rc = ref_check(ref, &o, &rule);
  if (rc != 0 && ret_rule)
    *ret_rule = rule;
  return rc;
}

int cu_git_ref_new(const char *ref, const cu_git_ref_opts *opts,
                   cu_git_ref **ret) {
  static const char what[] = "cu_git_ref_new";
  cu_git_ref_opts o;
  if (!ref || !ret)
    return cu__fail(CU_EINVAL, "%s: ref or ret is NULL", what);
  int rc = CU__OPTS_LOAD(&o, opts, cu_git_ref_opts, CU_GIT_REF_OPTS_INIT);
  if (rc != 0)
    return rc;
  const char *rule = NULL;
  rc = ref_check(ref, &o, &rule);
  size_t n = strlen(ref);
  if (rc != 0)
    return cu__arg_fail(rc, what, rule, ref, n);
  cu_git_ref *r = malloc(sizeof *r + n + 1);
  if (!r)
    return cu__fail(CU_ENOMEM, "%s: out of memory", what);
  r->len = n;
  memcpy(r->text, ref, n + 1);
  *ret = r;
  return 0;
}

const char *cu_git_ref_str(const cu_git_ref *r) { return r ? r->text : NULL; }

cu_git_ref *cu_git_ref_free(cu_git_ref *r) {
  free(r);
  return NULL;
}
