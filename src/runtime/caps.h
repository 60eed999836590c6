/* process.capabilities (bounding, effective, inheritable, permitted,
 * ambient) through libcap. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_CAPS_H
#define SKIFF_RUNTIME_CAPS_H

#include <jansson.h>

#include "common/error.h"

struct caps_sets; /* opaque: the five sets as bitmasks */

/* Parse process.capabilities (NULL: every set empty, as the spec says for an
 * absent object). Names are "CAP_X"; an unknown name that this kernel or
 * libcap does not know gives a warning through *warnings (a new string or
 * NULL) and is ignored, as runc does; a non-string is an error naming the
 * field. */
int caps_parse(json_t *capabilities, struct caps_sets **out, char **warnings,
               skiff_error_t **err);
void caps_sets_free(struct caps_sets *sets);

/* Drop from the bounding set every capability not in sets->bounding. Needs
 * CAP_SETPCAP, so it runs before the user switch. */
int caps_apply_bounding(const struct caps_sets *sets, skiff_error_t **err);

/* After setuid/setgid (done with PR_SET_KEEPCAPS): set effective, permitted,
 * inheritable, then raise the ambient set. */
int caps_apply(const struct caps_sets *sets, skiff_error_t **err);

/* The names of every capability this host knows, for `features`. */
json_t *caps_known_names(void);

#endif
