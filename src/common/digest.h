/* SHA-256 digests as images and registries write them: "sha256:" and 64
 * lowercase hex digits. Nettle's SHA-256 (it uses the CPU's SHA
 * instructions); skiffd has nettle mapped anyway, through GnuTLS. */
#ifndef SKIFF_COMMON_DIGEST_H
#define SKIFF_COMMON_DIGEST_H

#include <nettle/sha2.h>
#include <stddef.h>

#define SHA256_TEXT_LEN 72 /* "sha256:" + 64 hex digits + NUL */

/* Finish ctx (sha256_init'ed, sha256_update'd) into "sha256:<hex>". */
void sha256_finish_text(struct sha256_ctx *ctx, char out[SHA256_TEXT_LEN]);

/* The digest of len bytes at data, as text. */
void sha256_text_of(const void *data, size_t len, char out[SHA256_TEXT_LEN]);

#endif
