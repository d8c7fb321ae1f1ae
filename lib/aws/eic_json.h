/* JSON helpers over json-c with the limits untrusted input needs. */
#ifndef EIC_JSON_H
#define EIC_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#define EIC_JSON_MAX_DEPTH 16

/* Parse exactly one JSON value from buf[0..len) (trailing whitespace allowed, anything else
 * after the value is an error). Returns 0 with *out set (caller json_object_put()s it),
 * EBADMSG for malformed input, EMSGSIZE when len exceeds max_len. */
int eic_json_parse(const char *buf, size_t len, size_t max_len, json_object **out);
/* The string member key of object obj, or NULL when absent or not a string. */
const char *eic_json_get_string(json_object *obj, const char *key);

#endif
