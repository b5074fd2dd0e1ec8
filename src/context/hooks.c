/* SPDX-License-Identifier: MIT */
/*
 * Hook handles: reference counting, detach, failure counting, and the
 * per-command hook lists. Scope registration lives in context.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "context/scope.h"

cu_hook *cu__hook_new(unsigned kinds, void *data) {
  cu_hook *hook = calloc(1, sizeof *hook);
  if (!hook)
    return NULL;
  atomic_init(&hook->refs, 1);
  atomic_init(&hook->detached, false);
  atomic_init(&hook->registered, false);
  atomic_init(&hook->failures, 0);
  hook->kinds = kinds;
  hook->data = data;
  return hook;
}

cu_hook *cu__hook_ref(cu_hook *hook) {
  atomic_fetch_add_explicit(&hook->refs, 1, memory_order_relaxed);
  return hook;
}

void cu__hook_unref(cu_hook *hook) {
  if (!hook)
    return;
  if (atomic_fetch_sub_explicit(&hook->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (hook->free_data)
    hook->free_data(hook->data);
  free(hook->name);
  free(hook);
}

static bool hook_live(const cu_hook *hook) {
  return !atomic_load_explicit(&hook->detached, memory_order_acquire);
}

static void count_failure(cu_hook *hook) {
  atomic_fetch_add_explicit(&hook->failures, 1, memory_order_relaxed);
}

int cu__hook_call_before(cu_hook *hook, const cu_cmd *cmd) {
  if (!(hook->kinds & CU__HOOK_BEFORE) || !hook_live(hook))
    return 0;
  int rc = hook->before(hook->data, cmd);
  if (rc != 0)
    count_failure(hook);
  return rc;
}

void cu__hook_call_after(cu_hook *hook, const cu_cmd *cmd,
                         const cu_result *result) {
  if (!(hook->kinds & CU__HOOK_AFTER) || !hook_live(hook))
    return;
  if (hook->after(hook->data, cmd, result) != 0)
    count_failure(hook);
}

static bool is_line_event(const cu_event *ev) {
  return ev->phase == CU_EV_STDOUT_LINE || ev->phase == CU_EV_STDERR_LINE;
}

void cu__hook_call_observe(cu_hook *hook, const cu_event *ev) {
  if (!(hook->kinds & CU__HOOK_OBSERVE) || !hook_live(hook))
    return;
  if (is_line_event(ev) && !(hook->flags & CU_OBSERVE_LINES))
    return;
  if (hook->observe(hook->data, ev) != 0)
    count_failure(hook);
}

void cu__hook_label(const cu_hook *hook, size_t index, char *buf, size_t len) {
  if (hook->name)
    snprintf(buf, len, "'%s'", hook->name);
  else
    snprintf(buf, len, "#%zu", index + 1);
}

/* ------------------------------------------------------------- lists */

int cu__hook_list_add(cu__hook_list *list, cu_hook *hook) {
  if (list->n == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 4;
    cu_hook **v = realloc(list->v, cap * sizeof *v);
    if (!v)
      return cu__fail(CU_ENOMEM, "out of memory registering a hook");
    list->v = v;
    list->cap = cap;
  }
  list->v[list->n++] = hook;
  return 0;
}

/* Remove one entry (the list's reference moves to the caller). */
bool cu__hook_list_remove(cu__hook_list *list, const cu_hook *hook) {
  for (size_t i = list->n; i-- > 0;) {
    if (list->v[i] != hook)
      continue;
    memmove(list->v + i, list->v + i + 1, (list->n - i - 1) * sizeof *list->v);
    list->n--;
    return true;
  }
  return false;
}

/* Drop every entry: the hooks are no longer registered anywhere. */
void cu__hook_list_clear(cu__hook_list *list) {
  for (size_t i = 0; i < list->n; i++) {
    atomic_store(&list->v[i]->registered, false);
    list->v[i]->frame = NULL;
    cu__hook_unref(list->v[i]);
  }
  free(list->v);
  *list = (cu__hook_list){0};
}

/* ------------------------------------------------------------- public */

bool cu_hook_attached(const cu_hook *hook) {
  return hook && hook_live(hook) && atomic_load(&hook->registered);
}

unsigned long cu_hook_failures(const cu_hook *hook) {
  return hook ? atomic_load(&hook->failures) : 0;
}

int cu_hook_set_name(cu_hook *hook, const char *name) {
  if (!hook || !name)
    return cu__fail(CU_EINVAL, "cu_hook_set_name: hook and name are required");
  char *copy = cu__strdup(name);
  if (!copy)
    return cu__fail(CU_ENOMEM, "out of memory naming a hook");
  free(hook->name);
  hook->name = copy;
  return 0;
}

cu_hook *cu_hook_unref(cu_hook *hook) {
  cu__hook_unref(hook);
  return NULL;
}

/* ------------------------------------------------------------- commands */

static int cmd_hook(cu_cmd *cmd, cu_hook *hook, cu_hook **ret) {
  if (!cmd->hooks) {
    cmd->hooks = calloc(1, sizeof *cmd->hooks);
    if (!cmd->hooks) {
      cu__hook_unref(hook);
      return cu__fail(CU_ENOMEM, "out of memory attaching a command hook");
    }
    cmd->hooks_free = cu__hooks_free;
  }
  int rc = cu__hook_list_add(&cmd->hooks->list, hook);
  if (rc != 0) {
    cu__hook_unref(hook);
    return rc;
  }
  atomic_store(&hook->registered, true);
  if (ret)
    *ret = cu__hook_ref(hook);
  return 0;
}

int cu_cmd_before_hook(cu_cmd *cmd, cu_before_fn fn, void *userdata,
                       cu_hook **ret) {
  if (!cmd || !fn)
    return cu__fail(CU_EINVAL, "cu_cmd_before_hook: command and function "
                               "are required");
  cu_hook *hook = cu__hook_new(CU__HOOK_BEFORE, userdata);
  if (!hook)
    return cu__fail(CU_ENOMEM, "out of memory attaching a command hook");
  hook->before = fn;
  return cmd_hook(cmd, hook, ret);
}

int cu_cmd_after_hook(cu_cmd *cmd, cu_after_fn fn, void *userdata,
                      cu_hook **ret) {
  if (!cmd || !fn)
    return cu__fail(CU_EINVAL, "cu_cmd_after_hook: command and function "
                               "are required");
  cu_hook *hook = cu__hook_new(CU__HOOK_AFTER, userdata);
  if (!hook)
    return cu__fail(CU_ENOMEM, "out of memory attaching a command hook");
  hook->after = fn;
  return cmd_hook(cmd, hook, ret);
}

void cu__hooks_free(struct cu__hooks *hooks) {
  if (!hooks)
    return;
  cu__hook_list_clear(&hooks->list);
  free(hooks);
}
