/* ~/.docker/config.json's text as the docker CLI 28 writes it, so that a
 * login or logout by skiff leaves the file byte for byte as docker's would. */
#ifndef SKIFF_CLI_CONFIGFILE_H
#define SKIFF_CLI_CONFIGFILE_H

#include <jansson.h>

/* The text of doc as docker's configfile.SaveToWriter makes it:
 * json.MarshalIndent(ConfigFile, "", "\t") with no newline at the end. The
 * fields of docker's ConfigFile come in its struct's order and empty ones
 * are left out; maps have their keys sorted; a login's "auth" is made from
 * "username" and "password" when it has none, and those go; HttpHeaders
 * loses User-Agent; strings are escaped as Go escapes them ("<" is
 * "\u003c"). Unlike docker, keys it does not know are kept (after the
 * others, sorted) rather than dropped. New string, NULL when out of
 * memory. */
char *configfile_text(json_t *doc);

#endif
