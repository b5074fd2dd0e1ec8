/* SPDX-License-Identifier: MIT */
/* exitcode N: exits with status N (0-255). */
#include "common.h"

int main(int argc, char **argv) {
  return (int)(parse_num(argc > 1 ? argv[1] : NULL, "exit code") & 0xff);
}
