/* What spawn.c and confine.c share: the child's few safe ways to report and format. */
#ifndef HOOKBUS_SPAWN_INTERNAL_H
#define HOOKBUS_SPAWN_INTERNAL_H

#include "hookbus_spawn.h"

/* Exit statuses of a child that could not become the run (HookBus's Sandbox+Endings reads them
 * with the stderr line). */
#define HB_SETUP_FAILED 125
#define HB_CANNOT_START 127

/* Writes "hookbus: WHAT[ PATH]: REASON" to the child's stderr and exits with `status`.
 * Only system calls and static strings: the child still shares HookBus's memory. */
__attribute__((noreturn)) void hb_child_exit(int status, const char *what, const char *path, int error);

/* Confines the calling child as the request says (its confinement, run folder, working folder,
 * run uid and mount namespace). On failure it exits (HB_SETUP_FAILED) with the reason on its
 * stderr. */
void hb_confine(const struct hb_spawn_request *request);

/* Writes all of `text` to the file at `path` (a /proc id map, say). 0 or an errno value (EIO
 * for a short write). */
int hb_write_text(const char *path, const char *text);

/* The decimal digits of `value` into `buffer` (at least 24 bytes), NUL-terminated. */
void hb_decimal(unsigned long long value, char *buffer);

#endif
