/*
 * cut-registry-tool: drives the schema registry client (converters/registry.h)
 * from scripts. One command from the arguments, or (no command) one command
 * per line on stdin, all on ONE client, so that a script can keep it open
 * across a registry restart and see its caches and its reconnection.
 *
 *   cut-registry-tool [--url URL] [--budget MS] [--timeout MS]
 *                     [--user NAME --password-env VAR] [COMMAND ARGS...]
 *   commands:
 *     register SUBJECT SCHEMA_FILE   -> OK <id> <ms>
 *     check SUBJECT SCHEMA_FILE      -> OK compatible <ms>
 *     get ID OUT_FILE                -> OK <bytes> <ms>   (the schema text into OUT_FILE)
 *     subject STRATEGY TOPIC RECORD key|value -> OK <subject> 0
 * Each command answers one line: "OK ..." or "ERR <STATUS> <ms> <message>".
 * --url defaults to $SCHEMA_REGISTRY_URL. The password is read from an
 * environment variable, never from the command line. Exit status (command
 * from the arguments): 0 OK, 3 ERETRY, 4 EINVAL, 5 another failure, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    if (f == NULL) {
        return NULL;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        char *grown = realloc(text, len + n + 1);
        if (grown == NULL) {
            free(text);
            fclose(f);
            return NULL;
        }
        text = grown;
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (text == NULL) {
        text = calloc(1, 1);
    } else {
        text[len] = '\0';
    }
    return text;
}

static int exit_code(int rc)
{
    switch (rc) {
    case CUT_OK:
        return 0;
    case CUT_ERETRY:
        return 3;
    case CUT_EINVAL:
        return 4;
    default:
        return 5;
    }
}

/* Runs one command; prints its one-line answer. */
static int run(struct cut_registry *reg, int argc, char **argv)
{
    struct cut_err err;
    char out[256] = "";
    char *text = NULL;
    int rc;
    long long t0 = now_ms();
    cut_err_clear(&err);
    if (argc == 3 && (strcmp(argv[0], "register") == 0 || strcmp(argv[0], "check") == 0)) {
        if ((text = slurp(argv[2])) == NULL) {
            printf("ERR EINVAL 0 cannot read %s\n", argv[2]);
            return CUT_EINVAL;
        }
        if (argv[0][0] == 'r') {
            int32_t id = -1;
            rc = cut_registry_register(reg, argv[1], text, &id, &err);
            snprintf(out, sizeof(out), "%ld", (long)id);
        } else {
            rc = cut_registry_check_compatible(reg, argv[1], text, &err);
            snprintf(out, sizeof(out), "compatible");
        }
    } else if (argc == 3 && strcmp(argv[0], "get") == 0) {
        rc = cut_registry_get_schema(reg, (int32_t)atol(argv[1]), &text, &err);
        if (rc == CUT_OK) {
            FILE *f = fopen(argv[2], "wb");
            if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
                printf("ERR EINVAL 0 cannot write %s\n", argv[2]);
                free(text);
                return CUT_EINVAL;
            }
            snprintf(out, sizeof(out), "%zu", strlen(text));
        }
    } else if (argc == 5 && strcmp(argv[0], "subject") == 0) {
        enum cut_subject_strategy strategy;
        char name[256];
        rc = cut_subject_strategy_parse(argv[1], &strategy);
        if (rc == CUT_OK &&
            cut_registry_subject(strategy, argv[2], argv[3], strcmp(argv[4], "key") == 0, name,
                                 sizeof(name)) == NULL) {
            rc = cut_err_set(&err, CUT_EINVAL, "no subject for these inputs");
        }
        snprintf(out, sizeof(out), "%s", rc == CUT_OK ? name : "");
    } else {
        printf("ERR EINVAL 0 unknown command or wrong arguments: %s\n", argc ? argv[0] : "");
        return CUT_EINVAL;
    }
    long long ms = now_ms() - t0;
    if (rc == CUT_OK) {
        printf("OK %s %lld\n", out, ms);
    } else {
        printf("ERR %s %lld %s\n", cut_status_name(rc), ms, err.msg);
    }
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},          {"budget", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'},      {"user", required_argument, NULL, 'U'},
        {"password-env", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0},
    };
    struct cut_registry_opts opts = {.url = getenv("SCHEMA_REGISTRY_URL")};
    struct cut_registry *reg = NULL;
    struct cut_err err;
    int c, rc = CUT_OK;
    while ((c = getopt_long(argc, argv, "+u:b:t:U:P:", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            opts.url = optarg;
            break;
        case 'b':
            opts.retry_budget_ms = atoi(optarg);
            break;
        case 't':
            opts.timeout_ms = atoi(optarg);
            break;
        case 'U':
            opts.username = optarg;
            break;
        case 'P':
            opts.password = getenv(optarg);
            break;
        default:
            return 2;
        }
    }
    if (opts.url == NULL) {
        fprintf(stderr, "cut-registry-tool: no --url and no SCHEMA_REGISTRY_URL\n");
        return 2;
    }
    if (cut_registry_create_opts(&reg, &opts, &err) != CUT_OK) {
        fprintf(stderr, "cut-registry-tool: %s\n", err.msg);
        return 2;
    }
    if (optind < argc) {
        rc = run(reg, argc - optind, argv + optind);
    } else {
        /* one command per line; the answer is flushed at once for a coprocess */
        char line[4096];
        setvbuf(stdout, NULL, _IOLBF, 0);
        while (fgets(line, sizeof(line), stdin)) {
            char *words[8];
            int n = 0;
            for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w && n < 8;
                 w = strtok_r(NULL, " \t\r\n", &save)) {
                words[n++] = w;
            }
            if (n == 0) {
                continue;
            }
            if (strcmp(words[0], "quit") == 0) {
                break;
            }
            run(reg, n, words);
        }
    }
    cut_registry_destroy(reg);
    return exit_code(rc);
}
