/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`'s option parser and input reader (the static
 * parse_args() and input_next() of tools/cmd_parallel.c), nothing run. */
#include "../tools/cmd_parallel.c"

#include "seams.h"

int fuzz_parallel_parse(int argc, char **argv) {
  parallel_args a = {.jobs = 1, .grace_ms = -1,
                     .max_output = DEFAULT_MAX_OUTPUT, .backoff_ms = 100,
                     .progress = -1};
  int status = parse_args(argc, argv, &a);
  if (status == 0 && (!a.file || (a.args_file && a.n_template < 1)))
    abort(); /* "parsed" must mean there is a FILE (and a template) */
  cli_catalogue_opts_free(&a.cat);
  cli_observe_opts_free(&a.observe);
  slurm_opts_free(&a.so);
  return status;
}

int fuzz_parallel_items(FILE *f, char **template, int n_template,
                        fuzz_item_fn check, void *user) {
  parallel_args a = {.template = n_template > 0 ? template : NULL,
                     .n_template = n_template};
  input in = {.name = "fuzz", .f = f};
  json_t *argv = NULL;
  int rc;
  while ((rc = input_next(&a, &in, &argv)) > 0) {
    check(user, in.index, argv, in.line);
    json_decref(argv);
    argv = NULL;
  }
  free(in.line);
  return -rc;
}
