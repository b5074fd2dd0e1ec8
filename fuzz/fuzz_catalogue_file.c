/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the catalogue file parser of `cuprum --catalogue
 * FILE` (catalogue_file_load() in tools/catalogue_file.c, jansson then the
 * semantic checks, then cu_catalogue_add_project() with its program,
 * noise-rule and confinement validation in src/catalogue/). The input is
 * the file, read through a memfd as the tool reads any file.
 * Checks: the load succeeds with a catalogue or fails with -1, one
 * diagnostic and *ret untouched; every entry of a loaded catalogue is
 * named, owned by a project the catalogue has, and contained; a project's
 * confinement written back in the file's form (catalogue_file_confine_json,
 * what `cuprum parallel --executor slurm` sends to the node) loads again
 * (catalogue_file_load_json, what `cuprum exec-item` does) as the same
 * rules, nothing widened or narrowed; no crash, leak or UB.
 */
#include <jansson.h>
#include <stdbool.h>
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

static bool same_confine(const cu_confine *a, const cu_confine *b) {
  if (a->no_new_privs != b->no_new_privs ||
      (a->restrict_fs || a->n_paths > 0) != (b->restrict_fs || b->n_paths > 0) ||
      a->no_system_paths != b->no_system_paths ||
      a->restrict_connect != b->restrict_connect ||
      a->restrict_bind != b->restrict_bind || a->best_effort != b->best_effort ||
      a->n_paths != b->n_paths || a->n_connect != b->n_connect ||
      a->n_bind != b->n_bind)
    return false;
  for (size_t i = 0; i < a->n_paths; i++)
    if (strcmp(a->paths[i].path, b->paths[i].path) != 0 ||
        a->paths[i].access != b->paths[i].access)
      return false;
  return (a->n_connect == 0 ||
          memcmp(a->connect, b->connect, a->n_connect * sizeof *a->connect) ==
              0) &&
         (a->n_bind == 0 ||
          memcmp(a->bind, b->bind, a->n_bind * sizeof *a->bind) == 0);
}

/* The round trip of a loaded project's confinement through the form the
 * Slurm item carries it in. */
static void check_round_trip(const cu_confine *c) {
  const char *why = NULL;
  json_t *cj = catalogue_file_confine_json(c, &why);
  CHECK(cj != NULL && why == NULL); /* from a file: always expressible */
  json_t *doc = json_pack("{s:b, s:[{s:s, s:[], s:o}]}", "include_default", 0,
                          "projects", "name", "p", "programs", "confine", cj);
  CHECK(doc != NULL);
  cu_catalogue *again = NULL;
  CHECK(catalogue_file_load_json(doc, "round trip", &again) == 0);
  const cu_confine *d = cu_project_confine(cu_catalogue_project(again, "p"));
  CHECK(d != NULL && same_confine(c, d));
  cu_catalogue_unref(again);
  json_decref(doc);
}

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
  const char *checked = NULL;
  for (size_t i = 0; i < n && i < 64; i++) {
    cu_catalogue_entry e;
    CHECK(cu_catalogue_entry_at(cat, i, &e) == 0);
    CHECK(e.program && e.project && e.program[0]);
    CHECK(cu_catalogue_project(cat, e.project) != NULL);
    CHECK(cu_catalogue_contains(cat, CU_PROGRAM(e.program)));
    CHECK((e.path == NULL) == (e.resolve_error != 0));
    if (!checked || strcmp(checked, e.project) != 0) {
      const cu_confine *c =
          cu_project_confine(cu_catalogue_project(cat, e.project));
      if (c)
        check_round_trip(c);
      checked = e.project;
    }
  }
  cu_catalogue_unref(cat);
  return 0;
}
