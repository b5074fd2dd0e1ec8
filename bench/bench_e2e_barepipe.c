/* SPDX-License-Identifier: MIT */
/*
 * The ceilings of the end-to-end matrix (scripts/bench_e2e.sh), plain libc,
 * no Cuprum calls (bench_util.h only for its read loop): what the same work
 * costs with nothing but the system calls.
 *
 *   bench_e2e_barepipe [--stages N] [--capture] FILE
 *       posix_spawn `cat FILE` and N-1 plain `cat`s joined by kernel pipes
 *       (default N = 2: the bare child-to-child pipe); the last stage
 *       writes to /dev/null, or with --capture into a pipe that this
 *       process reads into a doubling buffer (a hand-written capture);
 *   bench_e2e_barepipe --memcpy FILE
 *       mmap FILE and memcpy it once into fresh memory: the memory ceiling
 *       (prints the in-process memcpy rate on stderr).
 *
 * Exits 0 when every child exited 0 and a capture got the file's size.
 */
#include "bench_util.h"

#include <stdbool.h>
#include <sys/mman.h>

#define MAX_STAGES 8

static __attribute__((noreturn)) void die(const char *what) {
  fprintf(stderr, "bench_e2e_barepipe: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Spawn `cat [path]` with stdin `in` and stdout `out` (-1: /dev/null). */
static pid_t spawn_cat(const char *path, int in, int out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in >= 0)
    posix_spawn_file_actions_adddup2(&fa, in, 0);
  if (out >= 0)
    posix_spawn_file_actions_adddup2(&fa, out, 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  char *argv[] = {(char *)"cat", (char *)path, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, "/bin/cat", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    die("posix_spawn /bin/cat");
  }
  return pid;
}

/* N cats joined by pipes; returns the captured size (0 when discarded). */
static size_t bare_pipeline(const char *path, int stages, bool capture) {
  pid_t pids[MAX_STAGES];
  int in = -1, p[2] = {-1, -1};
  for (int i = 0; i < stages; i++) {
    bool last = i == stages - 1;
    if ((!last || capture) && pipe2(p, O_CLOEXEC) < 0)
      die("pipe2");
    int out = !last || capture ? p[1] : -1;
    pids[i] = spawn_cat(i == 0 ? path : NULL, in, out);
    if (in >= 0)
      close(in);
    if (out >= 0)
      close(out);
    in = !last || capture ? p[0] : -1;
  }
  size_t len = 0;
  if (capture) {
    char *buf = bu_read_all(in, &len);
    close(in);
    free(buf);
  }
  for (int i = 0; i < stages; i++) {
    int status;
    while (waitpid(pids[i], &status, 0) < 0)
      if (errno != EINTR)
        die("waitpid");
    if (status != 0) {
      fprintf(stderr, "bench_e2e_barepipe: stage %d failed\n", i);
      exit(1);
    }
  }
  return len;
}

/* mmap the file and copy it once into fresh memory: the one copy a
 * capture cannot avoid, without a pipe or a child. */
static void memcpy_ceiling(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    die(path);
  size_t len = (size_t)st.st_size;
  char *src = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
                  : NULL;
  close(fd);
  if (src == MAP_FAILED)
    die("mmap");
  char *dst = malloc(len ? len : 1);
  if (!dst)
    die("malloc");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (len)
    memcpy(dst, src, len);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  /* print a byte of the copy so the compiler cannot drop it */
  fprintf(stderr, "memcpy %zu bytes: %.3f GB/s (last byte %d)\n", len,
          s > 0 ? (double)len / s / 1e9 : 0.0, len ? dst[len - 1] : 0);
  if (len)
    munmap(src, len);
  free(dst);
}

#define USAGE                                                                  \
  "bench_e2e_barepipe [--stages N] [--capture] FILE\n"                        \
  "       bench_e2e_barepipe --memcpy FILE"

int main(int argc, char **argv) {
  int stages = 2;
  bool capture = false, copy = false;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--stages") && i + 1 < argc)
      stages = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--capture"))
      capture = true;
    else if (!strcmp(argv[i], "--memcpy"))
      copy = true;
    else if (argv[i][0] != '-' && argv[i][0] != '\0' && !path)
      path = argv[i];
    else
      bu_usage(argv[i], USAGE);
  }
  if (!path || stages < 1 || stages > MAX_STAGES)
    bu_usage(NULL, USAGE);
  if (copy) {
    memcpy_ceiling(path);
    return 0;
  }
  struct stat st;
  if (stat(path, &st) != 0)
    die(path);
  size_t got = bare_pipeline(path, stages, capture);
  if (capture && got != (size_t)st.st_size) {
    fprintf(stderr, "bench_e2e_barepipe: captured %zu of %lld bytes\n", got,
            (long long)st.st_size);
    return 1;
  }
  return 0;
}
