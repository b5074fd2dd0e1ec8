/* SPDX-License-Identifier: MIT */
/* `cuprum catalogue`: list the active catalogue in aligned columns. */
#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "write_all.h"

#define SUB "catalogue"
#define NOT_FOUND "not found"

enum { OPT_CATALOGUE = 256, OPT_ALLOW, OPT_NAMES };

static const struct option long_options[] = {
    {"catalogue", required_argument, NULL, OPT_CATALOGUE},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"names", no_argument, NULL, OPT_NAMES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum catalogue [--names] [--catalogue FILE] "
        "[--allow PROG]...\n"
        "\n"
        "List every program the active catalogue allows: its name, the\n"
        "absolute path it resolves to (or \"" NOT_FOUND "\"), and its "
        "project.\n"
        "\n"
        "  --catalogue FILE   list the catalogue in FILE instead of the "
        "default\n"
        "  --allow PROG       also allow PROG, as `cuprum run --allow`\n"
        "  --names            print only the program names, one a line\n"
        "                     (for shell completion)\n"
        "  -h, --help         show this help\n",
        stdout);
}

/* Returns 0 to list, -1 after --help, or a usage error's exit status. */
static int parse_args(int argc, char **argv, cli_catalogue_opts *opts,
                      int *names) {
  optind = 0; /* a fresh scan: see cli_parse_options() */
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
    switch (opt) {
    case 'h':
      print_help();
      return -1;
    case OPT_NAMES:
      *names = 1;
      break;
    case OPT_CATALOGUE:
      opts->file = optarg;
      break;
    case OPT_ALLOW:
      if (cli_catalogue_opts_allow(opts, optarg) != 0)
        return CLI_EXIT_FAILURE;
      break;
    case ':':
      return cli_usage_error(SUB, "option '%s' needs a value",
                             argv[optind - 1]);
    default:
      return cli_usage_error(SUB, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage_error(SUB, "unexpected argument '%s'", argv[optind]);
  return 0;
}

static const char *shown_path(const cu_catalogue_entry *e) {
  return e->path ? e->path : NOT_FOUND;
}

/* One name a line, no header: what shell completion reads. */
static int list_names(const cu_catalogue *cat) {
  size_t n = cu_catalogue_count(cat);
  cu_catalogue_entry e;
  for (size_t i = 0; i < n; i++) {
    if (cu_catalogue_entry_at(cat, i, &e) != 0) {
      cli_error("%s", cu_last_error());
      return CLI_EXIT_FAILURE;
    }
    printf("%s\n", e.program);
  }
  return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_write_error(errno);
}

/* Two passes: widths first, so the columns line up whatever the paths. */
static int list(const cu_catalogue *cat) {
  size_t n = cu_catalogue_count(cat);
  int wprog = (int)strlen("PROGRAM"), wpath = (int)strlen("PATH");
  cu_catalogue_entry e;
  for (size_t i = 0; i < n; i++) {
    if (cu_catalogue_entry_at(cat, i, &e) != 0) {
      cli_error("%s", cu_last_error());
      return CLI_EXIT_FAILURE;
    }
    int lp = (int)strlen(e.program), lpath = (int)strlen(shown_path(&e));
    wprog = lp > wprog ? lp : wprog;
    wpath = lpath > wpath ? lpath : wpath;
  }
  printf("%-*s  %-*s  %s\n", wprog, "PROGRAM", wpath, "PATH", "PROJECT");
  for (size_t i = 0; i < n; i++) {
    if (cu_catalogue_entry_at(cat, i, &e) != 0) {
      cli_error("%s", cu_last_error());
      return CLI_EXIT_FAILURE;
    }
    printf("%-*s  %-*s  %s\n", wprog, e.program, wpath, shown_path(&e),
           e.project);
  }
  return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_write_error(errno);
}

int cli_cmd_catalogue(int argc, char **argv) {
  cli_catalogue_opts opts = {0};
  cu_catalogue *cat = NULL;
  int names = 0;
  int status = parse_args(argc, argv, &opts, &names);
  if (status == 0)
    status = cli_catalogue_build(&opts, &cat);
  if (status == 0)
    status = names ? list_names(cat) : list(cat);
  else if (status < 0)
    status = CLI_EXIT_OK; /* --help */
  cu_catalogue_unref(cat);
  cli_catalogue_opts_free(&opts);
  return status;
}
