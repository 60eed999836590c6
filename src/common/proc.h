/* Process helpers: identity of a process across PID reuse, signals by name. */
#ifndef SKIFF_COMMON_PROC_H
#define SKIFF_COMMON_PROC_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), or 0 when the process does not exist. Stored beside a
 * PID, it tells a live process from a later one that reuses the number. */
uint64_t proc_start_time(pid_t pid);

/* The state letter of pid (R, S, D, Z, T, ...) or 0 when it does not exist. */
char proc_state(pid_t pid);

/* Parse a signal as a number or a name with or without "SIG" ("KILL",
 * "SIGTERM", "9", "RTMIN+3"). Returns the number, or -1. */
int proc_parse_signal(const char *text);

/* Initialise attr for posix_spawn so that the child starts with no signal
 * blocked and every signal at its default action, whatever the caller
 * blocked or ignored (the daemon blocks its stop signals, the CLI may
 * ignore SIGPIPE). The caller destroys attr. */
void proc_spawnattr_init_clean(posix_spawnattr_t *attr);

#endif
