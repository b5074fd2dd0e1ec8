/* SPDX-License-Identifier: MIT */
/* `cuprum exec-item`'s item decoder (the static decode_item() of
 * tools/cmd_exec_item.c), nothing run. */
#include "../tools/cmd_exec_item.c"

#include "seams.h"

int fuzz_exec_item_decode(const char *text, size_t len) {
  json_error_t err;
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!o)
    return CLI_EXIT_FAILURE;
  exec_item it = {0};
  int status = decode_item(o, &it);
  if (status == 0) {
    /* What run_item() relies on. */
    if (!it.program || !it.path || it.path[0] != '/' || it.argc < 1 ||
        !it.argv || it.argv[it.argc] != NULL ||
        strcmp(it.argv[0], it.program) != 0 || it.timeout_ms < 0 ||
        it.grace_ms < -1 || (it.confine && !json_is_object(it.confine)))
      abort();
    /* A version-2 item with only the keys it knows. */
    if (json_integer_value(json_object_get(o, "v")) != 2)
      abort();
    const char *key;
    json_t *value;
    json_object_foreach(o, key, value) {
      (void)value;
      if (strcmp(key, "v") && strcmp(key, "program") && strcmp(key, "path") &&
          strcmp(key, "argv") && strcmp(key, "timeout_ms") &&
          strcmp(key, "max_output") && strcmp(key, "grace_ms") &&
          strcmp(key, "confine"))
        abort();
    }
    for (size_t i = 0; i < it.argc; i++)
      if (!it.argv[i])
        abort();
  }
  free(it.argv);
  json_decref(o);
  return status;
}
