/* SPDX-License-Identifier: MIT */
/* Option values shared by subcommands: durations and the active catalogue. */
#include <ctype.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue_file.h"
#include "cli.h"

#define NS_PER_MS 1000000LL

/* Parse "SECONDS[.FRACTION]" by hand: strtod() would accept "inf", "nan",
 * "1e3", hex floats and leading blanks, and would round 0.1 inexactly. */
int cli_parse_seconds(const char *text, int64_t *ret_ms,
                      const char **ret_reason) {
  const int64_t max_s = CU_TIMEOUT_MAX_MS / 1000;
  const char *p = text;
  int64_t sec = 0, frac_ns = 0, scale = 100000000LL; /* 0.1 s in ns */
  bool digits = false, round_up = false;
  *ret_reason = "is not a number of seconds (expected e.g. 2 or 0.5)";
  if (*p == '-') {
    *ret_reason = "is negative";
    return -1;
  }
  for (; isdigit((unsigned char)*p); p++, digits = true) {
    sec = sec * 10 + (*p - '0');
    if (sec > max_s)
      goto too_big;
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, digits = true) {
      if (scale > 0)
        frac_ns += (*p - '0') * scale;
      else if (*p != '0')
        round_up = true; /* beyond nanoseconds: only matters for rounding */
      scale /= 10;
    }
  }
  if (!digits || *p != '\0')
    return -1;
  int64_t ms = sec * 1000 + (frac_ns + NS_PER_MS - 1) / NS_PER_MS;
  if (ms == 0 && (frac_ns > 0 || round_up))
    ms = 1; /* a tiny positive duration must not turn into "none" */
  if (ms > CU_TIMEOUT_MAX_MS)
    goto too_big;
  *ret_ms = ms;
  return 0;
too_big:
  *ret_reason = "is more than one year (31536000 seconds)";
  return -1;
}

int cli_option_seconds(const char *sub, const char *option, const char *text,
                       int64_t *ret_ms) {
  const char *reason;
  if (cli_parse_seconds(text, ret_ms, &reason) == 0)
    return 0;
  return cli_usage_error(sub, "%s: '%s' %s", option, text, reason);
}

int cli_parse_options(int argc, char **argv, const char *sub,
                      const char *shortopts, const struct option *longopts,
                      cli_option_fn on_option, void *ctx, void (*help)(void)) {
  /* 0, not 1: glibc and musl then forget the previous scan too, which may
   * have stopped inside a cluster ("-jx" with a bad -j value) and would
   * go on reading that old argv (fuzz_cli_args found it). */
  optind = 0;
  opterr = 0; /* ":" in shortopts: we report, in our words */
  int opt;
  while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    if (opt == 'h') {
      help();
      return -1;
    }
    if (opt == '?')
      return cli_usage_error(sub, "unknown option '%s'", argv[optind - 1]);
    if (opt == ':')
      return cli_usage_error(sub, "option '%s' needs a value",
                             argv[optind - 1]);
    int rc = on_option(ctx, opt, optarg);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cli_catalogue_opts_allow(cli_catalogue_opts *opts, const char *prog) {
  const char **v = realloc(opts->allow, (opts->n_allow + 1) * sizeof *v);
  if (!v) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  v[opts->n_allow++] = prog;
  opts->allow = v;
  return 0;
}

void cli_catalogue_opts_free(cli_catalogue_opts *opts) {
  free(opts->allow);
  opts->allow = NULL;
  opts->n_allow = 0;
}

/* --allow NAME searches PATH once; --allow /abs/path/NAME pins that file
 * under its base name. The library makes allowing a program the catalogue
 * already has a no-op without a path, and a conflict with another path. */
static int allow_one(cu_catalogue *cat, const char *prog) {
  const char *slash = strrchr(prog, '/');
  if (slash && prog[0] != '/') {
    cli_error("--allow: '%s' is a relative path; give a program name or an "
              "absolute path", prog);
    return -1;
  }
  const char *name = slash ? slash + 1 : prog;
  if (name[0] == '\0') {
    cli_error("--allow: '%s' names no program", prog);
    return -1;
  }
  if (cu_catalogue_allow(cat, CU_PROGRAM(name), slash ? prog : NULL) != 0) {
    cli_error("--allow %s: %s", prog, cu_last_error());
    return -1;
  }
  return 0;
}

/* --allow is an explicit widening asked for on the command line, so cuprum
 * turns the widen switch on at its root scope, as a program may; the
 * operator's CUPRUM_POLICY=widen=deny (or an invalid CUPRUM_POLICY) refuses
 * that, and then no --allow takes effect. */
static int permit_widening(const cli_catalogue_opts *opts) {
  if (opts->n_allow == 0 ||
      cu_policy_set(&(cu_policy){.widen = CU_SWITCH_ON}) == 0)
    return 0;
  cli_error("--allow %s: %s", opts->allow[0], cu_last_error());
  return -1;
}

int cli_catalogue_build(const cli_catalogue_opts *opts, cu_catalogue **ret) {
  cu_catalogue *cat = NULL;
  if (permit_widening(opts) != 0)
    return CLI_EXIT_FAILURE;
  if (opts->file) {
    if (catalogue_file_load(opts->file, &cat) != 0)
      return CLI_EXIT_FAILURE;
  } else {
    const cu_catalogue *def = NULL;
    int rc = cu_catalogue_default(&def);
    if (rc == 0)
      rc = cu_catalogue_clone(def, &cat);
    if (rc != 0) {
      cli_error("default catalogue: %s", cu_last_error());
      return CLI_EXIT_FAILURE;
    }
  }
  for (size_t i = 0; i < opts->n_allow; i++) {
    if (allow_one(cat, opts->allow[i]) != 0) {
      cu_catalogue_unref(cat);
      return CLI_EXIT_FAILURE;
    }
  }
  *ret = cat;
  return 0;
}
