/* SPDX-License-Identifier: MIT */
/* The curated default catalogue: built once, immutable, never freed. */
#include <pthread.h>

#include "base/internal.h"
#include "catalogue/catalogue_int.h"

/* Designated, so the unpinned path is zero without a warning. */
#define P(prog) {.program = (prog)}

/* Everyday tools that never run another program (see cuprum/program.h for
 * what is left out and why). */
static const cu_program_entry core_ops[] = {
    P(CU_ECHO), P(CU_CAT), P(CU_LS), P(CU_PRINTF), P(CU_TRUE), P(CU_FALSE),
    P(CU_PWD), P(CU_HEAD), P(CU_TAIL), P(CU_WC), P(CU_UNIQ), P(CU_CUT),
    P(CU_TR), P(CU_GREP), P(CU_SEQ), P(CU_YES), P(CU_SLEEP), P(CU_DATE),
    P(CU_UNAME), P(CU_MKDIR), P(CU_RMDIR), P(CU_RM), P(CU_CP), P(CU_MV),
    P(CU_LN), P(CU_TOUCH), P(CU_CHMOD), P(CU_STAT), P(CU_DU), P(CU_DF),
    P(CU_TEE), P(CU_CMP), P(CU_DIFF), P(CU_COMM), P(CU_PASTE), P(CU_TAC),
    P(CU_BASE64), P(CU_OD), P(CU_CKSUM), P(CU_SHA256SUM), P(CU_MD5SUM),
    P(CU_BASENAME), P(CU_DIRNAME), P(CU_READLINK), P(CU_REALPATH),
    P(CU_MKTEMP), P(CU_TRUNCATE), P(CU_ID), P(CU_WHOAMI), P(CU_NPROC),
};
static const char *const core_docs[] = {
    "https://www.gnu.org/software/coreutils/manual/coreutils.html",
    "https://man7.org/linux/man-pages/dir_section_1.html",
};
static const char *const core_noise[] = {
    "^[[:space:]]*$",  /* blank lines */
    "^total [0-9]+$",  /* ls -l block total */
};

static const cu_program_entry vcs[] = {P(CU_GIT)};
static const char *const vcs_docs[] = {"https://git-scm.com/docs",
                                       "man:git(1)"};
static const char *const vcs_noise[] = {
    "^hint: ",
    "^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving) "
    "(objects|deltas):",
};

static const cu_program_entry archive[] = {P(CU_TAR), P(CU_GZIP)};
static const char *const archive_docs[] = {
    "https://www.gnu.org/software/tar/manual/",
    "https://www.gnu.org/software/gzip/manual/",
};
static const char *const archive_noise[] = {
    "^tar: Removing leading `/' from (member|hard link target) names$",
};

static const cu_program_entry sync_progs[] = {P(CU_RSYNC)};
static const char *const sync_docs[] = {
    "https://download.samba.org/pub/rsync/rsync.1"};
static const char *const sync_noise[] = {
    "^sending incremental file list$",
    "^(sent [0-9,]+ bytes|total size is [0-9,]+) ",
};

#define PROJECT(nm, progs, docs_, noise_)                                      \
  {                                                                            \
    .size = sizeof(cu_project_spec), .name = (nm), .programs = (progs),        \
    .n_programs = CU__ARRAY_LEN(progs), .docs = (docs_),                       \
    .n_docs = CU__ARRAY_LEN(docs_), .noise_rules = (noise_),                   \
    .n_noise_rules = CU__ARRAY_LEN(noise_)                                     \
  }

static const cu_project_spec default_projects[] = {
    PROJECT(CU_PROJECT_CORE_OPS, core_ops, core_docs, core_noise),
    PROJECT("vcs", vcs, vcs_docs, vcs_noise),
    PROJECT("archive", archive, archive_docs, archive_noise),
    PROJECT("sync", sync_progs, sync_docs, sync_noise),
};

/* Set once under pthread_once, read-only afterwards. */
static cu_catalogue *default_catalogue;
static int default_status;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void build_default(void) {
  cu_catalogue *cat = NULL;
  int rc = cu_catalogue_new(&cat);
  for (size_t i = 0; rc == 0 && i < CU__ARRAY_LEN(default_projects); i++)
    rc = cu__catalogue_add_trusted(cat, &default_projects[i]);
  if (rc != 0) {
    cu_catalogue_unref(cat);
    default_status = rc;
    return;
  }
  cu__catalogue_make_default(cat);
  default_catalogue = cat;
}

int cu_catalogue_default(const cu_catalogue **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_catalogue_default: ret is NULL");
  pthread_once(&default_once, build_default);
  if (!default_catalogue)
    return cu__fail(default_status ? default_status : CU_ENOMEM,
                    "the default catalogue could not be built");
  *ret = default_catalogue;
  return 0;
}
