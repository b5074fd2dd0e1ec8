/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cu_git_ref_new()/cu_git_ref_check(): the first byte
 * picks the options, the rest (up to a NUL) is the ref. Checks that both
 * entry points agree, and that an accepted ref obeys an independent,
 * simpler statement of git-check-ref-format(1)'s rules written here (the
 * real git is compared in tests/test_args_git.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/args.h>
#include <cuprum/error.h>

#include "fuzz_check.h"

/* The rules restated over a NUL-terminated refname. */
static bool ref_ok(const char *s, size_t n, bool onelevel) {
  if (n == 0 || n > CU_GIT_REF_MAX || s[0] == '-' || strcmp(s, "@") == 0)
    return false;
  if (strstr(s, "..") || strstr(s, "@{") || strstr(s, "//") ||
      strstr(s, "/.") || s[0] == '.' || s[0] == '/' || s[n - 1] == '/' ||
      s[n - 1] == '.')
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c))
      return false;
  }
  for (const char *p = s; (p = strstr(p, ".lock")) != NULL; p++)
    if (p[5] == '\0' || p[5] == '/')
      return false;
  return onelevel || strchr(s, '/') != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > CU_GIT_REF_MAX + 64)
    return 0;
  cu_git_ref_opts o = CU_GIT_REF_OPTS_INIT;
  o.require_multilevel = data[0] & 1;
  o.allow_suffix = data[0] & 2;
  char *s = malloc(size);
  CHECK(s != NULL);
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  size_t n = strlen(s);
  cu_git_ref *r = NULL;
  const char *rule = NULL;
  int rc = cu_git_ref_new(s, &o, &r);
  int rc2 = cu_git_ref_check(s, &o, &rule);
  CHECK(rc == rc2);
  if (rc == 0) {
    CHECK(strcmp(cu_git_ref_str(r), s) == 0);
    size_t base = o.allow_suffix ? strcspn(s, "~^") : n;
    char *b = strndup(s, base);
    CHECK(b != NULL);
    CHECK(ref_ok(b, base, !o.require_multilevel));
    free(b);
  } else {
    CHECK(rc == CU_EINVAL && r == NULL && rule != NULL);
    if (!o.allow_suffix)
      CHECK(!ref_ok(s, n, !o.require_multilevel));
  }
  cu_git_ref_free(r);
  free(s);
  return 0;
}
