/* SPDX-License-Identifier: MIT */
#include "base/internal.h"

const char *cu_version(void) { return CUPRUM_VERSION_STRING; }
