/*
 * A client of the Confluent Schema Registry REST API (libcurl + jansson):
 * register a schema under a subject, test a schema against the latest version
 * of a subject, fetch a schema by id, and the subject naming strategies.
 * The lab runs Apicurio Registry's Confluent-compatible API
 * (deploy/lab/registry/README.md); only what both implement is used.
 *
 * Errors. Every fallible function returns CUT_OK or a negative enum
 * cut_status and fills the caller's struct cut_err:
 *   - CUT_ERETRY: the registry could not be reached, timed out, or answered
 *     5xx, 408 or 429 on every attempt within the retry budget (the client
 *     retries with exponential backoff before giving up). Try again later.
 *   - CUT_EINVAL: the registry refused the request (any other 4xx, e.g. 409
 *     incompatible schema, 422 invalid schema, 404 unknown id, 401/403); err
 *     carries the HTTP status, the registry's error_code and its message. Also
 *     invalid arguments and a bad URL at create. Retrying is useless.
 *   - CUT_EFATAL: the registry answered something that is not this API: a
 *     body that is not the expected JSON, a response larger than the limit, a
 *     redirect, or a transport error that is not transient (TLS setup, ...).
 *     Retrying the same call is useless; the registry or its URL is wrong.
 *   - CUT_ENOMEM.
 * Nothing is logged except one debug line per retry; the caller logs once.
 *
 * Caches. register() remembers (subject, schema text) -> id, and
 * get_schema() remembers id -> schema text, so that a repeated call makes no
 * HTTP request. Schema texts are compared byte for byte (a hash only picks
 * the bucket). Failures are never cached. Each cache holds at most
 * CUT_REGISTRY_CACHE_MAX entries; beyond that new results are not cached.
 *
 * Secrets. The password (and any user:password@ in the URL) is never put in
 * an error message or a log line, nor returned; the client keeps no copy of
 * the password of its own (it is handed to libcurl at create).
 *
 * Thread safety: a client is NOT thread-safe. It owns one CURL easy handle
 * (one keep-alive connection) and its caches without locks: use one client
 * per flow thread, or guard a shared one with a mutex. Distinct clients may
 * be used from distinct threads at the same time. A call blocks its thread
 * for up to the retry budget (30 s by default) when the registry is down.
 * The process should ignore SIGPIPE (the bridge does), as with any socket
 * library; the client itself never installs signal handlers (CURLOPT_NOSIGNAL).
 */
#ifndef CUTOVER_REGISTRY_H
#define CUTOVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"

/** How a subject name is derived (Confluent's *SubjectNameStrategy). */
enum cut_subject_strategy {
    CUT_SUBJECT_TOPIC,        /**< "<topic>-key" / "<topic>-value" (Confluent's default) */
    CUT_SUBJECT_RECORD,       /**< "<record full name>", no suffix */
    CUT_SUBJECT_TOPIC_RECORD, /**< "<topic>-<record full name>", no suffix */
};

/** The most entries each cache keeps. */
#define CUT_REGISTRY_CACHE_MAX 4096

struct cut_registry;

/**
 * Options of cut_registry_create_opts(). Zero (or NULL) means the default for
 * every field, so `struct cut_registry_opts opts = {.url = u};` is valid.
 * All strings are borrowed for the duration of the call only (copied).
 */
struct cut_registry_opts {
    /** Base URL, e.g. "http://127.0.0.1:8081/apis/ccompat/v7"; http or https. Required. */
    const char *url;
    /** HTTP basic authentication user; NULL for none. */
    const char *username;
    /** Basic authentication password: a secret, never logged. NULL for none. */
    const char *password;
    /** CA bundle file for https; NULL for the system's. */
    const char *ca_file;
    /** Time limit of one HTTP request (connect included), ms; default 10000. */
    int timeout_ms;
    /**
     * Time one call may spend retrying (attempts and waits together), ms;
     * default 30000. Each attempt's time limit is cut to what is left, so a
     * call returns within about this time. Negative: a single attempt.
     */
    int retry_budget_ms;
    /** First wait between attempts, ms; doubles each time; default 100. */
    int backoff_initial_ms;
    /** Longest wait between attempts, ms; default 5000. */
    int backoff_max_ms;
    /** Largest response body accepted, bytes; default 1 MiB. */
    size_t max_response;
};

