/* SPDX-License-Identifier: MIT */
/*
 * Confinement: no_new_privs and Landlock (Linux
 * Documentation/userspace-api/landlock.rst; prctl(2) PR_SET_NO_NEW_PRIVS).
 *
 * The parent does all the work that allocates, opens files or can fail in
 * interesting ways: it probes the Landlock ABI, creates a ruleset handling
 * the access rights the request restricts (those this ABI knows), opens
 * each allowed path O_PATH|O_CLOEXEC and adds it, and adds the TCP ports.
 * The child (cu__confine_apply, the spawn path's confinement hook) only
 * calls prctl() and landlock_restrict_self() on the prepared fds.
 *
 * glibc (2.36) has no Landlock wrappers and this system's
 * <linux/landlock.h> predates ABI 3, so the newer constants and the
 * network structures, whose layout is part of the kernel ABI, are defined
 * here when the header lacks them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/internal.h"
#include "spawn/confine.h"
#include "spawn/proc.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define CU__LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define CU__LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define CU__LL_RULE_PATH_BENEATH 1
#define CU__LL_RULE_NET_PORT 2

/* struct landlock_ruleset_attr up to ABI 4 (the kernel takes the size). */
typedef struct cu__ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
} cu__ll_ruleset_attr;

/* struct landlock_path_beneath_attr (packed in the kernel's header). */
typedef struct __attribute__((packed)) cu__ll_path_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} cu__ll_path_attr;

/* struct landlock_net_port_attr. */
typedef struct cu__ll_port_attr {
  uint64_t allowed_access;
  uint64_t port;
} cu__ll_port_attr;

#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_WRITE                                                               \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |             \
   LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |             \
   LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |                 \
   LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |               \
   LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM |               \
   LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE |                    \
   LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define LL_EXEC LANDLOCK_ACCESS_FS_EXECUTE
/* Rights that apply to a file (the rest are about directories). */
#define LL_FILE                                                                \
  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                \
   LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                \
   LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* The filesystem rights an ABI handles. */
static uint64_t fs_rights(int abi) {
  uint64_t all = LL_READ | LL_WRITE | LL_EXEC;
  if (abi < 2)
    all &= ~LANDLOCK_ACCESS_FS_REFER;
  if (abi < 3)
    all &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi < 5)
    all &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return all;
}

static atomic_int abi_cache = -1;
static atomic_int abi_forced = -1;

void cu__confine_force_abi_for_tests(int abi) {
  atomic_store_explicit(&abi_forced, abi, memory_order_relaxed);
}

int cu_landlock_abi(void) {
  int v = atomic_load_explicit(&abi_forced, memory_order_relaxed);
  if (v >= 0)
    return v;
  v = atomic_load_explicit(&abi_cache, memory_order_relaxed);
  if (v >= 0)
    return v;
  long r = syscall(SYS_landlock_create_ruleset, NULL, 0,
                   LANDLOCK_CREATE_RULESET_VERSION);
  v = r > 0 && r < 1000 ? (int)r : 0;
  atomic_store_explicit(&abi_cache, v, memory_order_relaxed);
  return v;
}

/* Implicit rules: what a dynamically linked program needs to start and
 * run its libraries (the loader, libraries, locale, configuration,
 * /proc/self), and the bit bucket. Missing ones are skipped. */
static const struct {
  const char *path;
  unsigned access;
} system_paths[] = {
    {"/usr", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/bin", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/sbin", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/lib", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/lib32", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/lib64", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/libx32", CU_ACCESS_READ | CU_ACCESS_EXEC},
    {"/etc", CU_ACCESS_READ},
    {"/proc", CU_ACCESS_READ},
    {"/dev/null", CU_ACCESS_READ | CU_ACCESS_WRITE},
    {"/dev/zero", CU_ACCESS_READ},
    {"/dev/urandom", CU_ACCESS_READ},
};

static void note_add(char *note, size_t len, const char *fmt, ...)
    CU__PRINTF(3, 4);
static void note_add(char *note, size_t len, const char *fmt, ...) {
  size_t used = strlen(note);
  if (used + 3 >= len)
    return;
  if (used) {
    memcpy(note + used, "; ", 3);
    used += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note + used, len - used, fmt, ap);
  va_end(ap);
}

/* Add one path rule. `required`: a path the caller listed (a failure to
 * open it is an error); otherwise a missing path is skipped. */
static int add_path(int ruleset, uint64_t handled, const char *path,
                    unsigned access, bool required) {
  uint64_t allowed = 0;
  if (access & CU_ACCESS_READ)
    allowed |= LL_READ;
  if (access & CU_ACCESS_WRITE)
    allowed |= LL_WRITE;
  if (access & CU_ACCESS_EXEC)
    allowed |= LL_EXEC;
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return required ? cu__fail_errno(CU_EINVAL, errno,
                                     "confine: cannot open path %s", path)
                    : 0;
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
    allowed &= LL_FILE;
  allowed &= handled;
  int rc = 0;
  cu__ll_path_attr attr = {.allowed_access = allowed, .parent_fd = fd};
  if (allowed &&
      syscall(SYS_landlock_add_rule, ruleset, CU__LL_RULE_PATH_BENEATH, &attr,
              0) < 0)
    rc = cu__fail_errno(CU_ESYS, errno, "confine: Landlock rule for %s",
                        path);
  cu__close(fd);
  return rc;
}

