/* SPDX-License-Identifier: MIT */
/*
 * Test-side helpers for the telemetry tests that drive real external tools
 * (promtool, node_exporter, prometheus, node, curl): find a tool, run it
 * capturing stdout, start a daemon on 127.0.0.1 and stop it, pick a free
 * loopback port. Test code only: the library itself never does this.
 */
#ifndef CU_TOOL_UTIL_H
#define CU_TOOL_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Absolute path of `name` on PATH (static buffer), or NULL. */
static inline const char *tu_which(const char *name) {
  static char buf[4096];
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
    if (access(buf, X_OK) == 0)
      return buf;
    path += n + (path[n] == ':');
  }
  return NULL;
}

/* Run argv (argv[0] a path) with stdin from `in` (NULL = /dev/null),
 * stdout (and stderr when `merge`) captured into a malloc'd *out. Returns
 * the wait status, or -1. */
static inline int tu_run(char *const argv[], const char *in, char **out,
                         int merge) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in)
    posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  if (merge)
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return -1;
  }
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap)
      buf = realloc(buf, cap *= 2);
    ssize_t n = read(p[0], buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  close(p[0]);
  int status = -1;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (out)
    *out = buf;
  else
    free(buf);
  return status;
}

/* Start a daemon (argv[0] a path), stdout and stderr to `log`. */
static inline pid_t tu_start(char *const argv[], const char *log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

/* SIGTERM, then wait; SIGKILL if it lingers past ~10 s. */
static inline void tu_stop(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 1000; i++) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR))
      return;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* A loopback TCP port nobody listens on right now. */
static inline int tu_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* GET http://127.0.0.1:port/path with curl; body in *out. 0 on HTTP 2xx. */
static inline int tu_http_get(int port, const char *path, char **out) {
  const char *curl = tu_which("curl");
  if (!curl)
    return -1;
  char curl_path[4096], url[512];
  snprintf(curl_path, sizeof curl_path, "%s", curl);
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  char *argv[] = {curl_path, "-sf", "--max-time", "5", "-g", url, NULL};
  int st = tu_run(argv, NULL, out, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A fresh temporary directory (static buffer per call: copy it). */
static inline char *tu_tempdir(const char *tag) {
  char tmpl[256];
  snprintf(tmpl, sizeof tmpl, "/tmp/cu-%s-XXXXXX", tag);
  char *d = mkdtemp(tmpl);
  return d ? strdup(d) : NULL;
}

static inline void tu_rmtree(const char *dir) {
  if (!dir || strncmp(dir, "/tmp/cu-", 8) != 0)
    return;
  char *argv[] = {"/bin/rm", "-rf", (char *)dir, NULL};
  tu_run(argv, NULL, NULL, 0);
}

#endif
