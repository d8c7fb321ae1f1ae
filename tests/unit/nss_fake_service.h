/* A stand-in for eicd for tests/unit/test_nss.c: a thread of the test that listens on a UNIX
 * socket and answers EIC_REQ_RESOLVE (eic_proto.h) without IMDS. What it answers depends on the
 * name asked for:
 *   new*   -> adds the account to the cache of the configuration in EIC_CONFIG, answers 0
 *   down*  -> ETIMEDOUT (IMDS unreachable)
 *   local* -> EEXIST
 *   other  -> ENOENT
 * It counts the requests so the test can see the negative cache at work. The local account files
 * come from FAKE_PASSWD / FAKE_GROUP. */
#ifndef NSS_FAKE_SERVICE_H
#define NSS_FAKE_SERVICE_H

/* Listen on socket_path and serve in a thread of this process. 0 or an errno. */
int fake_service_start(const char *socket_path);
/* Stop serving and join the thread. */
void fake_service_stop(void);
/* Requests answered so far. */
unsigned int fake_service_calls(void);

#endif