/**
 * Create a client of the registry at @p url with the default options.
 *
 * @param reg  receives the client (owned by the caller: cut_registry_destroy)
 * @param url  base URL of the Confluent API; borrowed (copied)
 * @return CUT_OK, CUT_EINVAL (bad URL), CUT_ENOMEM, CUT_EFATAL (libcurl setup).
 *         No request is made: an unreachable registry is found at first use.
 */
int cut_registry_create(struct cut_registry **reg, const char *url, struct cut_err *err);

/** As cut_registry_create() with options; @p opts is borrowed for the call only. */
int cut_registry_create_opts(struct cut_registry **reg, const struct cut_registry_opts *opts,
                             struct cut_err *err);

/** Destroy the client: closes its connection, frees its caches. Accepts NULL. */
void cut_registry_destroy(struct cut_registry *reg);

/**
 * Register an Avro schema under @p subject (POST /subjects/{subject}/versions)
 * and return its id. The ORIGINAL text is sent, byte for byte, so that
 * logicalType, default and doc survive; the registry returns the existing id
 * when the schema is already there. Cached: a second call with the same
 * subject and text makes no request.
 *
 * @param subject      borrowed; URL-encoded in the request
 * @param schema_text  borrowed; NUL-terminated UTF-8 JSON text of the schema
 * @param id           receives the schema id (>= 0)
 * @return CUT_OK, CUT_EINVAL (refused: 409 incompatible, 422 invalid, ...),
 *         CUT_ERETRY, CUT_EFATAL, CUT_ENOMEM. See the top of this file.
 */
int cut_registry_register(struct cut_registry *reg, const char *subject, const char *schema_text,
                          int32_t *id, struct cut_err *err);

/**
 * Test @p schema_text against the latest version of @p subject under the
 * registry's compatibility rule (POST /compatibility/subjects/{subject}/
 * versions/latest?verbose=true). Not cached.
 *
 * @return CUT_OK when compatible, or when the subject has no version yet;
 *         CUT_EINVAL when incompatible (err says why, with the registry's
 *         messages when it sends any: Confluent does with verbose=true,
 *         Apicurio 3.0 does not) or when the request is refused (422 ...);
 *         CUT_ERETRY unreachable / 5xx after the budget; CUT_EFATAL; CUT_ENOMEM.
 */
int cut_registry_check_compatible(struct cut_registry *reg, const char *subject,
                                  const char *schema_text, struct cut_err *err);

/**
 * Fetch the schema text of @p id (GET /schemas/ids/{id}). Cached.
 *
 * @param schema_text  receives a NUL-terminated copy, owned by the caller (free())
 * @return CUT_OK, CUT_EINVAL (unknown id: 404), CUT_ERETRY, CUT_EFATAL, CUT_ENOMEM.
 */
int cut_registry_get_schema(struct cut_registry *reg, int32_t id, char **schema_text,
                            struct cut_err *err);

/**
 * Compose the subject name of a record under a naming strategy, with
 * Confluent's rules: TOPIC gives "<topic>-key" or "<topic>-value"; RECORD
 * gives "<record_fullname>"; TOPIC_RECORD gives "<topic>-<record_fullname>"
 * (the last two have no -key/-value suffix).
 *
 * @param topic            needed for TOPIC and TOPIC_RECORD; borrowed
 * @param record_fullname  namespace.name, needed for RECORD and TOPIC_RECORD; borrowed
 * @param buf, len         where the name is written (NUL-terminated)
 * @return @p buf, or NULL when an input needed is NULL or empty, the
 *         strategy is unknown, or the name does not fit in @p len bytes.
 * Thread safety: reentrant.
 */
const char *cut_registry_subject(enum cut_subject_strategy strategy, const char *topic,
                                 const char *record_fullname, bool is_key, char *buf, size_t len);

/**
 * Parse a strategy name: "topic", "record" or "topic_record".
 * @return CUT_OK, or CUT_EINVAL for any other text (or NULL). Reentrant.
 */
int cut_subject_strategy_parse(const char *name, enum cut_subject_strategy *out);

/** Static name of a strategy ("topic", "record", "topic_record"), "?" when unknown. */
const char *cut_subject_strategy_name(enum cut_subject_strategy strategy);

#endif
