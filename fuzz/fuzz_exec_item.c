/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the item decoder of `cuprum exec-item` (the node
 * side of `cuprum parallel --executor slurm`, tools/cmd_exec_item.c): the
 * input is the JSON item read from stdin. Checks (in fuzz/seam_exec_item.c):
 * accepted means version 2 with only known keys, a program equal to
 * argv[0], an absolute path, a NULL-terminated argv of strings, sane
 * durations and a "confine" that is an object when present; rejected means 125
 * with a message; no crash, leak or UB. Nothing is run.
 */
#include <stdint.h>
#include <stdlib.h>

#include "seams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int rc = fuzz_exec_item_decode((const char *)data, size);
  if (rc != 0 && rc != 125)
    abort();
  return 0;
}
