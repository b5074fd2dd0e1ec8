/* SPDX-License-Identifier: MIT */
/* Child environment: the parent's (or none) plus overlays; ARG_MAX budget. */
#include "spawn/env.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"

extern char **environ;

/* Linux refuses any single argv/envp string longer than this (32 pages). */
#define CU__MAX_ARG_STRLEN (32u * 4096u)

bool cu__env_name_valid(const char *name) {
  /* POSIX portable names only: [A-Za-z_][A-Za-z0-9_]*. Anything else is
   * either unusable from a shell or a sign of injected input. */
  if (!name || !*name || (*name >= '0' && *name <= '9'))
    return false;
  for (const char *p = name; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_';
    if (!ok)
      return false;
  }
  return true;
}

int cu__env_validate(const cu_env_var *vars, size_t n) {
  if (n && !vars)
    return cu__fail(CU_EINVAL, "env: %zu variables but a NULL array", n);
  for (size_t i = 0; i < n; i++) {
    if (!cu__env_name_valid(vars[i].name))
      return cu__fail(CU_EBADENV,
                      "invalid environment variable name '%s' (want "
                      "[A-Za-z_][A-Za-z0-9_]*)",
                      vars[i].name ? vars[i].name : "(null)");
    if (vars[i].value &&
        strlen(vars[i].name) + strlen(vars[i].value) + 2 > CU__MAX_ARG_STRLEN)
      return cu__fail(CU_EBADENV,
                      "environment variable '%s': value longer than the "
                      "kernel accepts (%u bytes)",
                      vars[i].name, CU__MAX_ARG_STRLEN);
  }
  return 0;
}

void cu__env_vars_free(cu_env_var *vars, size_t n) {
  for (size_t i = 0; vars && i < n; i++) {
    free((char *)vars[i].name);
    free((char *)vars[i].value);
  }
  free(vars);
}

int cu__env_copy(const cu_env_var *a, size_t na, const cu_env_var *b,
                 size_t nb, cu_env_var **ret, size_t *ret_n) {
  *ret = NULL;
  *ret_n = 0;
  if (na + nb == 0)
    return 0;
  cu_env_var *v = calloc(na + nb, sizeof *v);
  if (!v)
    return cu__fail(CU_ENOMEM, "copying an environment overlay");
  const cu_env_var *lists[2] = {a, b};
  const size_t counts[2] = {na, nb};
  size_t k = 0;
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++, k++) {
      v[k].name = cu__strdup(lists[l][i].name);
      v[k].value = lists[l][i].value ? cu__strdup(lists[l][i].value) : NULL;
      if (!v[k].name || (lists[l][i].value && !v[k].value)) {
        cu__env_vars_free(v, k + 1);
        return cu__fail(CU_ENOMEM, "copying an environment overlay");
      }
    }
  *ret = v;
  *ret_n = k;
  return 0;
}

static size_t name_len(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* Is `entry` ("NAME=value") named by any overlay variable? */
static bool overlaid(const char *entry, const cu_env_var *const *lists,
                     const size_t *counts) {
  size_t len = name_len(entry);
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++)
      if (strlen(lists[l][i].name) == len &&
          memcmp(lists[l][i].name, entry, len) == 0)
        return true;
  return false;
}

/* The final value of overlay entry (l, i), or NULL if a later entry with the
 * same name supersedes it (only the last one is emitted). */
static bool is_last(const cu_env_var *const *lists, const size_t *counts,
                    int l, size_t i) {
  const char *name = lists[l][i].name;
  for (int m = l; m < 2; m++)
    for (size_t j = (m == l ? i + 1 : 0); j < counts[m]; j++)
      if (strcmp(lists[m][j].name, name) == 0)
        return false;
  return true;
}

int cu__env_build(const cu_env_var *first, size_t n_first,
                  const cu_env_var *second, size_t n_second, bool clear,
                  cu__envp *ret) {
  const cu_env_var *lists[2] = {first, second};
  size_t counts[2] = {n_first, n_second};
  *ret = (cu__envp){.envp = environ, .owned = false};
  if (!clear && n_first == 0 && n_second == 0)
    return 0;
  size_t n_env = 0;
  if (!clear && environ)
    while (environ[n_env])
      n_env++;
  char **envp = calloc(n_env + n_first + n_second + 1, sizeof *envp);
  if (!envp)
    return cu__fail(CU_ENOMEM, "building the child environment");
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (!overlaid(environ[i], lists, counts))
      envp[k++] = environ[i]; /* borrowed from the parent's environ */
  size_t first_owned = k;
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++) {
      if (!lists[l][i].value || !is_last(lists, counts, l, i))
        continue;
      char *s = cu__asprintf("%s=%s", lists[l][i].name, lists[l][i].value);
      if (!s) {
        for (size_t j = first_owned; j < k; j++)
          free(envp[j]);
        free(envp);
        return cu__fail(CU_ENOMEM, "building the child environment");
      }
      envp[k++] = s;
    }
  envp[k] = NULL;
  *ret = (cu__envp){.envp = envp, .owned = true, .first_owned = first_owned};
  return 0;
}

void cu__env_free(cu__envp *env) {
  if (!env || !env->owned)
    return;
  for (size_t i = env->first_owned; env->envp[i]; i++)
    free(env->envp[i]);
  free(env->envp);
  *env = (cu__envp){0};
}

int cu__argv_budget(char *const *argv, char *const *envp) {
  long arg_max = sysconf(_SC_ARG_MAX);
  size_t budget = arg_max > 0 ? (size_t)arg_max : 131072u;
  size_t total = 0;
  char *const *lists[2] = {argv, envp};
  for (int l = 0; l < 2; l++) {
    for (size_t i = 0; lists[l] && lists[l][i]; i++) {
      size_t len = strlen(lists[l][i]) + 1;
      if (len > CU__MAX_ARG_STRLEN)
        return cu__fail(CU_E2BIG,
                        "%s %zu is %zu bytes; the kernel accepts at most %u",
                        l == 0 ? "argument" : "environment entry", i, len,
                        CU__MAX_ARG_STRLEN);
      total += len + sizeof(char *);
    }
  }
  if (total + 2 * sizeof(char *) > budget)
    return cu__fail(CU_E2BIG,
                    "argument list and environment need %zu bytes; ARG_MAX "
                    "is %zu",
                    total, budget);
  return 0;
}