static int add_port(int ruleset, uint64_t access, uint16_t port) {
  cu__ll_port_attr attr = {.allowed_access = access, .port = port};
  if (syscall(SYS_landlock_add_rule, ruleset, CU__LL_RULE_NET_PORT, &attr,
              0) < 0)
    return cu__fail_errno(CU_ESYS, errno,
                          "confine: Landlock rule for TCP port %u",
                          (unsigned)port);
  return 0;
}

static int fill_ruleset(int fd, const cu_confine *c, const char *program,
                        uint64_t fs, uint64_t net) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && fs && i < c->n_paths; i++)
    rc = add_path(fd, fs, c->paths[i].path, c->paths[i].access, true);
  for (size_t i = 0; rc == 0 && fs && !c->no_system_paths &&
                     i < CU__ARRAY_LEN(system_paths);
       i++)
    rc = add_path(fd, fs, system_paths[i].path, system_paths[i].access,
                  false);
  if (rc == 0 && fs && !c->no_system_paths && program)
    rc = add_path(fd, fs, program, CU_ACCESS_READ | CU_ACCESS_EXEC, false);
  for (size_t i = 0; rc == 0 && (net & CU__LL_NET_CONNECT_TCP) &&
                     i < c->n_connect;
       i++)
    rc = add_port(fd, CU__LL_NET_CONNECT_TCP, c->connect[i]);
  for (size_t i = 0; rc == 0 && (net & CU__LL_NET_BIND_TCP) && i < c->n_bind;
       i++)
    rc = add_port(fd, CU__LL_NET_BIND_TCP, c->bind[i]);
  return rc;
}

int cu__confine_prepare(const cu_confine *c, const char *program,
                        cu__confine_child *out, unsigned *applied,
                        char *note, size_t note_len) {
  bool want_fs = c->restrict_fs || c->n_paths;
  bool want_connect = c->restrict_connect || c->n_connect;
  bool want_bind = c->restrict_bind || c->n_bind;
  if (!want_fs && !want_connect && !want_bind) {
    if (c->no_new_privs) {
      out->no_new_privs = true;
      *applied |= CU_CONFINED_NO_NEW_PRIVS;
    }
    return 0;
  }
  int abi = cu_landlock_abi();
  if (abi == 0) {
    if (!c->best_effort)
      return cu__fail(CU_EUNSUPPORTED,
                      "confine: Landlock is not available on this host "
                      "(kernel without it, lsm= without landlock, or a "
                      "system call filter); see `cuprum doctor`, or ask for "
                      "best effort");
    note_add(note, note_len, "Landlock rules skipped: not available here");
    want_fs = want_connect = want_bind = false;
  } else if ((want_connect || want_bind) && abi < 4) {
    if (!c->best_effort)
      return cu__fail(CU_EUNSUPPORTED,
                      "confine: TCP port rules need Landlock ABI 4 (Linux "
                      "6.7); this kernel offers ABI %d",
                      abi);
    note_add(note, note_len,
             "TCP port rules skipped: Landlock ABI %d here, 4 needed", abi);
    want_connect = want_bind = false;
  }
  if (want_fs || want_connect || want_bind || c->no_new_privs)
    out->no_new_privs = true; /* Landlock implies no_new_privs */
  *applied |= out->no_new_privs ? CU_CONFINED_NO_NEW_PRIVS : 0;
  if (!want_fs && !want_connect && !want_bind)
    return 0;
  if (out->n_fds >= CU__CONFINE_LAYERS)
    return cu__fail(CU_EINVAL, "confine: more than %d Landlock layers",
                    CU__CONFINE_LAYERS);
  cu__ll_ruleset_attr attr = {
      .handled_access_fs = want_fs ? fs_rights(abi) : 0,
      .handled_access_net = (want_connect ? CU__LL_NET_CONNECT_TCP : 0) |
                            (want_bind ? CU__LL_NET_BIND_TCP : 0)};
  size_t attr_size = abi >= 4 ? sizeof attr : sizeof attr.handled_access_fs;
  int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
  if (fd < 0)
    return cu__fail_errno(CU_ESYS, errno,
                          "confine: creating a Landlock ruleset");
  fd = cu__fd_above2(fd);
  if (fd < 0)
    return cu__fail_errno(CU_ESYS, errno,
                          "confine: creating a Landlock ruleset");
  int rc = fill_ruleset(fd, c, program, attr.handled_access_fs,
                        attr.handled_access_net);
  if (rc != 0) {
    cu__close(fd);
    return rc;
  }
  out->fds[out->n_fds++] = fd;
  *applied |= (want_fs ? CU_CONFINED_FS : 0) |
              (want_connect || want_bind ? CU_CONFINED_NET : 0);
  return 0;
}

void cu__confine_close(cu__confine_child *c) {
  for (int i = 0; i < c->n_fds; i++)
    c->fds[i] = cu__close(c->fds[i]);
  c->n_fds = 0;
}

bool cu__confine_active(const cu__confine_child *c) {
  return c->no_new_privs || c->n_fds > 0;
}

CU__CHILD_FN int cu__confine_apply(const void *arg) {
  const cu__confine_child *c = arg;
  if (c->no_new_privs &&
      syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
    return errno;
  for (int i = 0; i < c->n_fds; i++)
    if (syscall(SYS_landlock_restrict_self, c->fds[i], 0) < 0)
      return errno;
  return 0;
}
