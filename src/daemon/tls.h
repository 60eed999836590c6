/* Client certificates for --tlsverify. libmicrohttpd asks TLS clients for a
 * certificate when given a CA (MHD_OPTION_HTTPS_MEM_TRUST) but, by its own
 * documentation, leaves checking it to the application. */
#ifndef SKIFF_DAEMON_TLS_H
#define SKIFF_DAEMON_TLS_H

#include <microhttpd.h>
#include <stdbool.h>

/* True when the client of conn presented a certificate that verifies
 * against the CA. Otherwise false and *why (new string, may be NULL) says
 * what is wrong. */
bool tls_client_verified(struct MHD_Connection *conn, char **why);

#endif
