/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the catalogue file parser of `cuprum --catalogue
 * FILE` (catalogue_file_load() in tools/catalogue_file.c, jansson then the
 * semantic checks, then cu_catalogue_add_project() with its program,
 * noise-rule and confinement validation in src/catalogue/). The input is
 * the file, read through a memfd as the tool reads any file.
 * Checks: the load succeeds with a catalogue or fails with -1, one
 * diagnostic and *ret untouched; every entry of a loaded catalogue is
 * named, owned by a project the catalogue has, and contained; no crash,
 * leak or UB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "catalogue_file.h"
#include "fuzz_check.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fd < 0) {
    fd = memfd_create("catalogue", MFD_CLOEXEC);
    CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  CHECK(ftruncate(fd, 0) == 0);
  CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
  cu_catalogue *marker = (cu_catalogue *)&fd, *cat = marker;
  int rc = catalogue_file_load(path, &cat);
  if (rc != 0) {
    CHECK(rc == -1 && cat == marker);
    return 0;
  }
  CHECK(cat != NULL && cat != marker);
  size_t n = cu_catalogue_count(cat);
  for (size_t i = 0; i < n && i < 64; i++) {
    cu_catalogue_entry e;
    CHECK(cu_catalogue_entry_at(cat, i, &e) == 0);
    CHECK(e.program && e.project && e.program[0]);
    CHECK(cu_catalogue_project(cat, e.project) != NULL);
    CHECK(cu_catalogue_contains(cat, CU_PROGRAM(e.program)));
    CHECK((e.path == NULL) == (e.resolve_error != 0));
  }
  cu_catalogue_unref(cat);
  return 0;
}
