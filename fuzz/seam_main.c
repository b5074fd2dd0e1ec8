/* SPDX-License-Identifier: MIT */
/*
 * The CLI's tools/main.c without its main() (libFuzzer brings its own):
 * cli_error(), cli_usage_error() and the rest that the subcommands call.
 * docs/design.md "Fuzzing the CLI without a seam in tools/".
 */
#define main cuprum_cli_main
#include "../tools/main.c"
