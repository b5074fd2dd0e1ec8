/* SPDX-License-Identifier: MIT */
/*
 * prober ACTION ARG [ACTION ARG ...]: tries each action and prints one
 * line "ACTION ARG: ok" or "ACTION ARG: ERRNO-NAME" (confinement tests).
 *   write PATH    create/truncate PATH and write a byte
 *   read PATH     open PATH for reading
 *   connect PORT  TCP connect to 127.0.0.1:PORT
 *   bind PORT     TCP bind to 127.0.0.1:PORT
 *   status KEY    print the line of /proc/self/status starting with KEY
 *   exec PATH     execve PATH (last action; on success PATH runs)
 * Exits 0 when every action succeeded, 1 otherwise.
 */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

static const char *errname(int e) {
  switch (e) {
  case EACCES:
    return "EACCES";
  case EPERM:
    return "EPERM";
  case ENOENT:
    return "ENOENT";
  case ECONNREFUSED:
    return "ECONNREFUSED";
  case EADDRINUSE:
    return "EADDRINUSE";
  case EXDEV:
    return "EXDEV";
  default:
    return "other";
  }
}

static int report(const char *act, const char *arg, int err) {
  printf("%s %s: %s\n", act, arg, err ? errname(err) : "ok");
  fflush(stdout);
  return err ? 1 : 0;
}

static int tcp(const char *act, const char *arg, bool do_bind) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return report(act, arg, errno);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)parse_num(arg, "port"))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = do_bind ? bind(s, (struct sockaddr *)&a, sizeof a)
                   : connect(s, (struct sockaddr *)&a, sizeof a);
  int err = rc < 0 ? errno : 0;
  close(s);
  return report(act, arg, err);
}

static int status_line(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return report("status", key, errno);
  char line[256];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, strlen(key)) == 0) {
      fputs(line, stdout);
      fclose(f);
      return 0;
    }
  fclose(f);
  return report("status", key, ENOENT);
}

int main(int argc, char **argv) {
  int bad = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *act = argv[i], *arg = argv[i + 1];
    if (strcmp(act, "write") == 0) {
      int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int err = fd < 0 ? errno : 0;
      if (fd >= 0) {
        write_all(fd, "x", 1);
        close(fd);
      }
      bad |= report(act, arg, err);
    } else if (strcmp(act, "read") == 0) {
      int fd = open(arg, O_RDONLY | O_CLOEXEC);
      bad |= report(act, arg, fd < 0 ? errno : 0);
      if (fd >= 0)
        close(fd);
    } else if (strcmp(act, "connect") == 0 || strcmp(act, "bind") == 0) {
      bad |= tcp(act, arg, act[0] == 'b');
    } else if (strcmp(act, "status") == 0) {
      bad |= status_line(arg);
    } else if (strcmp(act, "exec") == 0) {
      char *const args[] = {argv[i + 1], NULL};
      execv(arg, args);
      bad |= report(act, arg, errno);
    } else {
      fprintf(stderr, "prober: unknown action %s\n", act);
      return 2;
    }
  }
  return bad;
}
