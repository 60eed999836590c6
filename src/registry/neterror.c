/* Failures to reach a registry in Go's words, as dockerd's http.Transport
 * reports them inside `Get "URL": ...` ("dial tcp 127.0.0.1:5999: connect:
 * connection refused"), rather than curl's ("Failed to connect to 127.0.0.1
 * port 5999 after 0 ms: Couldn't connect to server"): the words users
 * search for, and the ones docker's documentation and issues answer.
 *
 * curl does not say which address it failed to reach; client.c records the
 * first address it dials for a connection, the one whose error Go reports
 * when every address of a name fails. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "libcurl.h"
#include "registry_internal.h"

/* Go's net.TCPAddr.String(): "192.0.2.1:80", "[::1]:80". */
static int go_tcp_addr(const struct sockaddr_storage *sa, char *out, size_t cap)
{
  char ip[INET6_ADDRSTRLEN];
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip) == NULL)
      return -1;
    return snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port)) < (int)cap ? 0 : -1;
  }
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip) == NULL)
      return -1;
    return snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port)) < (int)cap ? 0 : -1;
  }
  return -1;
}

/* Go's syscall.Errno text: glibc's, first letter in lower case (Go's
 * table was made from it). */
static void go_errno(int e, char *out, size_t cap)
{
  char buf[128];
  snprintf(out, cap, "%s", strerror_r(e, buf, sizeof buf));
  out[0] = (char)tolower((unsigned char)out[0]);
}

/* The first "nameserver" of /etc/resolv.conf as Go's resolver names it in
 * its errors ("10.0.0.2:53", "[fd00::1]:53"); "" when there is none. */
static void first_nameserver(char *out, size_t cap)
{
  cleanup_fclose FILE *f = fopen("/etc/resolv.conf", "re");
  char line[256], addr[128];
  unsigned char bin[16];
  out[0] = '\0';
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, " nameserver %127s", addr) != 1)
      continue;
    bool v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) == 1)
      snprintf(out, cap, v6 ? "[%s]:53" : "%s:53", addr);
    return;
  }
}

/* Go's pure resolver, which dockerd uses with a plain nsswitch.conf, for a
 * name no server knows: "lookup NAME on SERVER: no such host". Only when
 * the system's resolver says so too: other failures keep curl's words. */
static char *lookup_error(const char *host)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int r = getaddrinfo(host, NULL, &hints, &res);
  if (res)
    freeaddrinfo(res);
  if (r != EAI_NONAME && r != EAI_NODATA)
    return NULL;
  char server[160], *text = NULL;
  first_nameserver(server, sizeof server);
  if (asprintf(&text, "dial tcp: lookup %s%s%s: no such host", host,
               *server ? " on " : "", server) < 0)
    return NULL;
  return text;
}

char *registry_net_error(void *curl, int rc, const char *url,
                         const struct sockaddr_storage *dialed)
{
  char addr[INET6_ADDRSTRLEN + 16], why[128], *text = NULL;
  cleanup_free char *host = registry_url_host(url);
  bool have_addr = dialed && go_tcp_addr(dialed, addr, sizeof addr) == 0;
  curl_off_t connected = 0, tls_done = 0;
  long os_errno = 0;
  libcurl.curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
  libcurl.curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls_done);
  libcurl.curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST: return host ? lookup_error(host) : NULL;
  case CURLE_COULDNT_CONNECT:
    if (!have_addr || os_errno <= 0)
      return NULL;
    go_errno((int)os_errno, why, sizeof why);
    return asprintf(&text, "dial tcp %s: connect: %s", addr, why) < 0 ? NULL : text;
  case CURLE_OPERATION_TIMEDOUT:
    /* dockerd's dialer gives up after 30 s, its TLS handshake after 10 s */
    if (connected == 0 && have_addr)
      return asprintf(&text, "dial tcp %s: i/o timeout", addr) < 0 ? NULL : text;
    if (connected > 0 && tls_done == 0 && strncmp(url, "https://", 8) == 0)
      return strdup("net/http: TLS handshake timeout");
    return NULL;
  default: return NULL;
  }
}
