/* SPDX-License-Identifier: MIT */
/*
 * Per-run cgroup v2 directories (Linux Documentation/admin-guide/
 * cgroup-v2.rst): found through /proc/self/mountinfo (the cgroup2 mount:
 * /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid
 * one) and /proc/self/cgroup (the "0::" line), created beneath a "cuprum"
 * cgroup under the process's own, ended with cgroup.kill, watched through
 * cgroup.events, removed with rmdir. cgroup v1 hierarchies are never used
 * (docs/design.md, "Containment": why).
 */
#include "spawn/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static atomic_uint cg_seq;

/*
 * Reuse. Making a cgroup, starting the first process in it and removing
 * it costs the kernel about 0.2 ms, a fifth of a whole short run; starting
 * a process in an existing empty cgroup costs a tenth of that. So an empty
 * cgroup of the default parent that had no cgroup limits is kept (its path
 * only: no fd stays open) for the next contained run of this process, at
 * most POOL_MAX of them; its CPU figure is then taken relative to cpu.stat
 * at hand-out, its memory peak reset through memory.peak (Linux >= 6.12)
 * or not reported. The pool belongs to the process that filled it (a
 * forked child never uses or removes its parent's), and is emptied (rmdir)
 * when the library is unloaded or the process exits; cgroups left by a
 * process that died are removed at the next process's first contained
 * run.
 */
#define POOL_MAX 8
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static char *pool[POOL_MAX];
static size_t pool_n;
static pid_t pool_pid;

static char *pool_take(void) {
  char *path = NULL;
  pthread_mutex_lock(&pool_mu);
  if (pool_pid == getpid() && pool_n > 0)
    path = pool[--pool_n];
  pthread_mutex_unlock(&pool_mu);
  return path;
}

/* Keep `path`; false when the pool is full or another process's. */
static bool pool_put(char *path) {
  bool kept = false;
  pthread_mutex_lock(&pool_mu);
  pid_t me = getpid();
  if (pool_pid != me) {
    pool_n = 0; /* a forked child: the entries are its parent's */
    pool_pid = me;
  }
  if (pool_n < POOL_MAX) {
    pool[pool_n++] = path;
    kept = true;
  }
  pthread_mutex_unlock(&pool_mu);
  return kept;
}

__attribute__((destructor)) static void pool_drain(void) {
  pthread_mutex_lock(&pool_mu);
  if (pool_pid == getpid())
    for (size_t i = 0; i < pool_n; i++) {
      rmdir(pool[i]);
      free(pool[i]);
    }
  pool_n = 0;
  pthread_mutex_unlock(&pool_mu);
}

bool cu__limit_is_cgroup(cu_limit_kind kind) {
  return kind == CU_LIMIT_MEMORY_MAX || kind == CU_LIMIT_PIDS_MAX ||
         kind == CU_LIMIT_CPU_MAX;
}

/* Read a small file (cgroupfs, procfs) into buf; -1 with errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf,
                          size_t len) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  while (got + 1 < len) {
    ssize_t n = read(fd, buf + got, len - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  return (ssize_t)got;
}

static int write_str(int dirfd, const char *name, const char *text) {
  int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = strlen(text);
  ssize_t n;
  do
    n = write(fd, text, len);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)len ? 0 : -1;
}

/* The cgroup2 mount point and its root (mountinfo fields 4 and 5). */
static int find_mount(char *mnt, size_t mnt_len, char *root,
                      size_t root_len) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0;
  int found = -1;
  while (found < 0 && getline(&line, &cap, f) > 0) {
    char *sep = strstr(line, " - cgroup2 ");
    if (!sep)
      continue;
    char r[PATH_MAX], m[PATH_MAX];
    if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) == 2 &&
        strlen(m) < mnt_len && strlen(r) < root_len) {
      snprintf(mnt, mnt_len, "%s", m);
      snprintf(root, root_len, "%s", r);
      found = 0;
    }
  }
  free(line);
  fclose(f);
  return found;
}

