/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the job-log reader of `cuprum parallel --joblog
 * FILE --resume` (cli_joblog_open() in tools/parallel_out.c): the input,
 * split at its first NUL, is FILE and FILE.started, written to a private
 * directory and read back as a resume does. Checks: it opens (0) or fails
 * cleanly (125); every Seq it says is done was on a complete line of FILE
 * whose first field is that number; every Seq done with status 0 is done;
 * no crash, leak or UB, and memory stays bounded whatever Seq a line
 * claims.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "parallel_out.h"

static char dir[64], log_path[96], started_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/cuprum-fuzz-XXXXXX",
           tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
  CHECK(mkdtemp(dir));
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  snprintf(started_path, sizeof started_path, "%s/log.started", dir);
  return 0;
}

static void put(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "we");
  CHECK(f);
  CHECK(fwrite(d, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

/* Whether `seq` is the first field of a complete line of d[0..n). */
static bool has_line(const uint8_t *d, size_t n, size_t seq) {
  char want[32];
  int w = snprintf(want, sizeof want, "%zu", seq);
  for (size_t s = 0; s < n;) {
    const uint8_t *nl = memchr(d + s, '\n', n - s);
    if (!nl)
      return false;
    size_t e = (size_t)(nl - d);
    size_t i = s; /* a Seq is digits at the start of the line */
    while (i + 1 < e && d[i] == '0' && d[i + 1] >= '0' && d[i + 1] <= '9')
      i++;
    if (e - i >= (size_t)w && memcmp(d + i, want, (size_t)w) == 0 &&
        (i + (size_t)w == e || d[i + (size_t)w] < '0' || d[i + (size_t)w] > '9'))
      return true;
    s = e + 1;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  size_t n_log = nul ? (size_t)(nul - data) : size;
  put(log_path, data, n_log);
  if (nul)
    put(started_path, nul + 1, size - n_log - 1);
  else
    unlink(started_path);
  cli_joblog j;
  int rc = cli_joblog_open(&j, log_path, true, false);
  CHECK(rc == 0 || rc == 125);
  if (rc == 0) {
    for (size_t seq = 0; seq < j.n_bits && seq < 4096; seq++) {
      if (cli_joblog_done(&j, seq, true))
        CHECK(cli_joblog_done(&j, seq, false));
      if (cli_joblog_done(&j, seq, false))
        CHECK(seq > 0 && has_line(data, n_log, seq));
    }
    CHECK(cli_joblog_close(&j) == 0);
  }
  return 0;
}
