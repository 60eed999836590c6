/* The daemon's shared state, handed to every API handler. */
#ifndef SKIFF_DAEMON_DAEMON_H
#define SKIFF_DAEMON_DAEMON_H

#include <jansson.h>
#include <stdbool.h>

struct image_store;
struct container_store;
struct event_bus;
struct exec_store;
struct networks;

/* daemon.json (docker's key names) merged with the command line. */
struct daemon_config {
  char *data_root;  /* --data-root, "data-root"; default /var/lib/skiff */
  char *exec_root;  /* --exec-root, "exec-root"; default /run/skiff */
  char *pidfile;    /* --pidfile, "pidfile"; default <exec-root>/skiffd.pid */
  char **hosts;     /* -H, "hosts"; default unix://<exec-root>/skiff.sock */
  bool debug;       /* --debug, "debug" */
  char *log_driver; /* "log-driver": json-file (default) or none */
  json_t *log_opts; /* "log-opts": max-size, max-file */
  json_t *file;     /* the whole daemon.json, for keys read elsewhere */
};

struct daemon {
  struct daemon_config config;
  struct image_store *images;         /* src/image */
  struct container_store *containers; /* containers.c */
  struct event_bus *events;           /* events.c */
  struct exec_store *execs;           /* execs.c */
  struct networks *networks;          /* networks.c: bridge, host, none */
  const char *shim_path;              /* skiff-shim beside skiffd */
  int shim_fd; /* a sealed in-memory copy of it, which every shim runs from */
};

#endif