/* This process's own cgroup v2 directory, or CU_EUNSUPPORTED. */
static int own_cgroup_dir(char *out, size_t len) {
  char mnt[PATH_MAX], root[PATH_MAX], buf[8192];
  if (find_mount(mnt, sizeof mnt, root, sizeof root) < 0)
    return cu__fail(CU_EUNSUPPORTED,
                    "containment needs cgroup v2, and no cgroup2 file "
                    "system is mounted here (/proc/self/mountinfo)");
  if (read_small(AT_FDCWD, "/proc/self/cgroup", buf, sizeof buf) < 0)
    return cu__fail_errno(CU_EUNSUPPORTED, errno, "reading /proc/self/cgroup");
  char *p = strstr(buf, "0::");
  if (!(p == buf || (p && p[-1] == '\n')))
    return cu__fail(CU_EUNSUPPORTED, "this process has no cgroup v2 "
                                     "membership (no 0:: line in "
                                     "/proc/self/cgroup)");
  p += 3;
  char *nl = strchr(p, '\n');
  if (nl)
    *nl = '\0';
  /* The path is relative to the mount's root (a container may mount a
   * sub-tree): strip that root. */
  size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
  if (rl && strncmp(p, root, rl) == 0)
    p += rl;
  int n = snprintf(out, len, "%s%s", mnt, strcmp(p, "/") == 0 ? "" : p);
  if (n < 0 || (size_t)n >= len)
    return cu__fail(CU_EUNSUPPORTED, "cgroup path too long");
  return 0;
}

static const char *limit_file(cu_limit_kind k, const char **ctrl) {
  switch (k) {
  case CU_LIMIT_MEMORY_MAX:
    *ctrl = "memory";
    return "memory.max";
  case CU_LIMIT_PIDS_MAX:
    *ctrl = "pids";
    return "pids.max";
  case CU_LIMIT_CPU_MAX:
    *ctrl = "cpu";
    return "cpu.max";
  default:
    *ctrl = "";
    return NULL;
  }
}

