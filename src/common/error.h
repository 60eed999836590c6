/* One error type carried up through every layer, in the manner of crun's
 * libcrun_error_t: a fallible function fills *err and returns < 0 (or NULL);
 * callers add context on the way up; one place reports it. */
#ifndef SKIFF_COMMON_ERROR_H
#define SKIFF_COMMON_ERROR_H

#include <stdarg.h>

typedef struct skiff_error {
  int status; /* errno of the root cause, 0 when there is none */
  char *msg;  /* the whole message, with context prepended */
} skiff_error_t;

/* Set *err to a new error (appending strerror(errnum) when errnum != 0).
 * Returns -1 so that `return skiff_error_set(...)` reads naturally. A NULL
 * err is allowed: the error is then dropped. */
int skiff_error_set(skiff_error_t **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error in what the user gave (status EINVAL, no strerror appended):
 * the message alone must say what is wrong. Returns -1. */
int skiff_error_invalid(skiff_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An error whose message is complete as written (no strerror appended)
 * but whose status still classifies it (ENOENT → 404, EEXIST → 409 ...):
 * for messages that must read exactly like docker's. Returns -1. */
int skiff_error_status(skiff_error_t **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like skiff_error_set with errno as the cause. */
#define skiff_error_errno(err, ...) skiff_error_set((err), errno, __VA_ARGS__)

/* Prepend "context: " to an existing *err. Returns -1. */
int skiff_error_wrap(skiff_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free an error and set *err to NULL. */
void skiff_error_free(skiff_error_t **err);

/* The status to exit with for an error: 1, as runc does. */
int skiff_error_exit_code(const skiff_error_t *err);

#endif
