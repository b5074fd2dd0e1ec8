/* SPDX-License-Identifier: MIT */
/* fdlist: prints each open fd number (from /proc/self/fd, without the
 * directory's own fd), one per line, ascending. */
#include <dirent.h>

#include "common.h"

static int cmp(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

int main(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 4;
  int fds[4096], n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 4096) {
    if (e->d_name[0] == '.')
      continue;
    int fd = atoi(e->d_name);
    if (fd != dirfd(d))
      fds[n++] = fd;
  }
  closedir(d);
  qsort(fds, (size_t)n, sizeof fds[0], cmp);
  for (int i = 0; i < n; i++)
    printf("%d\n", fds[i]);
  return 0;
}
