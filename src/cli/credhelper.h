/* Docker's credential-helper protocol (docker/docker-credential-helpers):
 * the program docker-credential-<name> found on PATH, run once per action
 * with the action as its only argument, the request on its stdin and the
 * answer on its stdout; its stderr is the user's.
 *
 * The protocol's fourth action, `list`, is not spoken: docker's CLI runs it
 * only to send every credential with a classic build (X-Registry-Config of
 * `docker build` with DOCKER_BUILDKIT=0: `list`, then `get` for each), and
 * skiff has no build. */
#ifndef SKIFF_CLI_CREDHELPER_H
#define SKIFF_CLI_CREDHELPER_H

#include "common/error.h"

/* The username a helper stores beside an identity token instead of a
 * password (docker's tokenUsername). */
#define CREDHELPER_TOKEN_USERNAME "<token>"

struct credhelper_creds {
  char *username;
  char *secret;
};

/* Free what creds holds. */
void credhelper_creds_clear(struct credhelper_creds *creds);

/* server's credentials from helper `name`. Returns 1 with *creds filled
 * (the caller clears it), 0 when the helper has none ("credentials not
 * found in native keychain"), -1 with *err in docker's words ("error
 * getting credentials - err: exit status 1, out: `...`"). */
int credhelper_get(const char *name, const char *server, struct credhelper_creds *creds,
                   skiff_error_t **err);

/* Store username and secret for server in helper `name`. Returns 0, or -1
 * with *err ("error storing credentials - err: ..., out: `...`"). */
int credhelper_store(const char *name, const char *server, const char *username,
                     const char *secret, skiff_error_t **err);

/* Erase server's credentials from helper `name`. Returns 0, or -1 with
 * *err ("error erasing credentials - err: ..., out: `...`"). */
int credhelper_erase(const char *name, const char *server, skiff_error_t **err);

#endif
