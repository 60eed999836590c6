/* The daemon's event bus: every container and image action is published
 * here, kept in a bounded history, and streamed by GET /events. */
#ifndef SKIFF_DAEMON_EVENTS_H
#define SKIFF_DAEMON_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct event_bus;

struct event_bus *events_new(void);
void events_free(struct event_bus *bus);

/* Publish {Type, Action, Actor: {ID, Attributes}, scope: "local", time,
 * timeNano} (docker's shape; also the legacy status/id/from fields for
 * containers and images). attributes may be NULL; the reference is taken. */
void events_publish(struct event_bus *bus, const char *type, const char *action,
                    const char *id, json_t *attributes);

/* Events with since <= time (ns) < until (0: no bound), matching filters
 * (docker's filters JSON: type, event, container, image, label...), from
 * the history; then, when until is 0, block for new ones and call emit for
 * each until emit returns < 0. */
int events_stream(struct event_bus *bus, int64_t since_ns, int64_t until_ns,
                  json_t *filters, int (*emit)(json_t *event, void *arg), void *arg);

/* Like events_stream; while waiting for new events, idle(arg) is called
 * about once a second and a negative return ends the stream (a handler
 * uses it to notice that its client has gone). idle may be NULL. */
int events_stream_idle(struct event_bus *bus, int64_t since_ns, int64_t until_ns,
                       json_t *filters, int (*emit)(json_t *event, void *arg),
                       int (*idle)(void *arg), void *arg);

/* Wake every follower and end their streams (daemon shutdown). */
void events_close(struct event_bus *bus);

/* How many streams are following (NEventsListener in /info). */
unsigned events_listeners(struct event_bus *bus);

#endif
