#include "eic_json.h"

#include <errno.h>
#include <limits.h>

int eic_json_parse(const char *buf, size_t len, size_t max_len, json_object **out)
{
    json_tokener *tok;
    json_object *obj;
    size_t used;
    int ret;

    *out = NULL;
    if (len > max_len || len > INT_MAX) {
        return EMSGSIZE;
    }
    tok = json_tokener_new_ex(EIC_JSON_MAX_DEPTH);
    if (tok == NULL) {
        return ENOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        /* json_tokener_continue (truncated input) is an error here too. */
        json_object_put(obj);
        ret = EBADMSG;
        goto done;
    }
    used = json_tokener_get_parse_end(tok);
    for (size_t i = used; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') {
            json_object_put(obj);
            ret = EBADMSG;
            goto done;
        }
    }
    *out = obj;
    ret = 0;
done:
    json_tokener_free(tok);
    return ret;
}

const char *eic_json_get_string(json_object *obj, const char *key)
{
    json_object *member;

    if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &member) || !json_object_is_type(member, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(member);
}