/* Is `word` one of the space-separated words of `list`? */
static bool has_word(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl)
    if ((p == list || p[-1] == ' ') &&
        (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
      return true;
  return false;
}

/* Enable `ctrl` for the parent's children where the parent may: needs the
 * controller in the parent's cgroup.controllers, and (the "no internal
 * processes" rule) a parent with no processes of its own unless it is a
 * root cgroup. 0 or -1 (not available). */
static int enable_controller(int parent_fd, const char *ctrl) {
  char buf[512];
  if (read_small(parent_fd, "cgroup.subtree_control", buf, sizeof buf) >= 0 &&
      has_word(buf, ctrl))
    return 0;
  if (read_small(parent_fd, "cgroup.controllers", buf, sizeof buf) < 0 ||
      !has_word(buf, ctrl))
    return -1;
  char plus[32];
  snprintf(plus, sizeof plus, "+%s", ctrl);
  return write_str(parent_fd, "cgroup.subtree_control", plus);
}

static int write_limits(cu__cgroup *cg, const cu_limit *limits, size_t n,
                        bool best_effort, char *note, size_t note_len) {
  for (size_t i = 0; i < n; i++) {
    const char *ctrl;
    const char *file = limit_file(limits[i].kind, &ctrl);
    if (!file)
      continue;
    char val[64];
    if (limits[i].kind == CU_LIMIT_CPU_MAX)
      snprintf(val, sizeof val, "%llu 100000",
               (unsigned long long)limits[i].value * 100);
    else
      snprintf(val, sizeof val, "%llu", (unsigned long long)limits[i].value);
    if (faccessat(cg->dir_fd, file, F_OK, 0) < 0) {
      if (best_effort) {
        size_t used = strlen(note);
        snprintf(note + used, note_len - used, "%s%s skipped (no %s "
                 "controller)", used ? "; " : "", file, ctrl);
        continue;
      }
      return cu__fail(CU_EUNSUPPORTED,
                      "%s: the cgroup v2 '%s' controller is not available "
                      "to cuprum's cgroups here (not in the "
                      "cgroup.controllers of the parent, or the parent "
                      "holds processes; a hybrid cgroup v1/v2 host keeps "
                      "it in v1); pass limits_best_effort (--limit ...,"
                      "best-effort) to run without it",
                      file, ctrl);
    }
    if (write_str(cg->dir_fd, file, val) < 0)
      return cu__fail_errno(CU_EINVAL, errno, "writing '%s' to %s/%s", val,
                            cg->path, file);
  }
  return 0;
}

static int open_in(int dirfd, const char *name, int flags) {
  return cu__fd_above2(openat(dirfd, name, flags | O_CLOEXEC));
}

/*
 * The default parent, "cuprum" beneath this process's own cgroup v2
 * directory: found and created once per process (set-once cache; a process
 * that moves itself to another cgroup later keeps using the first one,
 * which still works as a parent). Finding it reads /proc/self/mountinfo,
 * which costs about as much as the rest of a contained run's set-up.
 */
static pthread_once_t auto_once = PTHREAD_ONCE_INIT;
static char auto_dir[PATH_MAX];
static int auto_rc;       /* 0, or the CU_E* code of the failure */
static int auto_errno;
static char auto_msg[PATH_MAX + 256];

/* Is `dir` a cgroup v2 directory with cgroup.kill? 0 or CU_EUNSUPPORTED. */
static int check_parent(const char *dir) {
  struct statfs sf;
  if (statfs(dir, &sf) < 0 ||
      sf.f_type != (typeof(sf.f_type))CGROUP2_SUPER_MAGIC)
    return cu__fail(CU_EUNSUPPORTED,
                    "%s is not a cgroup v2 directory (cgroup_parent must "
                    "name one this process may create cgroups in)",
                    dir);
  char kill_file[PATH_MAX + 16];
  snprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", dir);
  if (access(kill_file, F_OK) < 0)
    return cu__fail(CU_EUNSUPPORTED,
                    "containment needs cgroup.kill (Linux >= 5.14, and not "
                    "the root cgroup), which %s lacks",
                    dir);
  return 0;
}

/* Remove the run-PID-N cgroups of processes that are gone (empty ones
 * only: rmdir fails on a populated cgroup). */
static void remove_stale(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    long pid = 0;
    unsigned n = 0;
    /* A name match, count checked; NAME_MAX bounds the digits. */
    // NOLINTNEXTLINE(cert-err34-c)
    if (sscanf(e->d_name, "run-%ld-%u", &pid, &n) != 2 || pid <= 0 ||
        pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    rmdir(path);
  }
  closedir(d);
}

static void find_auto_parent(void) {
  int rc = own_cgroup_dir(auto_dir, sizeof auto_dir - 8);
  if (rc == 0) {
    strcat(auto_dir, "/cuprum");
    if (mkdir(auto_dir, 0755) < 0 && errno != EEXIST)
      rc = cu__fail_errno(CU_EUNSUPPORTED, errno,
                          "cannot create the cgroup %s (containment "
                          "needs a cgroup v2 directory this process may "
                          "create cgroups in: root, or a delegated "
                          "subtree; or set cgroup_parent)",
                          auto_dir);
  }
  if (rc == 0)
    rc = check_parent(auto_dir);
  if (rc == 0)
    remove_stale(auto_dir);
  auto_rc = rc;
  if (rc != 0) {
    auto_errno = cu__last_fail_errno();
    snprintf(auto_msg, sizeof auto_msg, "%s", cu_last_error());
  }
}

/* "key value" from a flat-keyed cgroup file, or -1. */
static int64_t keyed(const char *buf, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
    if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
      return strtoll(p + kl + 1, NULL, 10);
  return -1;
}

static int64_t read_cpu_usec(int dir_fd) {
  char buf[1024];
  return read_small(dir_fd, "cpu.stat", buf, sizeof buf) >= 0
             ? keyed(buf, "usage_usec")
             : -1;
}

/* Hand out a pooled cgroup: true when `cg` is now set up from one. */
static bool reuse(cu__cgroup *cg) {
  char *path;
  while ((path = pool_take()) != NULL) {
    cg->path = path;
    cg->dir_fd = cu__fd_above2(open(path, O_RDONLY | O_DIRECTORY |
                                              O_CLOEXEC));
    if (cg->dir_fd >= 0)
      cg->events_fd = open_in(cg->dir_fd, "cgroup.events", O_RDONLY);
    if (cg->events_fd >= 0 && cu__cgroup_populated(cg) == 0) {
      cg->reused = true;
      cg->cpu_base = read_cpu_usec(cg->dir_fd);
      if (cg->cpu_base < 0)
        cg->cpu_base = 0;
      cg->peak_fd = open_in(cg->dir_fd, "memory.peak", O_RDWR);
      if (cg->peak_fd >= 0 && write(cg->peak_fd, "reset\n", 6) != 6)
        cg->peak_fd = cu__close(cg->peak_fd); /* no reset: no figure */
      return true;
    }
    /* Gone or in use (someone else's doing): forget it. */
    cg->dir_fd = cu__close(cg->dir_fd);
    cg->events_fd = cu__close(cg->events_fd);
    rmdir(path);
    free(path);
    cg->path = NULL;
  }
  return false;
}

int cu__cgroup_create(const char *parent, const cu_limit *limits,
                      size_t n_limits, bool best_effort, cu__cgroup **ret,
                      char *note, size_t note_len) {
  *ret = NULL;
  note[0] = '\0';
  const char *dir = parent;
  if (!parent) {
    /* Checked once: the path is all that is kept (no fd held open). */
    pthread_once(&auto_once, find_auto_parent);
    if (auto_rc != 0)
      return cu__fail_errno(auto_rc, auto_errno, "%s", auto_msg);
    dir = auto_dir;
  } else {
    if (strlen(dir) > PATH_MAX - 64)
      return cu__fail(CU_EINVAL, "cgroup_parent: path too long");
    int rc = check_parent(dir);
    if (rc != 0)
      return rc;
  }
  bool cg_limits = false;
  for (size_t i = 0; i < n_limits; i++)
    cg_limits |= cu__limit_is_cgroup(limits[i].kind);
  CU__AUTOCLOSE int pfd = -1;
  if (cg_limits) {
    pfd = cu__fd_above2(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (size_t i = 0; pfd >= 0 && i < n_limits; i++) {
      const char *ctrl;
      if (limit_file(limits[i].kind, &ctrl))
        (void)enable_controller(pfd, ctrl);
    }
  }
  cu__cgroup *cg = calloc(1, sizeof *cg);
  if (!cg)
    return cu__fail(CU_ENOMEM, "allocating a cgroup");
  cg->dir_fd = cg->events_fd = cg->peak_fd = -1;
  cg->poolable = !parent && !cg_limits;
  if (cg->poolable && reuse(cg)) {
    *ret = cg;
    return 0;
  }
  unsigned seq = atomic_fetch_add(&cg_seq, 1);
  cg->path = cu__asprintf("%s/run-%ld-%u", dir, (long)getpid(), seq);
  if (!cg->path) {
    free(cg);
    return cu__fail(CU_ENOMEM, "allocating a cgroup path");
  }
  if (mkdir(cg->path, 0755) < 0) {
    int err = errno;
    int rc = cu__fail_errno(CU_EUNSUPPORTED, err,
                            "cannot create the cgroup %s (containment "
                            "needs a cgroup v2 directory this process may "
                            "create cgroups in: root, or a delegated "
                            "subtree)",
                            cg->path);
    free(cg->path);
    free(cg);
    return rc;
  }
  int rc = 0;
  cg->dir_fd = cu__fd_above2(open(cg->path, O_RDONLY | O_DIRECTORY |
                                                O_CLOEXEC));
  if (cg->dir_fd >= 0)
    cg->events_fd = open_in(cg->dir_fd, "cgroup.events", O_RDONLY);
  if (cg->dir_fd < 0 || cg->events_fd < 0)
    rc = cu__fail_errno(CU_ESYS, errno, "opening the cgroup %s", cg->path);
  if (rc == 0)
    rc = write_limits(cg, limits, n_limits, best_effort, note, note_len);
  if (rc < 0) {
    cu__cgroup_free(cg);
    return rc;
  }
  *ret = cg;
  return 0;
}

int cu__cgroup_populated(const cu__cgroup *cg) {
  char buf[256];
  ssize_t n;
  do
    n = pread(cg->events_fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  const char *p = strstr(buf, "populated ");
  if (!p)
    return -1;
  return p[10] == '1' ? 1 : 0;
}

void cu__cgroup_kill(cu__cgroup *cg) {
  if (!cg || cg->killed)
    return;
  cg->killed = true;
  (void)write_str(cg->dir_fd, "cgroup.kill", "1");
}

void cu__cgroup_stats(const cu__cgroup *cg, int64_t *ret_cpu_us,
                      int64_t *ret_mem_peak) {
  char buf[64];
  int64_t cpu = read_cpu_usec(cg->dir_fd);
  *ret_cpu_us = cpu < 0 ? -1 : cpu - cg->cpu_base;
  *ret_mem_peak = -1;
  ssize_t n = -1;
  if (cg->peak_fd >= 0) {
    n = pread(cg->peak_fd, buf, sizeof buf - 1, 0);
    if (n >= 0)
      buf[n] = '\0';
  } else if (cg->cpu_base == 0 && !cg->reused) {
    n = read_small(cg->dir_fd, "memory.peak", buf, sizeof buf);
  }
  if (n > 0 && buf[0] >= '0' && buf[0] <= '9')
    *ret_mem_peak = strtoll(buf, NULL, 10);
}

void cu__cgroup_free(cu__cgroup *cg) {
  if (!cg)
    return;
  bool keep = cg->poolable && cg->path && cg->events_fd >= 0 &&
              cu__cgroup_populated(cg) == 0;
  cu__close(cg->dir_fd);
  cu__close(cg->events_fd);
  cu__close(cg->peak_fd);
  if (keep && pool_put(cg->path))
    cg->path = NULL;
  if (cg->path)
    rmdir(cg->path); /* EBUSY only if something escaped the kill */
  free(cg->path);
  free(cg);
}
