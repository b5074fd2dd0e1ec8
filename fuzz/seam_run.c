/* SPDX-License-Identifier: MIT */
/* `cuprum run`'s option parser, reached from a fuzz target: the static
 * parse_args() of tools/cmd_run.c, called with the defaults and the
 * clean-up of cli_cmd_run() and nothing run. */
#include "../tools/cmd_run.c"

#include "seams.h"

int fuzz_run_parse(int argc, char **argv) {
  run_args a = {.grace_ms = -1, .pipe_token = "|"};
  int status = parse_args(argc, argv, &a);
  if (status == 0 && (a.n_command < 1 || !a.command[0]))
    abort(); /* "parsed" must mean there is a PROGRAM */
  for (size_t i = 0; i < a.n_env; i++)
    free((char *)a.env[i].name);
  free(a.env);
  cli_catalogue_opts_free(&a.cat);
  cli_observe_opts_free(&a.observe);
  return status;
}
