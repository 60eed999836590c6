/* skiff-oci's command line: global options and one function per command.
 * Each command returns the process exit status and reports its own errors
 * through *err (main prints them). */
#ifndef SKIFF_OCI_OCI_H
#define SKIFF_OCI_OCI_H

#include <stdbool.h>

#include "common/error.h"

struct oci_globals {
  const char *root;
  bool systemd_cgroup;
};

typedef int (*oci_command_fn)(const struct oci_globals *g, int argc, char **argv,
                              skiff_error_t **err);

struct oci_command {
  const char *name;
  oci_command_fn run;
  const char *usage; /* "[options] <container-id>" */
  const char *summary;
  bool enters_container; /* runs a process of ours inside the container */
};

/* The command table (NULL-terminated by a zero entry). */
extern const struct oci_command oci_commands[];

/* Print a command's help (its usage line and options). */
void oci_print_command_help(const struct oci_command *cmd);

#endif
