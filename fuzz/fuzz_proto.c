/* eicd's request parser (lib/base/eic_proto.c), the first thing of eicd any local user reaches: any
 * bytes are either refused (EBADMSG, EMSGSIZE) or decode into fields that encode back to exactly
 * the same message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eic_proto.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eic_proto_msg msg;
    uint8_t *again = NULL;
    size_t again_len = 0;
    size_t total = 0;
    int ret;

    if (size >= EIC_PROTO_HEADER_LEN) {
        ret = eic_proto_check_header(data, EIC_PROTO_REQUEST_MAX, &total);
        FUZZ_CHECK(ret == 0 || ret == EBADMSG || ret == EMSGSIZE);
        FUZZ_CHECK(ret != 0 || (total >= EIC_PROTO_HEADER_LEN && total <= EIC_PROTO_REQUEST_MAX));
    }
    ret = eic_proto_decode(data, size, EIC_PROTO_FIELDS_MAX, &msg);
    FUZZ_CHECK(ret == 0 || ret == EBADMSG);
    if (ret != 0) {
        FUZZ_CHECK(msg.n_fields == 0 && msg.fields == NULL);
        return 0;
    }
    FUZZ_CHECK(eic_proto_encode(msg.code, (const char *const *)msg.fields, msg.n_fields, SIZE_MAX, &again,
                                &again_len) == 0);
    FUZZ_CHECK(again_len == size && memcmp(again, data, size) == 0);
    free(again);
    eic_proto_msg_free(&msg);
    return 0;
}
