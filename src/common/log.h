/* Diagnostics for the programs (never called by library code to report a
 * failure -- failures travel as skiff_error_t). runc-compatible output: with
 * --log FILE and --log-format json each line is {"level","msg","time"}, which
 * containerd's shim reads back when a runtime command fails. */
#ifndef SKIFF_COMMON_LOG_H
#define SKIFF_COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Direct output to path (NULL: stderr), as JSON lines or logfmt text.
 * Returns -1 when the file cannot be opened (output then stays on stderr). */
int log_open(const char *path, bool json, bool debug);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* True when a log file was given (so errors go there as well as stderr). */
bool log_to_file(void);

#endif
