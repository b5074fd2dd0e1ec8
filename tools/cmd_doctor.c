/* SPDX-License-Identifier: MIT */
/*
 * `cuprum doctor [--json]`: what this host offers the library, probed the
 * way the library would use it: pidfd, clone3, close_range, splice,
 * Landlock and its ABI, seccomp, no_new_privs, cgroup v2 (mount, this
 * process's cgroup, whether it may create cgroups there, controllers) and
 * the pipe size limit. Every probe is a harmless system call; nothing is
 * changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"

#define SUB "doctor"

static const struct option long_options[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum doctor [--json]\n"
        "\n"
        "Report what this host offers: pidfd, clone3, close_range, splice,\n"
        "the Landlock ABI (file rules from 1, TCP port rules from 4),\n"
        "seccomp, no_new_privs, cgroup v2 (mount, this process's cgroup,\n"
        "whether cgroups may be created beneath it, controllers) and the\n"
        "pipe size limit. Nothing is changed.\n"
        "\n"
        "  --json             one JSON object instead of text\n"
        "  -h, --help         show this help\n",
        stdout);
}

/* A system call is there when it answers anything but ENOSYS. */
static bool has_syscall(long rc) { return rc >= 0 || errno != ENOSYS; }

static bool probe_pidfd(void) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd >= 0)
    close(fd);
  return fd >= 0;
#else
  return false;
#endif
}

static bool probe_clone3(void) {
#ifdef SYS_clone3
  /* A NULL argument of size 0: EINVAL where clone3 exists. */
  return has_syscall(syscall(SYS_clone3, NULL, 0));
#else
  return false;
#endif
}

static bool probe_close_range(void) {
#ifdef SYS_close_range
  /* An empty range far above any open fd: closes nothing. */
  return syscall(SYS_close_range, INT_MAX - 1U, INT_MAX - 1U, 0) == 0;
#else
  return false;
#endif
}

static bool probe_splice(void) {
  int a[2], b[2];
  if (pipe2(a, O_CLOEXEC) < 0)
    return false;
  if (pipe2(b, O_CLOEXEC) < 0) {
    close(a[0]);
    close(a[1]);
    return false;
  }
  long rc = splice(a[0], NULL, b[1], NULL, 1, SPLICE_F_NONBLOCK);
  bool ok = rc >= 0 || errno == EAGAIN;
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  return ok;
}

/* The first line of a small file, without its newline ("" if unreadable). */
static void read_line(const char *path, char *buf, size_t len) {
  buf[0] = '\0';
  FILE *f = fopen(path, "re");
  if (!f)
    return;
  if (fgets(buf, (int)len, f))
    buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* The "Key:" value of /proc/self/status, or -1. */
static long status_value(const char *key) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long v = -1;
  size_t klen = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0)
      v = strtol(line + klen, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

typedef struct report {
  struct utsname uts;
  bool pidfd, clone3, close_range, splice;
  int landlock_abi;
  bool seccomp;
  long seccomp_mode; /* this process's, -1 unknown */
  bool nnp;
  long nnp_self;
  bool cgroup2;
  char mount[PATH_MAX];  /* where the cgroup2 file system is mounted */
  char cgroup[PATH_MAX]; /* this process's v2 cgroup, relative */
  bool cgroup_writable;
  char controllers[256];
  char subtree[256];
  long pipe_max;
} report;

/* The cgroup2 mount point (mountinfo: root in field 4, mount point in
 * field 5, file system type after " - "); a hybrid host has it under
 * /sys/fs/cgroup/unified. Only a mount of the hierarchy's root counts. */
static bool find_cgroup2(char *mount, size_t len) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char line[PATH_MAX * 2];
  bool found = false;
  while (f && !found && fgets(line, sizeof line, f)) {
    if (!strstr(line, " - cgroup2 "))
      continue;
    char root[PATH_MAX], point[PATH_MAX];
    if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) == 2 &&
        strcmp(root, "/") == 0) {
      snprintf(mount, len, "%s", point);
      found = true;
    }
  }
  if (f)
    fclose(f);
  return found;
}

