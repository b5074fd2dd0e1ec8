/* SPDX-License-Identifier: MIT */
/* argvdump: prints "argc N" then every argv element, argv[0] included, as
 * "LEN:BYTES\n" so tests can check exact bytes (spaces, quotes, newlines). */
#include "common.h"

int main(int argc, char **argv) {
  printf("argc %d\n", argc);
  for (int i = 0; i < argc; i++) {
    printf("%zu:", strlen(argv[i]));
    fwrite(argv[i], 1, strlen(argv[i]), stdout);
    putchar('\n');
  }
  return 0;
}
