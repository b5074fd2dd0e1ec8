/* SPDX-License-Identifier: MIT */
/* What the seam files (fuzz/seam_*.c, each including one tools/cmd_*.c)
 * give the fuzz targets: the CLI's static parsers, called with the
 * subcommand's defaults and clean-up and nothing run. */
#ifndef CUPRUM_FUZZ_SEAMS_H
#define CUPRUM_FUZZ_SEAMS_H

#include <stddef.h>
#include <stdio.h>

/* parse_args() of `cuprum run` / `parallel` / `catalogue`, argv[0] the
 * subcommand's name: 0 parsed, -1 after --help, else a usage error's exit
 * status (125). */
int fuzz_run_parse(int argc, char **argv);
int fuzz_parallel_parse(int argc, char **argv);
int fuzz_catalogue_parse(int argc, char **argv);

/* `cuprum parallel`'s input: every item of `f` read as the batch reads it,
 * JSON lines, or with `template` (n_template > 0) the --args lines. Calls
 * `check` on each item's argv (a jansson array of strings) with its 1-based
 * number and the raw line; returns 0 at the end, or the exit status of a
 * rejected line. */
typedef void (*fuzz_item_fn)(void *user, size_t seq, const void *argv,
                             const char *line);
int fuzz_parallel_items(FILE *f, char **template, int n_template,
                        fuzz_item_fn check, void *user);

/* `cuprum exec-item`'s decoder on one JSON document: 0 accepted (then
 * argc/argv/program/path are checked inside), else 125. */
int fuzz_exec_item_decode(const char *text, size_t len);

#endif /* CUPRUM_FUZZ_SEAMS_H */
