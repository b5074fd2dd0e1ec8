/* SPDX-License-Identifier: MIT */
/* `cuprum catalogue`'s option parser (tools/cmd_catalogue.c), nothing
 * listed. */
#include "../tools/cmd_catalogue.c"

#include "seams.h"

int fuzz_catalogue_parse(int argc, char **argv) {
  cli_catalogue_opts opts = {0};
  int names = 0;
  int status = parse_args(argc, argv, &opts, &names);
  cli_catalogue_opts_free(&opts);
  return status;
}
