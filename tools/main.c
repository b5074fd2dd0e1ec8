/* SPDX-License-Identifier: MIT */
/* `cuprum`: subcommand dispatch, --help, --version and diagnostics. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "run.h" /* cli_stdio_was_closed */
#include "write_all.h"

typedef struct subcommand {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"run", cli_cmd_run,
     "run one allowlisted program, or a pipeline of them; no shell"},
    {"parallel", cli_cmd_parallel,
     "run the commands listed in a file, N at once; JSON results"},
    {"catalogue", cli_cmd_catalogue,
     "list the active catalogue: program, resolved path, project"},
    {"exec-item", cli_cmd_exec_item,
     "run one JSON item from stdin (parallel --executor slurm's node side)"},
    {"doctor", cli_cmd_doctor,
     "what this host offers: pidfd, clone3, Landlock, cgroup v2, ..."},
};

static void print_help(FILE *to) {
  fprintf(to,
          "usage: cuprum run [OPTIONS] [--] PROGRAM [ARG...]\n"
          "       cuprum run [OPTIONS] [--] PROGRAM [ARG...] '|' PROGRAM "
          "[ARG...]...\n"
          "       cuprum parallel [-j N] [--fail-fast] [OPTIONS] FILE\n"
          "       cuprum catalogue [--names] [--catalogue FILE] "
          "[--allow PROG]...\n"
          "       cuprum doctor [--json]\n"
          "       cuprum --help | --version\n"
          "\n"
          "Run programs from an allowlist (the catalogue) without a shell.\n"
          "\n"
          "Subcommands:\n");
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    fprintf(to, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
  fprintf(to,
          "\n"
          "`cuprum SUBCOMMAND --help` describes a subcommand's options.\n"
          "Exit status of run: the command's own; 128+N if a signal N killed\n"
          "it; 124 timed out; 125 cuprum's error (usage, catalogue, program\n"
          "not allowed); 126 found but not executable; 127 not found.\n");
}

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cuprum: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int cli_usage_error(const char *sub, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cuprum: ", stderr);
  if (sub)
    fprintf(stderr, "%s: ", sub);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'cuprum %s%s--help' for more information.\n",
          sub ? sub : "", sub ? " " : "");
  va_end(ap);
  return CLI_EXIT_FAILURE;
}

int cli_exit_for_error(int err) {
  switch (err) {
  case CU_ENOTFOUND:
    return CLI_EXIT_NOT_FOUND;
  case CU_EACCES:
  case CU_ENOEXEC:
    return CLI_EXIT_CANNOT_RUN;
  default:
    return CLI_EXIT_FAILURE;
  }
}

/*
 * A process started with fd 0, 1 or 2 closed hands them to the first files
 * it opens: the --events file would receive the command's output. As the
 * coreutils and util-linux tools do, fill them with /dev/null first, opened
 * in the opposite mode (as gnulib's stdopen does) so that writing to a
 * closed stdout still fails (EBADF) and is reported, never discarded.
 */
static unsigned closed_at_start; /* bit fd: fd 0-2 was closed */

bool cli_stdio_was_closed(int fd) {
  return fd >= 0 && fd < 3 && (closed_at_start & (1u << fd));
}

static int fill_closed_stdio(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
      continue;
    closed_at_start |= 1u << fd;
    int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
    if (got != fd) { /* the lowest free fd is `fd`: 0..fd-1 are open */
      if (got >= 0)
        close(got);
      return -1;
    }
  }
  return 0;
}

/*
 * cuprum owns its process, so it puts back what the library only reads: a
 * SIGCHLD ignored (or SA_NOCLDWAIT) by whoever started us survives execve
 * and would make the kernel reap our children before we see their status.
 */
static void default_sigchld(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, NULL);
}

/* What was printed through stdio must have reached stdout (as coreutils'
 * close_stdout): a full disk or a closed stdout is an error, not a silent
 * success. It is said even after a failed subcommand (whose own status
 * then stands), since what it printed may be lost too. */
static int finish_stdout(int status) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int err = cli_write_error(errno);
    return status == CLI_EXIT_OK ? err : status;
  }
  return status;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv) {
  if (fill_closed_stdio() != 0)
    return CLI_EXIT_FAILURE; /* nowhere to say why: stderr may be closed */
  default_sigchld();
  /* Every stdio write completes on a non-blocking stdout/stderr too
   * (after the fill: it wraps fds 1 and 2 as they now are). */
  (void)cli_stdio_init();
  return finish_stdout(dispatch(argc, argv));
}

static int dispatch(int argc, char **argv) {
  if (argc < 2)
    return cli_usage_error(NULL, "missing subcommand");
  const char *first = argv[1];
  if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 ||
      strcmp(first, "help") == 0) {
    print_help(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
    printf("cuprum %s (libcuprum %s)\n", CUPRUM_VERSION_STRING, cu_version());
    return CLI_EXIT_OK;
  }
  /* An operator's bad CUPRUM_STREAM_BACKEND (or "splice" where it is not
   * available) is cuprum's own error, reported once, before anything runs. */
  cu_stream_backend backend;
  if ((strcmp(first, "run") == 0 || strcmp(first, "parallel") == 0 ||
       strcmp(first, "exec-item") == 0) &&
      cu_stream_backend_resolve(CU_BACKEND_AUTO, &backend) != 0) {
    cli_error("%s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    if (strcmp(first, subcommands[i].name) == 0)
      return subcommands[i].fn(argc - 1, argv + 1);
  return cli_usage_error(NULL, "unknown subcommand '%s'", first);
}
