/* Writes real account cache files for fuzz_cache's corpus with eic_cache_add_users (the only
 * writer): make_cache_seed DIR N writes DIR/accounts.db holding N accounts with groups. Used by
 * fuzz/make-corpus.sh; local accounts come from an empty passwd/group pair in DIR. */
#include <stdio.h>
#include <stdlib.h>

#include "eic_cache_writer.h"

int main(int argc, char **argv)
{
    static const char *const groups[] = {"developers", "admins", "wheel"};
    char passwd[512];
    char group[512];
    struct eic_cache_range range = {.min = 200000, .max = 299999};
    int n;

    if (argc != 3 || (n = atoi(argv[2])) < 1 || n > 100) {
        fprintf(stderr, "usage: make_cache_seed DIR N (1..100)\n");
        return 2;
    }
    snprintf(passwd, sizeof(passwd), "%s/passwd", argv[1]);
    snprintf(group, sizeof(group), "%s/group", argv[1]);
    if (fclose(fopen(passwd, "w")) != 0 || fclose(fopen(group, "w")) != 0) {
        return 1;
    }
    range.passwd_file = passwd;
    range.group_file = group;
    for (int i = 0; i < n; i++) {
        char name[32];
        char arn[128];
        struct eic_cache_new_user u = {name, arn, groups, (size_t)(i % 4), "/home", "/bin/bash", false};
        uid_t uid;

        snprintf(name, sizeof(name), "user%d", i);
        snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/user%d", i);
        if (eic_cache_add_user(argv[1], &range, &u, &uid) != 0) {
            return 1;
        }
    }
    return 0;
}
