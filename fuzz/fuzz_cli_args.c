/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the CLI's option parsing: the input split on NUL
 * bytes is an argv, each element its own allocation (so ASan sees a parser
 * keep a pointer into a previous argv). argv[0] names the subcommand (run,
 * parallel, catalogue; anything else picks one by its length) and goes to
 * that subcommand's parse_args() through fuzz/seam_*.c: nothing is run, no
 * catalogue loaded, no file opened. Checks: the parser returns 0 (parsed),
 * -1 (--help) or 125 (a usage error, said on stderr) and nothing else;
 * parsed means a PROGRAM / FILE was found (checked in the seams); no
 * crash, leak or UB, whatever getopt_long is handed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seams.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *argv[MAX_ARGS + 1];
  int argc = 0;
  size_t start = 0;
  for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
    if (i < size && data[i] != '\0')
      continue;
    size_t n = i - start;
    argv[argc] = malloc(n + 1);
    if (!argv[argc])
      abort();
    memcpy(argv[argc], data + start, n);
    argv[argc][n] = '\0';
    argc++;
    start = i + 1;
  }
  argv[argc] = NULL;
  int rc;
  const char *sub = argv[0];
  size_t pick = strlen(sub) % 3;
  if (strcmp(sub, "run") == 0 || (pick == 0 && strcmp(sub, "parallel") != 0 &&
                                  strcmp(sub, "catalogue") != 0))
    rc = fuzz_run_parse(argc, argv);
  else if (strcmp(sub, "parallel") == 0 ||
           (pick == 1 && strcmp(sub, "catalogue") != 0))
    rc = fuzz_parallel_parse(argc, argv);
  else
    rc = fuzz_catalogue_parse(argc, argv);
  if (rc != 0 && rc != -1 && rc != 125)
    abort();
  for (int i = 0; i < argc; i++)
    free(argv[i]);
  return 0;
}
