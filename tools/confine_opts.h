/* SPDX-License-Identifier: MIT */
/*
 * --landlock-ro, --landlock-rw, --landlock-exec, --landlock, --connect,
 * --bind, --no-new-privs and --confine-best-effort, shared by `cuprum run`
 * and `cuprum parallel` (confine_opts.c). Kept apart from the containment
 * options (contain_opts.h) so each can grow on its own.
 */
#ifndef CUPRUM_TOOLS_CONFINE_OPTS_H
#define CUPRUM_TOOLS_CONFINE_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cuprum/cuprum.h"

enum {
  CLI_OPT_LANDLOCK_RO = 540,
  CLI_OPT_LANDLOCK_RW,
  CLI_OPT_LANDLOCK_EXEC,
  CLI_OPT_LANDLOCK,
  CLI_OPT_CONNECT,
  CLI_OPT_BIND,
  CLI_OPT_NO_NEW_PRIVS,
  CLI_OPT_CONFINE_BEST_EFFORT,
};

#define CLI_CONFINE_LONG_OPTIONS                                               \
  {"landlock-ro", required_argument, NULL, CLI_OPT_LANDLOCK_RO},               \
      {"landlock-rw", required_argument, NULL, CLI_OPT_LANDLOCK_RW},           \
      {"landlock-exec", required_argument, NULL, CLI_OPT_LANDLOCK_EXEC},       \
      {"landlock", no_argument, NULL, CLI_OPT_LANDLOCK},                       \
      {"connect", required_argument, NULL, CLI_OPT_CONNECT},                   \
      {"bind", required_argument, NULL, CLI_OPT_BIND},                         \
      {"no-new-privs", no_argument, NULL, CLI_OPT_NO_NEW_PRIVS},               \
      {"confine-best-effort", no_argument, NULL, CLI_OPT_CONFINE_BEST_EFFORT}

#define CLI_CONFINE_HELP                                                       \
  "  --landlock-ro PATH  confine files (Landlock): PATH may be read;\n"       \
  "                     nothing else but the system paths (/usr, /etc,\n"     \
  "                     /lib*, /proc, /dev/null) and the program itself\n"    \
  "  --landlock-rw PATH  PATH may be read and written (repeatable, as the\n"  \
  "                     others); --landlock-exec PATH: read and executed;\n"  \
  "                     --landlock: confine files with no PATH of its own\n"  \
  "  --connect PORT[,PORT]  TCP connections only to these ports ('none':\n"   \
  "                     to no port); --bind PORT[,PORT] likewise for\n"       \
  "                     listening (Landlock ABI 4, Linux 6.7)\n"              \
  "  --no-new-privs     setuid bits and file capabilities are ignored\n"      \
  "                     (implied by every Landlock option)\n"                 \
  "  --confine-best-effort  skip what this host cannot enforce (see\n"        \
  "                     `cuprum doctor`) instead of exit 125\n"

typedef struct cli_confine_opts {
  cu_confine_path paths[32];
  uint16_t connect[32], bind[32];
  cu_confine c; /* points at the arrays above; applied when `any` */
  bool any;
} cli_confine_opts;

/* Handle `opt` if it is one of the above: 0 handled, a usage error's exit
 * status for a bad value, or -1 when `opt` is not ours. PATH must be
 * absolute and is borrowed from argv. */
int cli_confine_option(cli_confine_opts *o, const char *sub, int opt,
                       const char *arg);

/* Point run options at what was asked for (nothing when nothing was). */
void cli_confine_apply(const cli_confine_opts *o, cu_run_opts *ro);

#endif /* CUPRUM_TOOLS_CONFINE_OPTS_H */
