/* SPDX-License-Identifier: MIT */
/*
 * hostile MODE ARGS...: programs that behave the way hostile hosts and
 * children do, for the "Hostile conditions" tests.
 *
 *   hostile latecopy FILE GO     fork a grandchild that waits until the
 *                                file GO exists, then copies its stdin to
 *                                FILE (whole: written as FILE.tmp, then
 *                                renamed); exit 0 at once
 *   hostile stopself MARKER      on SIGTERM write MARKER and exit 0; first
 *                                print "ready\n", then SIGSTOP itself, then
 *                                sleep for ever
 *   hostile ids                  print "PID PGID SID\n"
 *   hostile touch PATH           create PATH (empty)
 *   hostile sigign -- PROG ARG.. SIGCHLD to SIG_IGN, then exec PROG
 *   hostile nocldwait -- PROG .. SIGCHLD with SA_NOCLDWAIT, then exec PROG
 *   hostile close FDS -- PROG ..  close the fds listed ("1", "0,1,2"), then
 *                                exec PROG
 *   hostile nofile N -- PROG ..  soft RLIMIT_NOFILE to N, then exec PROG
 *
 * The exec modes chain: `hostile sigign -- hostile close 1 -- cuprum ...`.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "common.h"

static const char *marker;

static void on_term(int sig) {
  (void)sig;
  int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    ssize_t w = write(fd, "term\n", 5);
    (void)w;
    close(fd);
  }
  _exit(0);
}

static int latecopy(const char *file, const char *go) {
  pid_t pid = fork();
  if (pid < 0)
    return 4;
  if (pid > 0)
    return 0; /* the run may end now; the grandchild reads later */
  /* Only stdin stays shared with the run: its outputs reach EOF now. */
  int null = open("/dev/null", O_WRONLY);
  if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
    _exit(6);
  close(null);
  for (int i = 0; i < 60000 && access(go, F_OK) != 0; i++)
    sleep_ms(1);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", file);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0)
    _exit(5);
  char buf[65536];
  ssize_t r;
  while ((r = read(0, buf, sizeof buf)) > 0)
    write_all(out, buf, (size_t)r);
  close(out);
  rename(tmp, file);
  _exit(0);
}

static _Noreturn void stopself(const char *file) {
  marker = file;
  struct sigaction sa = {.sa_handler = on_term};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  write_all(1, "ready\n", 6);
  raise(SIGSTOP);
  for (;;)
    pause();
}

static int exec_rest(char **argv) {
  if (!argv[0] || strcmp(argv[0], "--") != 0 || !argv[1]) {
    fprintf(stderr, "hostile: expected -- PROG [ARG...]\n");
    return 2;
  }
  execv(argv[1], argv + 1);
  fprintf(stderr, "hostile: exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "latecopy") && argc == 4)
    return latecopy(argv[2], argv[3]);
  if (!strcmp(mode, "stopself") && argc == 3)
    stopself(argv[2]);
  if (!strcmp(mode, "ids")) {
    printf("%ld %ld %ld\n", (long)getpid(), (long)getpgid(0), (long)getsid(0));
    return 0;
  }
  if (!strcmp(mode, "touch") && argc == 3) {
    int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
    return fd < 0 ? 5 : close(fd);
  }
  if (!strcmp(mode, "sigign") || !strcmp(mode, "nocldwait")) {
    struct sigaction sa = {.sa_handler = SIG_IGN};
    if (!strcmp(mode, "nocldwait")) {
      sa.sa_handler = SIG_DFL;
      sa.sa_flags = SA_NOCLDWAIT;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    return exec_rest(argv + 2);
  }
  if (!strcmp(mode, "close") && argc > 2) {
    for (const char *p = argv[2]; *p; p++)
      if (*p >= '0' && *p <= '9')
        close(*p - '0');
    return exec_rest(argv + 3);
  }
  if (!strcmp(mode, "nofile") && argc > 2) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
      return 4;
    rl.rlim_cur = (rlim_t)parse_num(argv[2], "limit");
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      perror("hostile: setrlimit");
      return 4;
    }
    return exec_rest(argv + 3);
  }
  fprintf(stderr, "usage: hostile latecopy FILE MS | stopself MARKER | "
                  "sigign|nocldwait -- PROG... | close FDS -- PROG... | "
                  "nofile N -- PROG...\n");
  return 2;
}
