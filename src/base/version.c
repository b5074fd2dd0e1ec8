/* SPDX-License-Identifier: MIT */
#include "base/internal.h"
#include "cuprum/cuprum.h" /* cu_version, CUPRUM_VERSION_STRING */

const char *cu_version(void) { return CUPRUM_VERSION_STRING; }
