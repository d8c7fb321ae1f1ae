#include "akc_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "eic_log.h"

static const char *named(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

int akc_print_key(const char *user, const char *key, const char *fingerprint, const char *caller,
                  const char *request_id)
{
    if (printf("%s\n", key) < 0 || fflush(stdout) != 0) {
        eic_log(LOG_ERR, "cannot write key for %s: %s", user, strerror(errno));
        return EIO;
    }
    caller = named(caller);
    request_id = named(request_id);
    /* AWS's wording, so existing log filters keep working. */
    eic_log(LOG_INFO, "Providing ssh key from EC2 Instance Connect with fingerprint: %s%s%s%s%s", fingerprint,
            request_id ? ", request-id: " : "", request_id ? request_id : "", caller ? ", for IAM principal: " : "",
            caller ? caller : "");
    return 0;
}
