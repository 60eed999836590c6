/* The listening side of the HTTP layer, for main.c: one server per -H
 * socket, each running libmicrohttpd with a thread per connection. */
#ifndef SKIFF_DAEMON_HTTP_SERVER_H
#define SKIFF_DAEMON_HTTP_SERVER_H

#include "common/error.h"

struct daemon;
struct http_server;

/* TLS material in PEM (NUL-terminated). ca NULL: clients are not asked for
 * certificates (--tls); else they must present one it signed (--tlsverify). */
struct http_tls_pem {
  const char *cert, *key, *ca;
};

/* Serve the API on listen_fd (a listening socket, which the server then
 * owns), with TLS when tls is not NULL. NULL on error. */
struct http_server *http_server_start(struct daemon *d, int listen_fd,
                                      const struct http_tls_pem *tls,
                                      skiff_error_t **err);

/* Stop accepting connections (those open go on) and close the socket. */
void http_server_quiesce(struct http_server *server);

/* Close every connection and free the server. Blocks until connection
 * threads end: hijacked connections end when their handlers return. */
void http_server_stop(struct http_server *server);

/* How many API handlers are running now (in all servers). */
unsigned http_handlers_running(void);

#endif
