/* Deleting removed containers' directories off the request's path. A
 * removal moves a directory into the trash (one rename, so the container's
 * files leave containers/ at once) and a thread of the trash deletes it;
 * `run --rm` answers about a millisecond sooner. What a crash left in the
 * trash is deleted when it is opened again. */
#ifndef SKIFF_DAEMON_TRASH_H
#define SKIFF_DAEMON_TRASH_H

#include "common/error.h"

struct trash;

/* The trash at dir (made if missing; it must be on the filesystem of what
 * is put in it), its thread started on what is already there. */
struct trash *trash_open(const char *dir, skiff_error_t **err);

/* Move path into the trash, to be deleted soon. -1 with *err when it cannot
 * be moved; path is then untouched. */
int trash_put(struct trash *t, const char *path, skiff_error_t **err);

/* Delete what is left and stop the thread. NULL is ignored. */
void trash_close(struct trash *t);

#endif
