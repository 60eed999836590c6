#include "digest.h"

#include <string.h>

void sha256_finish_text(struct sha256_ctx *ctx, char out[SHA256_TEXT_LEN])
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_SIZE];
  sha256_digest(ctx, sizeof md, md);
  memcpy(out, "sha256:", 7);
  for (size_t i = 0; i < sizeof md; i++) {
    out[7 + 2 * i] = digits[md[i] >> 4];
    out[8 + 2 * i] = digits[md[i] & 15];
  }
  out[SHA256_TEXT_LEN - 1] = '\0';
}

void sha256_text_of(const void *data, size_t len, char out[SHA256_TEXT_LEN])
{
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, len, data);
  sha256_finish_text(&ctx, out);
}
