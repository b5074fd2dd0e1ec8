/* SPDX-License-Identifier: MIT */
/*
 * hog MODE ARG: uses one resource until a limit stops it, for the
 * containment and limits tests. Prints what it saw on stdout.
 *
 *   hog cpu MS        burn CPU for MS ms of its own CPU time (0 = for ever)
 *   hog alloc MB      malloc and touch MB MiB; "alloc failed at N MiB"
 *                     (exit 1) or "alloc ok"
 *   hog fds N         open /dev/null N times; "open failed at N: EMFILE"
 *                     (exit 1) or "fds ok"
 *   hog write PATH KB write KB KiB to PATH (SIGXFSZ ends it past FSIZE)
 *   hog forks N       fork N children that sleep 60 s; "fork failed at N:
 *                     EAGAIN" (exit 1) or "forks ok", then kill them
 *   hog daemon FILE   setsid + double fork: the grandchild (stdio on
 *                     /dev/null, its own session) writes its pid to FILE
 *                     and sleeps for ever; hog prints "daemon" and exits
 *                     0 once FILE is there
 *   hog rlimits       print "CPU NOFILE FSIZE CORE" soft limits
 *   hog root-sleep MS with effective uid 0 (a setuid-root copy), become
 *                     root for real (setuid(0) sets the real and saved
 *                     uids too, as su and sudo do), then print "ready
 *                     PID UID" (UID: the real uid now) and sleep MS ms
 *                     (uninstrumented, so it can run setuid; see
 *                     tests/test_known_limits.c)
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "common.h"

/* File scope: a volatile local only written is "set but not used" to
 * clang. */
static volatile unsigned long cpu_sink;

static int cpu(unsigned long long ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  for (;;) {
    for (int i = 0; i < 1000000; i++)
      cpu_sink += (unsigned long)i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    long long spent = (t.tv_sec - t0.tv_sec) * 1000LL +
                      (t.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms && spent >= (long long)ms)
      return 0;
  }
}

/* Each block escapes through a volatile: clang -O2 otherwise removes a
 * malloc + memset whose memory is never read, and "alloc ok" comes out
 * under any address-space limit. */
static char *volatile alloc_sink;

static int alloc(unsigned long long mb) {
  for (unsigned long long i = 0; i < mb; i++) {
    char *p = malloc(1 << 20);
    if (!p) {
      printf("alloc failed at %llu MiB\n", i);
      return 1;
    }
    memset(p, 1, 1 << 20);
    alloc_sink = p;
  }
  printf("alloc ok\n");
  return 0;
}

static int fds(unsigned long long n) {
  for (unsigned long long i = 0; i < n; i++)
    if (open("/dev/null", O_RDONLY) < 0) {
      printf("open failed at %llu: %s\n", i,
             errno == EMFILE ? "EMFILE" : strerror(errno));
      return 1;
    }
  printf("fds ok\n");
  return 0;
}

static int wr(const char *path, unsigned long long kb) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return 4;
  char buf[1024];
  memset(buf, 'x', sizeof buf);
  for (unsigned long long i = 0; i < kb; i++)
    write_all(fd, buf, sizeof buf);
  close(fd);
  printf("write ok\n");
  return 0;
}

static int forks(unsigned long long n) {
  pid_t *kids = calloc(n + 1, sizeof *kids);
  int rc = 0;
  unsigned long long i;
  for (i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      sleep_ms(60000);
      _exit(0);
    }
    if (pid < 0) {
      printf("fork failed at %llu: %s\n", i,
             errno == EAGAIN ? "EAGAIN" : strerror(errno));
      rc = 1;
      break;
    }
    kids[i] = pid;
  }
  if (rc == 0)
    printf("forks ok\n");
  fflush(stdout);
  for (unsigned long long k = 0; k < i; k++) {
    kill(kids[k], SIGKILL);
    waitpid(kids[k], NULL, 0);
  }
  free(kids);
  return rc;
}

static int daemonise(const char *file) {
  pid_t pid = fork();
  if (pid < 0)
    return 4;
  if (pid == 0) {
    setsid();
    if (fork() != 0)
      _exit(0);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    char tmp[4096], line[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    write_all(fd, line, (size_t)len);
    close(fd);
    rename(tmp, file);
    sleep_ms(0);
  }
  waitpid(pid, NULL, 0);
  while (access(file, F_OK) != 0)
    sleep_ms(5);
  printf("daemon\n");
  return 0;
}

static int root_sleep(unsigned long long ms) {
  if (geteuid() == 0 && setuid(0) != 0)
    return 3;
  printf("ready %d %d\n", (int)getpid(), (int)getuid());
  sleep_ms(ms);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "cpu") && argc == 3)
    return cpu(parse_num(argv[2], "ms"));
  if (!strcmp(mode, "alloc") && argc == 3)
    return alloc(parse_num(argv[2], "MiB"));
  if (!strcmp(mode, "fds") && argc == 3)
    return fds(parse_num(argv[2], "count"));
  if (!strcmp(mode, "write") && argc == 4)
    return wr(argv[2], parse_num(argv[3], "KiB"));
  if (!strcmp(mode, "forks") && argc == 3)
    return forks(parse_num(argv[2], "count"));
  if (!strcmp(mode, "daemon") && argc == 3)
    return daemonise(argv[2]);
  if (!strcmp(mode, "root-sleep") && argc == 3)
    return root_sleep(parse_num(argv[2], "ms"));
  if (!strcmp(mode, "rlimits")) {
    /* Each resource named as itself: glibc's getrlimit takes an enum
     * under _GNU_SOURCE, musl's an int, so no array of either type. */
    struct rlimit rl[4];
    getrlimit(RLIMIT_CPU, &rl[0]);
    getrlimit(RLIMIT_NOFILE, &rl[1]);
    getrlimit(RLIMIT_FSIZE, &rl[2]);
    getrlimit(RLIMIT_CORE, &rl[3]);
    for (int i = 0; i < 4; i++) {
      if (rl[i].rlim_cur == RLIM_INFINITY)
        printf("%sinf", i ? " " : "");
      else
        printf("%s%llu", i ? " " : "", (unsigned long long)rl[i].rlim_cur);
    }
    printf("\n");
    return 0;
  }
  fprintf(stderr, "usage: hog cpu|alloc|fds|write|forks|daemon|rlimits|root-sleep ..\n");
  return 2;
}
