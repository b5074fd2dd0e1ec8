/* SPDX-License-Identifier: MIT */
/* Program resolution: a program name to the absolute path children execve. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "catalogue/catalogue_int.h"

bool cu__program_name_ok(const char *name) {
  if (!name || !name[0])
    return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p == '/' || *p <= ' ' || *p == 0x7f)
      return false;
  return true;
}

/* Regular file the effective ids may execute: what execve() will need. */
static bool is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

static int resolve_pinned(const char *name, const char *pinned,
                          char **ret_path) {
  struct stat st;
  if (stat(pinned, &st) != 0)
    return cu__fail_errno(CU_ENOTFOUND, errno,
                          "program '%s': pinned path '%s' is not usable",
                          name, pinned);
  char *copy = cu__strdup(pinned);
  if (!copy)
    return cu__fail(CU_ENOMEM, "out of memory resolving '%s'", name);
  *ret_path = copy;
  return 0;
}

/* PATH as the parent sees it; the system default when PATH is unset. */
static char *search_path(void) {
  const char *env = getenv("PATH");
  if (env)
    return cu__strdup(env);
  size_t n = confstr(_CS_PATH, NULL, 0);
  char *buf = n ? malloc(n) : NULL;
  if (buf)
    confstr(_CS_PATH, buf, n);
  return buf;
}

int cu__resolve_program(const char *name, const char *pinned,
                        char **ret_path) {
  if (pinned)
    return resolve_pinned(name, pinned, ret_path);
  CU__AUTOFREE char *path = search_path();
  if (!path)
    return cu__fail(CU_ENOMEM, "out of memory resolving '%s'", name);
  char *save = NULL;
  for (char *dir = strtok_r(path, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save)) {
    if (dir[0] != '/')
      continue; /* "", ".", "bin": never trust the working directory */
    char candidate[PATH_MAX];
    int n = snprintf(candidate, sizeof candidate, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof candidate || !is_executable(candidate))
      continue;
    char *found = cu__strdup(candidate);
    if (!found)
      return cu__fail(CU_ENOMEM, "out of memory resolving '%s'", name);
    *ret_path = found;
    return 0;
  }
  return cu__fail(CU_ENOTFOUND,
                  "program '%s' is allowed but no executable '%s' was found "
                  "in an absolute PATH entry",
                  name, name);
}
