/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cu_safe_path_newn(): any byte string, relative paths
 * allowed or not (first byte). Checks the promises of cuprum/args.h on every
 * accepted path: no "//", no "." or ".." segment (except the lone "."),
 * no control byte, no leading '-', the trailing slash kept exactly when the
 * input had one, absoluteness kept, and normalising again changes nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/args.h>
#include <cuprum/error.h>

#include "fuzz_check.h"

static bool has_segment(const char *s, const char *seg) {
  size_t n = strlen(seg);
  for (const char *p = s; (p = strstr(p, seg)) != NULL; p++) {
    bool starts = p == s || p[-1] == '/';
    bool ends = p[n] == '\0' || p[n] == '/';
    if (starts && ends)
      return true;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  cu_safe_path_opts o = CU_SAFE_PATH_OPTS_INIT;
  o.allow_relative = data[0] & 1;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  cu_safe_path *p = NULL;
  int rc = cu_safe_path_newn(in, n, &o, &p);
  if (rc != 0) {
    CHECK(rc == CU_EINVAL || rc == CU_ENULARG);
    CHECK(p == NULL);
    return 0;
  }
  const char *s = cu_safe_path_str(p);
  size_t len = strlen(s);
  CHECK(len > 0 && len <= CU_SAFE_PATH_MAX);
  CHECK(strstr(s, "//") == NULL);
  CHECK(!has_segment(s, ".."));
  CHECK(strcmp(s, ".") == 0 || strcmp(s, "./") == 0 ||
        strncmp(s, "./-", 3) == 0 || !has_segment(s, "."));
  CHECK(s[0] != '-');
  for (size_t i = 0; i < len; i++)
    CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
  CHECK(cu_safe_path_is_absolute(p) == (in[0] == '/'));
  CHECK(o.allow_relative || in[0] == '/');
  bool trailing = n > 1 && in[n - 1] == '/';
  CHECK(cu_safe_path_has_trailing_slash(p) == (trailing || strcmp(s, "/") == 0));
  cu_safe_path *again = NULL;
  CHECK(cu_safe_path_new(s, &o, &again) == 0);
  CHECK(strcmp(cu_safe_path_str(again), s) == 0);
  cu_safe_path_free(again);
  cu_safe_path_free(p);
  return 0;
}
