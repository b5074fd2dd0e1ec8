/* SPDX-License-Identifier: MIT */
#include "internal.h"

const char *cu_version(void) { return CUPRUM_VERSION_STRING; }
