/* Helpers of the system API that the daemon's main also needs. */
#ifndef SKIFF_DAEMON_API_SYSTEM_H
#define SKIFF_DAEMON_API_SYSTEM_H

/* The engine's ID (docker's "ID" in /info): a UUID made on first use and
 * kept in <data-root>/engine-id. New string; NULL when it cannot be read
 * or made. */
char *system_engine_id(const char *data_root);

#endif
