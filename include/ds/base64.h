/*
 * Base64 (RFC 4648, section 4, with padding): the report's data: URIs and
 * the mail's MIME parts.
 */
#ifndef DS_BASE64_H
#define DS_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64_encode writes for n bytes, without line breaks or NUL. */
size_t base64_len(size_t n);

/*
 * Encodes buf[0..n) into out, which has room for base64_len(n) + 1 bytes
 * (NUL terminated).  line > 0 breaks lines after line characters with
 * "\r\n" (MIME: 76); out then needs base64_len(n) + 2 * (base64_len(n) / line) + 1.
 * Returns the characters written, without the NUL.
 */
size_t base64_encode(const uint8_t *buf, size_t n, size_t line, char *out);

/*
 * Decodes s[0..len), skipping whitespace, into an owned buffer of *n bytes
 * (for tests and the spool).  Returns NULL if s is not base64.
 */
uint8_t *base64_decode(const char *s, size_t len, size_t *n);

#endif