static void probe(report *r) {
  memset(r, 0, sizeof *r);
  uname(&r->uts);
  r->pidfd = probe_pidfd();
  r->clone3 = probe_clone3();
  r->close_range = probe_close_range();
  r->splice = probe_splice();
  r->landlock_abi = cu_landlock_abi();
  r->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 || errno != EINVAL;
  r->seccomp_mode = status_value("Seccomp:");
  r->nnp_self = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  r->nnp = r->nnp_self >= 0;
  r->cgroup2 = find_cgroup2(r->mount, sizeof r->mount);
  char line[PATH_MAX];
  FILE *f = fopen("/proc/self/cgroup", "re");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "0::", 3) == 0) {
      line[strcspn(line, "\n")] = '\0';
      snprintf(r->cgroup, sizeof r->cgroup, "%s", line + 3);
    }
  if (f)
    fclose(f);
  if (r->cgroup2 && r->cgroup[0]) {
    char dir[PATH_MAX * 2 + 8], file[PATH_MAX * 2 + 64];
    snprintf(dir, sizeof dir, "%s%s", r->mount,
             strcmp(r->cgroup, "/") == 0 ? "" : r->cgroup);
    r->cgroup_writable = access(dir, W_OK) == 0;
    snprintf(file, sizeof file, "%s/cgroup.controllers", dir);
    read_line(file, r->controllers, sizeof r->controllers);
    snprintf(file, sizeof file, "%s/cgroup.subtree_control", dir);
    read_line(file, r->subtree, sizeof r->subtree);
  }
  read_line("/proc/sys/fs/pipe-max-size", line, sizeof line);
  r->pipe_max = line[0] ? strtol(line, NULL, 10) : -1;
}

static json_t *words(const char *s) {
  json_t *a = json_array();
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *w = strtok_r(buf, " ", &save); w;
       w = strtok_r(NULL, " ", &save))
    json_array_append_new(a, json_string(w));
  return a;
}

static int print_json(const report *r) {
  json_t *cg = json_pack(
      "{s:b, s:s?, s:s?, s:b, s:o, s:o}", "v2", r->cgroup2, "mount",
      r->cgroup2 ? r->mount : NULL, "cgroup",
      r->cgroup[0] ? r->cgroup : NULL, "writable", r->cgroup_writable,
      "controllers", words(r->controllers), "subtree_control",
      words(r->subtree));
  json_t *o = json_pack(
      "{s:s, s:s, s:b, s:b, s:b, s:b, s:i, s:b, s:b, s:i, s:b, s:I, s:o, "
      "s:I}",
      "kernel", r->uts.release, "machine", r->uts.machine, "pidfd", r->pidfd,
      "clone3", r->clone3, "close_range", r->close_range, "splice",
      r->splice, "landlock_abi", r->landlock_abi, "landlock_net",
      r->landlock_abi >= 4, "seccomp", r->seccomp, "seccomp_mode",
      (int)r->seccomp_mode, "no_new_privs", r->nnp, "no_new_privs_self",
      (json_int_t)r->nnp_self, "cgroup", cg, "pipe_max_size",
      (json_int_t)r->pipe_max);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  puts(text); /* stdout writes through cli_write_all (main.c) */
  free(text);
  return CLI_EXIT_OK;
}

static const char *yes(bool b) { return b ? "yes" : "no"; }

static int print_text(const report *r) {
  printf("kernel:       Linux %s %s\n", r->uts.release, r->uts.machine);
  printf("pidfd:        %s\n", yes(r->pidfd));
  printf("clone3:       %s\n", yes(r->clone3));
  printf("close_range:  %s\n", yes(r->close_range));
  printf("splice:       %s\n", yes(r->splice));
  if (r->landlock_abi > 0)
    printf("landlock:     ABI %d (files%s)\n", r->landlock_abi,
           r->landlock_abi >= 4 ? ", TCP ports" : "; no TCP port rules");
  else
    printf("landlock:     no (--landlock-* fail unless "
           "--confine-best-effort)\n");
  printf("seccomp:      %s (this process: mode %ld)\n", yes(r->seccomp),
         r->seccomp_mode);
  printf("no_new_privs: %s (this process: %ld)\n", yes(r->nnp), r->nnp_self);
  if (!r->cgroup2) {
    printf("cgroup:       no cgroup2 file system mounted (--contain works "
           "only as best-effort)\n");
  } else {
    printf("cgroup:       v2 at %s; this process in %s; may create "
           "cgroups there: %s\n",
           r->mount, r->cgroup[0] ? r->cgroup : "?", yes(r->cgroup_writable));
    printf("  controllers:  %s\n",
           r->controllers[0] ? r->controllers : "(none)");
    printf("  delegated:    %s\n", r->subtree[0] ? r->subtree : "(none)");
  }
  printf("pipe max:     %ld bytes\n", r->pipe_max);
  return CLI_EXIT_OK;
}

int cli_cmd_doctor(int argc, char **argv) {
  optind = 0; /* a fresh scan: see cli_parse_options() */
  opterr = 0;
  bool json = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
    switch (opt) {
    case 'h':
      print_help();
      return CLI_EXIT_OK;
    case 'j':
      json = true;
      break;
    default:
      return cli_usage_error(SUB, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage_error(SUB, "unexpected argument '%s'", argv[optind]);
  report r;
  probe(&r);
  return json ? print_json(&r) : print_text(&r);
}
