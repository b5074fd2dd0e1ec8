/* SPDX-License-Identifier: MIT */
/* pwddump: prints the working directory (getcwd) and a newline. */
#include <limits.h>

#include "common.h"

int main(void) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf))
    return 4;
  printf("%s\n", buf);
  return 0;
}
