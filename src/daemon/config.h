/* skiffd's configuration: the command line merged with daemon.json, the
 * way dockerd does it (docker's key names; a setting given both as a flag
 * and in the file is an error naming both values). */
#ifndef SKIFF_DAEMON_CONFIG_H
#define SKIFF_DAEMON_CONFIG_H

#include <stdbool.h>

#include "common/error.h"
#include "daemon.h"

#define CONFIG_DEFAULT_DATA_ROOT "/var/lib/skiff"
#define CONFIG_DEFAULT_EXEC_ROOT "/run/skiff"
#define CONFIG_DEFAULT_FILE "/etc/skiff/daemon.json"

/* TLS for tcp:// listeners: --tls / --tlsverify and the PEM files. */
struct config_tls {
  bool enabled; /* --tls, or implied by --tlsverify */
  bool verify;  /* --tlsverify: clients must present a certificate signed by cacert */
  char *cacert, *cert, *key;
};

/* What the daemon needs beyond struct daemon_config. */
struct config_options {
  char *config_file;
  bool insecure_tcp; /* --insecure-tcp: allow tcp:// without TLS */
  bool show_help, show_version;
  bool usage_error; /* the command line itself was wrong */
  struct config_tls tls;
};

/* Parse argv and the config file into cfg and opts, applying the defaults.
 * On error (unknown flag, malformed or conflicting daemon.json) *err names
 * the flag or the file and line; the caller frees with config_free either
 * way. When opts->show_help/show_version is set nothing else is filled. */
int config_load(int argc, char **argv, struct daemon_config *cfg,
                struct config_options *opts, skiff_error_t **err);

void config_free(struct daemon_config *cfg, struct config_options *opts);

/* The usage text of skiffd. */
const char *config_usage(void);

#endif
