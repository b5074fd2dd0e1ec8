/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/program.h
 * @brief cu_program: the nominal type of an allowlisted program name.
 *
 * A cu_program wraps a program name in a struct so that a bare `char *`
 * never converts to it silently: every place that names a program to run
 * says so with CU_PROGRAM("name") or one of the curated constants below.
 * A cu_program is a value (copy it freely); it does not own its string, which
 * must outlive every use (string literals are the usual case).
 */
#ifndef CUPRUM_PROGRAM_H
#define CUPRUM_PROGRAM_H

#ifdef __cplusplus
extern "C" {
#endif

/** A program name as it appears in a catalogue ("git", "ls"). */
typedef struct cu_program {
  const char *name;
} cu_program;

/** Make a cu_program from a string literal or other long-lived string. */
#define CU_PROGRAM(str) ((cu_program){.name = (str)})

/*
 * Curated constants for the default catalogue (cu_catalogue_default()).
 *
 * Project `core-ops`: everyday tools that never run another program. Tools
 * that do (sh, bash, env, xargs, sudo, nice, nohup, timeout, stdbuf, find
 * with -exec, sed with its `e` command, awk, sort --compress-program, split
 * --filter, ...) are deliberately absent: allowing one of them would allow
 * every program.
 */
#define CU_ECHO CU_PROGRAM("echo")
#define CU_CAT CU_PROGRAM("cat")
#define CU_LS CU_PROGRAM("ls")
#define CU_PRINTF CU_PROGRAM("printf")
#define CU_TRUE CU_PROGRAM("true")
#define CU_FALSE CU_PROGRAM("false")
#define CU_PWD CU_PROGRAM("pwd")
#define CU_HEAD CU_PROGRAM("head")
#define CU_TAIL CU_PROGRAM("tail")
#define CU_WC CU_PROGRAM("wc")
#define CU_UNIQ CU_PROGRAM("uniq")
#define CU_CUT CU_PROGRAM("cut")
#define CU_TR CU_PROGRAM("tr")
#define CU_GREP CU_PROGRAM("grep")
#define CU_SEQ CU_PROGRAM("seq")
#define CU_YES CU_PROGRAM("yes")
#define CU_SLEEP CU_PROGRAM("sleep")
#define CU_DATE CU_PROGRAM("date")
#define CU_UNAME CU_PROGRAM("uname")
#define CU_MKDIR CU_PROGRAM("mkdir")
#define CU_RMDIR CU_PROGRAM("rmdir")
#define CU_RM CU_PROGRAM("rm")
#define CU_CP CU_PROGRAM("cp")
#define CU_MV CU_PROGRAM("mv")
#define CU_LN CU_PROGRAM("ln")
#define CU_TOUCH CU_PROGRAM("touch")
#define CU_CHMOD CU_PROGRAM("chmod")
#define CU_STAT CU_PROGRAM("stat")
#define CU_DU CU_PROGRAM("du")
#define CU_DF CU_PROGRAM("df")
#define CU_TEE CU_PROGRAM("tee")
#define CU_CMP CU_PROGRAM("cmp")
#define CU_DIFF CU_PROGRAM("diff")
#define CU_COMM CU_PROGRAM("comm")
#define CU_PASTE CU_PROGRAM("paste")
#define CU_TAC CU_PROGRAM("tac")
#define CU_BASE64 CU_PROGRAM("base64")
#define CU_OD CU_PROGRAM("od")
#define CU_CKSUM CU_PROGRAM("cksum")
#define CU_SHA256SUM CU_PROGRAM("sha256sum")
#define CU_MD5SUM CU_PROGRAM("md5sum")
#define CU_BASENAME CU_PROGRAM("basename")
#define CU_DIRNAME CU_PROGRAM("dirname")
#define CU_READLINK CU_PROGRAM("readlink")
#define CU_REALPATH CU_PROGRAM("realpath")
#define CU_MKTEMP CU_PROGRAM("mktemp")
#define CU_TRUNCATE CU_PROGRAM("truncate")
#define CU_ID CU_PROGRAM("id")
#define CU_WHOAMI CU_PROGRAM("whoami")
#define CU_NPROC CU_PROGRAM("nproc")

/*
 * Projects `vcs` (git), `archive` (tar, gzip) and `sync` (rsync). Caveat:
 * git, tar and rsync have options that run other programs (git -c
 * core.sshCommand=..., aliases and hooks; tar --to-command,
 * --use-compress-program, --checkpoint-action=exec; rsync -e/--rsh,
 * --rsync-path). Never pass untrusted input as their options.
 */
#define CU_GIT CU_PROGRAM("git")
#define CU_TAR CU_PROGRAM("tar")
#define CU_GZIP CU_PROGRAM("gzip")
#define CU_RSYNC CU_PROGRAM("rsync")

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_PROGRAM_H */
