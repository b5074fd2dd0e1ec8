/* SPDX-License-Identifier: MIT */
/* envdump [NAME...]: prints NAME=VALUE per named variable ("NAME unset"
 * when absent), or the whole environment sorted when no name is given. */
#include "common.h"

extern char **environ;

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; i++) {
      const char *v = getenv(argv[i]);
      if (v)
        printf("%s=%s\n", argv[i], v);
      else
        printf("%s unset\n", argv[i]);
    }
    return 0;
  }
  size_t n = 0;
  while (environ && environ[n])
    n++;
  char **copy = calloc(n + 1, sizeof *copy);
  if (!copy)
    return 4;
  memcpy(copy, environ, n * sizeof *copy);
  qsort(copy, n, sizeof *copy, cmp);
  for (size_t i = 0; i < n; i++)
    printf("%s\n", copy[i]);
  free(copy);
  return 0;
}
