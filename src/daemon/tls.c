/* Verification of TLS client certificates (see tls.h).
 *
 * The GnuTLS calls are looked up at run time: libmicrohttpd is linked
 * against GnuTLS (Debian builds it so), which loads it into skiffd, but the
 * top-level meson.build does not link skiffd against GnuTLS itself.
 * TODO(lead): add dependency('gnutls') to skiffd and call these directly. */
#include "tls.h"

#include <dlfcn.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>

typedef __typeof__(gnutls_certificate_get_peers) get_peers_fn;
typedef __typeof__(gnutls_certificate_verify_peers2) verify_peers_fn;

static char *why_text(const char *what, unsigned status)
{
  char *text = NULL;
  int n = status ? asprintf(&text, "%s (GnuTLS verify status 0x%x)", what, status)
                 : asprintf(&text, "%s", what);
  return n < 0 ? NULL : text;
}

bool tls_client_verified(struct MHD_Connection *conn, char **why)
{
  *why = NULL;
  get_peers_fn *get_peers =
      (get_peers_fn *)dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
  verify_peers_fn *verify =
      (verify_peers_fn *)dlsym(RTLD_DEFAULT, "gnutls_certificate_verify_peers2");
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (get_peers == NULL || verify == NULL || info == NULL ||
      info->tls_session == NULL) {
    *why = why_text("cannot verify the client certificate", 0);
    return false;
  }
  gnutls_session_t session = info->tls_session;
  unsigned count = 0;
  if (get_peers(session, &count) == NULL || count == 0) {
    *why = why_text("a client certificate is required (--tlsverify)", 0);
    return false;
  }
  unsigned status = 0;
  if (verify(session, &status) < 0 || status != 0) {
    *why = why_text("the client certificate is not signed by the daemon's CA", status);
    return false;
  }
  return true;
}
