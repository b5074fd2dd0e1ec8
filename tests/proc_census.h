/* SPDX-License-Identifier: MIT */
/*
 * What this process holds, read from /proc: open descriptors and children
 * of every thread (running or zombie). Header-only, for the fault-injection
 * scenarios (tests/fault) and the soak run (bench/soak.c), which are not
 * linked with the test harness.
 */
#ifndef CU_PROC_CENSUS_H
#define CU_PROC_CENSUS_H
#include <dirent.h>
#include <stdio.h>

/* Open fds, not counting the one used to read the directory; -1 on error. */
static inline int census_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (!d)
    return -1;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;
}

/* Children of every thread, running or zombie; -1 on error. */
static inline int census_children(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  if (!d)
    return -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f)
      continue;
    int c, in_word = 0;
    while ((c = fgetc(f)) != EOF) {
      if (c != ' ' && !in_word)
        n++;
      in_word = c != ' ';
    }
    fclose(f);
  }
  closedir(d);
  return n;
}
#endif
