/*
 * Confluent Schema Registry client: one CURL easy handle per client (so one
 * keep-alive connection), jansson for the JSON, two small caches. See
 * registry.h for the contract; the comments here say why.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cutover/log.h"
#include "registry.h"

#define REG_LOG                "registry"
#define REG_BUCKETS            256
#define REG_TIMEOUT_MS         10000
#define REG_BUDGET_MS          30000
#define REG_BACKOFF_INITIAL_MS 100
#define REG_BACKOFF_MAX_MS     5000
#define REG_MAX_RESPONSE       (1024 * 1024)
/* An attempt with less time than this left is not worth starting. */
#define REG_MIN_ATTEMPT_MS 50
#define REG_CONTENT_TYPE   "application/vnd.schemaregistry.v1+json"

/* One cached result: (subject, text) -> id, or id -> text (subject NULL). */
struct reg_entry {
    struct reg_entry *next;
    uint64_t hash;
    char *subject;
    char *text;
    int32_t id;
};

struct reg_cache {
    struct reg_entry *buckets[REG_BUCKETS];
    size_t n;
};

struct cut_registry {
    CURL *curl;
    struct curl_slist *headers;
    char *base;  /* the URL as given (it may hold user:password), no trailing '/' */
    char *shown; /* the URL without user:password: the only form put in messages */
    int timeout_ms, budget_ms, backoff_initial_ms, backoff_max_ms;
    size_t max_response;
    uint64_t rng;
    struct reg_cache by_subject; /* register(): (subject, text) -> id */
    struct reg_cache by_id;      /* get_schema(): id -> text */
    /* body of the current response */
    char *body;
    size_t len, cap;
    bool too_big, nomem;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- caches ---- */

static uint64_t reg_fnv1a(uint64_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

static uint64_t reg_hash_subject(const char *subject, const char *text)
{
    /* the NUL between the two keeps ("ab", "c") and ("a", "bc") apart */
    uint64_t hash = reg_fnv1a(0xcbf29ce484222325ULL, subject, strlen(subject) + 1);
    return reg_fnv1a(hash, text, strlen(text));
}

static uint64_t reg_hash_id(int32_t id)
{
    return reg_fnv1a(0xcbf29ce484222325ULL, &id, sizeof(id));
}

/* Returns the entry for the key (subject NULL: an id lookup), or NULL. */
static const struct reg_entry *reg_cache_find(const struct reg_cache *cache, uint64_t hash,
                                              const char *subject, const char *text, int32_t id)
{
    for (const struct reg_entry *e = cache->buckets[hash % REG_BUCKETS]; e; e = e->next) {
        if (e->hash != hash) {
            continue;
        }
        /* full comparison: a hash collision must never hand out a wrong id */
        if (subject == NULL ? e->id == id
                            : strcmp(e->subject, subject) == 0 && strcmp(e->text, text) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Best effort: a result that cannot be cached (full, no memory) is simply not. */
static void reg_cache_add(struct reg_cache *cache, uint64_t hash, const char *subject,
                          const char *text, int32_t id)
{
    if (cache->n >= CUT_REGISTRY_CACHE_MAX) {
        return;
    }
    struct reg_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return;
    }
    e->hash = hash;
    e->id = id;
    e->text = strdup(text);
    e->subject = subject ? strdup(subject) : NULL;
    if (e->text == NULL || (subject && e->subject == NULL)) {
        free(e->text);
        free(e->subject);
        free(e);
        return;
    }
    e->next = cache->buckets[hash % REG_BUCKETS];
    cache->buckets[hash % REG_BUCKETS] = e;
    cache->n++;
}

static void reg_cache_fini(struct reg_cache *cache)
{
    for (size_t i = 0; i < REG_BUCKETS; i++) {
        struct reg_entry *e = cache->buckets[i];
        while (e) {
            struct reg_entry *next = e->next;
            free(e->subject);
            free(e->text);
            free(e);
            e = next;
        }
        cache->buckets[i] = NULL;
    }
    cache->n = 0;
}

/* ---- time and backoff ---- */

static int64_t reg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reg_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * Wait before attempt number @p attempt + 1: exponential, capped, with
 * jitter in [d/2, d] so that the flows of one bridge do not retry in step.
 */
static int64_t reg_backoff_ms(struct cut_registry *reg, int attempt)
{
    int64_t delay = reg->backoff_initial_ms;
    for (int i = 1; i < attempt && delay < reg->backoff_max_ms; i++) {
        delay *= 2;
    }
    if (delay > reg->backoff_max_ms) {
        delay = reg->backoff_max_ms;
    }
    reg->rng ^= reg->rng << 13;
    reg->rng ^= reg->rng >> 7;
    reg->rng ^= reg->rng << 17;
    int64_t half = delay / 2;
    return half + (half > 0 ? (int64_t)(reg->rng % (uint64_t)(half + 1)) : 0);
}

/* ---- HTTP ---- */

static size_t reg_on_data(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct cut_registry *reg = opaque;
    size_t n = size * nmemb;
    if (n > reg->max_response - reg->len) {
        reg->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (reg->len + n + 1 > reg->cap) {
        size_t cap = reg->cap;
        while (cap < reg->len + n + 1) {
            cap *= 2;
        }
        char *body = realloc(reg->body, cap);
        if (body == NULL) {
            reg->nomem = true;
            return 0;
        }
        reg->body = body;
        reg->cap = cap;
    }
    memcpy(reg->body + reg->len, ptr, n);
    reg->len += n;
    reg->body[reg->len] = '\0';
    return n;
}

/* Transport failures worth another attempt: the registry is down, restarting or slow. */
static bool reg_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

/* Answers that mean "not now": the registry is overloaded, restarting, or its storage is. */
static bool reg_retriable_status(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/*
 * One HTTP exchange. CUT_OK: an answer arrived (*status, reg->body);
 * CUT_ERETRY: a transient transport failure; else a final status. @p why
 * receives the reason of a failure.
 */
static int reg_attempt(struct cut_registry *reg, const char *url, const char *payload,
                       int64_t timeout_ms, long *status, char *why, size_t why_len)
{
    CURL *curl = reg->curl;
    reg->len = 0;
    reg->too_big = reg->nomem = false;
    reg->errbuf[0] = '\0';
    *status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (payload) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (reg->nomem || cc == CURLE_OUT_OF_MEMORY) {
        snprintf(why, why_len, "out of memory");
        return CUT_ENOMEM;
    }
    if (reg->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, why_len, "HTTP %ld with a body larger than %zu bytes", *status,
                 reg->max_response);
        /* a 5xx page is still "not now"; an oversized answer to a request is not */
        return reg_retriable_status(*status) ? CUT_ERETRY : CUT_EFATAL;
    }
    if (cc != CURLE_OK) {
        snprintf(why, why_len, "%s", reg->errbuf[0] ? reg->errbuf : curl_easy_strerror(cc));
        return reg_transient(cc) ? CUT_ERETRY : CUT_EFATAL;
    }
    reg->body[reg->len] = '\0';
    return CUT_OK;
}

/* The start of a body, printable, for a message. */
static void reg_snippet(const struct cut_registry *reg, char *out, size_t out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < reg->len && n + 1 < out_len && i < 200; i++) {
        unsigned char c = (unsigned char)reg->body[i];
        out[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[n] = '\0';
}

/*
 * A request with retries within the budget. CUT_OK: a final answer (not
 * 5xx/408/429) is in *status and reg->body; anything else is already in @p err.
 */
static int reg_request(struct cut_registry *reg, const char *path, const char *payload,
                       long *status, struct cut_err *err)
{
    const char *method = payload ? "POST" : "GET";
    char why[CURL_ERROR_SIZE + 64] = "";
    char *url = NULL;
    int rc, attempt = 0;
    if (asprintf(&url, "%s%s", reg->base, path) < 0) {
        return cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
    }
    int64_t start = reg_now_ms();
    int64_t deadline = start + (reg->budget_ms > 0 ? reg->budget_ms : 0);
    for (;;) {
        int64_t timeout = reg->timeout_ms;
        attempt++;
        if (reg->budget_ms >= 0) {
            int64_t left = deadline - reg_now_ms();
            if (left < timeout) {
                timeout = left > REG_MIN_ATTEMPT_MS ? left : REG_MIN_ATTEMPT_MS;
            }
        }
        rc = reg_attempt(reg, url, payload, timeout, status, why, sizeof(why));
        if (rc == CUT_OK) {
            if (!reg_retriable_status(*status)) {
                goto out;
            }
            char snip[208];
            reg_snippet(reg, snip, sizeof(snip));
            snprintf(why, sizeof(why), "HTTP %ld: %s", *status, snip);
        } else if (rc != CUT_ERETRY) {
            cut_err_set(err, rc, "registry %s: %s %s: %s", reg->shown, method, path, why);
            goto out;
        }
        if (reg->budget_ms < 0) {
            break;
        }
        int64_t left = deadline - reg_now_ms();
        if (left < REG_MIN_ATTEMPT_MS) {
            break;
        }
        int64_t delay = reg_backoff_ms(reg, attempt);
        if (delay > left - REG_MIN_ATTEMPT_MS) {
            delay = left - REG_MIN_ATTEMPT_MS;
        }
        cut_log_debug(REG_LOG, "%s %s%s: %s; attempt %d, retrying in %lld ms", method, reg->shown,
                      path, why, attempt, (long long)delay);
        reg_sleep_ms(delay);
    }
    rc = cut_err_set(err, CUT_ERETRY, "registry %s unavailable: %s %s: %s (%d attempts in %.1f s)",
                     reg->shown, method, path, why, attempt,
                     (double)(reg_now_ms() - start) / 1000.0);
out:
    free(url);
    return rc;
}

/* The body as a JSON object, or NULL. */
static json_t *reg_json(const struct cut_registry *reg)
{
    json_t *root = json_loadb(reg->body, reg->len, JSON_REJECT_DUPLICATES, NULL);
    if (root && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* A 2xx body that is not what the API promises: the registry or the URL is wrong. */
static int reg_bad_answer(const struct cut_registry *reg, const char *what, const char *path,
                          long status, struct cut_err *err)
{
    char snip[208];
    reg_snippet(reg, snip, sizeof(snip));
    return cut_err_set(err, CUT_EFATAL, "registry %s: %s: HTTP %ld without %s: %s", reg->shown,
                       path, status, what, snip);
}

/*
 * The answer to a request that did not succeed (3xx, 4xx): 4xx is the
 * registry refusing (CUT_EINVAL, with its error_code and message), 3xx means
 * the URL points at something else.
 */
static int reg_refused(const struct cut_registry *reg, const char *method, const char *path,
                       long status, struct cut_err *err)
{
    if (status < 400) {
        return cut_err_set(err, CUT_EFATAL, "registry %s: %s %s: unexpected HTTP %ld", reg->shown,
                           method, path, status);
    }
    json_t *root = reg_json(reg);
    json_t *code = root ? json_object_get(root, "error_code") : NULL;
    json_t *msg = root ? json_object_get(root, "message") : NULL;
    int rc;
    if (json_is_string(msg)) {
        rc = cut_err_set(err, CUT_EINVAL, "registry refused %s %s: HTTP %ld, error_code %lld: %s",
                         method, path, status,
                         json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
                         json_string_value(msg));
    } else {
        char snip[208];
        reg_snippet(reg, snip, sizeof(snip));
        rc = cut_err_set(err, CUT_EINVAL, "registry refused %s %s: HTTP %ld: %s", method, path,
                         status, snip);
    }
    json_decref(root);
    return rc;
}

/* "/subjects/<subject, URL-encoded><suffix>" etc.; NULL when out of memory. */
static char *reg_subject_path(struct cut_registry *reg, const char *prefix, const char *subject,
                              const char *suffix)
{
    char *enc = curl_easy_escape(reg->curl, subject, 0);
    char *path = NULL;
    if (enc && asprintf(&path, "%s%s%s", prefix, enc, suffix) < 0) {
        path = NULL;
    }
    curl_free(enc);
    return path;
}

/* The request body {"schema": "<text>", "schemaType": "AVRO"}. */
static int reg_schema_payload(const char *schema_text, char **payload, struct cut_err *err)
{
    json_t *text = json_string(schema_text);
    if (text == NULL) {
        return cut_err_set(err, CUT_EINVAL, "registry: the schema text is not valid UTF-8");
    }
    json_t *root = json_pack("{s:o, s:s}", "schema", text, "schemaType", "AVRO");
    *payload = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (*payload == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
    }
    return CUT_OK;
}

/* ---- create / destroy ---- */

static pthread_once_t reg_curl_once = PTHREAD_ONCE_INIT;
static CURLcode reg_curl_init_rc;

static void reg_curl_init(void)
{
    reg_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Checks the URL and derives the form shown in messages (no user:password). */
static int reg_parse_url(struct cut_registry *reg, const char *url, struct cut_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *query = NULL, *shown = NULL;
    int rc = CUT_OK;
    if (u == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
    }
    /* the URL itself is never quoted: it may hold a password */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        rc = cut_err_set(err, CUT_EINVAL, "registry: the URL is not a valid http(s) URL");
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = cut_err_set(err, CUT_EINVAL, "registry: URL scheme %s: only http and https", scheme);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        rc = cut_err_set(err, CUT_EINVAL, "registry: the URL must not have a query");
        goto out;
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &shown, 0) != CURLUE_OK ||
        (reg->shown = strdup(shown)) == NULL || (reg->base = strdup(url)) == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    /* paths are appended as "/subjects/...": no trailing slash on the base */
    for (size_t n = strlen(reg->base); n > 0 && reg->base[n - 1] == '/'; n--) {
        reg->base[n - 1] = '\0';
    }
    for (size_t n = strlen(reg->shown); n > 0 && reg->shown[n - 1] == '/'; n--) {
        reg->shown[n - 1] = '\0';
    }
out:
    curl_free(scheme);
    curl_free(query);
    curl_free(shown);
    curl_url_cleanup(u);
    return rc;
}

int cut_registry_create(struct cut_registry **reg, const char *url, struct cut_err *err)
{
    struct cut_registry_opts opts = {.url = url};
    return cut_registry_create_opts(reg, &opts, err);
}

int cut_registry_create_opts(struct cut_registry **reg, const struct cut_registry_opts *opts,
                             struct cut_err *err)
{
    struct cut_registry *r = NULL;
    int rc = CUT_OK;
    if (reg == NULL || opts == NULL || opts->url == NULL || opts->url[0] == '\0') {
        return cut_err_set(err, CUT_EINVAL, "registry: no URL");
    }
    *reg = NULL;
    pthread_once(&reg_curl_once, reg_curl_init);
    if (reg_curl_init_rc != CURLE_OK) {
        return cut_err_set(err, CUT_EFATAL, "registry: curl_global_init: %s",
                           curl_easy_strerror(reg_curl_init_rc));
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
    }
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : REG_TIMEOUT_MS;
    r->budget_ms = opts->retry_budget_ms != 0 ? opts->retry_budget_ms : REG_BUDGET_MS;
    r->backoff_initial_ms =
        opts->backoff_initial_ms > 0 ? opts->backoff_initial_ms : REG_BACKOFF_INITIAL_MS;
    r->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : REG_BACKOFF_MAX_MS;
    if (r->backoff_max_ms < r->backoff_initial_ms) {
        r->backoff_max_ms = r->backoff_initial_ms;
    }
    r->max_response = opts->max_response > 0 ? opts->max_response : REG_MAX_RESPONSE;
    /* never NULL, so that an empty answer is a valid empty string */
    r->cap = 4096;
    r->body = malloc(r->cap);
    if (r->body == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    r->rng = (uint64_t)(uintptr_t)r ^ ((uint64_t)reg_now_ms() << 20) ^ 0x9e3779b97f4a7c15ULL;
    if ((rc = reg_parse_url(r, opts->url, err)) != CUT_OK) {
        goto out;
    }
    r->curl = curl_easy_init();
    r->headers = curl_slist_append(NULL, "Content-Type: " REG_CONTENT_TYPE);
    struct curl_slist *h = r->headers;
    h = h ? curl_slist_append(h, "Accept: " REG_CONTENT_TYPE ", application/vnd.schemaregistry+json"
                                 "; q=0.9, application/json; q=0.5")
          : NULL;
    /* no "Expect: 100-continue" round trip for bodies over 1 KiB */
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (r->curl == NULL || h == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    CURL *curl = r->curl;
    CURLcode cc = CURLE_OK;
    /* the flows are threads: libcurl must not use signals for its timeouts */
    cc |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, r->headers);
    cc |= curl_easy_setopt(curl, CURLOPT_USERAGENT, "cutover-registry");
    cc |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, reg_on_data);
    cc |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    cc |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->errbuf);
    cc |= curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_response);
    cc |= curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (opts->username || opts->password) {
        cc |= curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        cc |= curl_easy_setopt(curl, CURLOPT_USERNAME, opts->username ? opts->username : "");
        cc |= curl_easy_setopt(curl, CURLOPT_PASSWORD, opts->password ? opts->password : "");
    }
    if (opts->ca_file) {
        cc |= curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_file);
    }
    if (cc != CURLE_OK) {
        rc = cut_err_set(err, CUT_EFATAL, "registry: libcurl refused an option");
        goto out;
    }
    *reg = r;
    r = NULL;
out:
    cut_registry_destroy(r);
    return rc;
}

void cut_registry_destroy(struct cut_registry *reg)
{
    if (reg == NULL) {
        return;
    }
    if (reg->curl) {
        curl_easy_cleanup(reg->curl);
    }
    curl_slist_free_all(reg->headers);
    reg_cache_fini(&reg->by_subject);
    reg_cache_fini(&reg->by_id);
    free(reg->body);
    free(reg->base);
    free(reg->shown);
    free(reg);
}

/* ---- the API calls ---- */

int cut_registry_register(struct cut_registry *reg, const char *subject, const char *schema_text,
                          int32_t *id, struct cut_err *err)
{
    char *path = NULL, *payload = NULL;
    json_t *root = NULL;
    long status = 0;
    int rc;
    if (reg == NULL || subject == NULL || subject[0] == '\0' || schema_text == NULL || id == NULL) {
        return cut_err_set(err, CUT_EINVAL, "registry: register: no subject, schema or id");
    }
    uint64_t hash = reg_hash_subject(subject, schema_text);
    const struct reg_entry *hit = reg_cache_find(&reg->by_subject, hash, subject, schema_text, 0);
    if (hit) {
        *id = hit->id;
        return CUT_OK;
    }
    if ((rc = reg_schema_payload(schema_text, &payload, err)) != CUT_OK) {
        goto out;
    }
    path = reg_subject_path(reg, "/subjects/", subject, "/versions");
    if (path == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    if ((rc = reg_request(reg, path, payload, &status, err)) != CUT_OK) {
        goto out;
    }
    if (status < 200 || status > 299) {
        rc = reg_refused(reg, "POST", path, status, err);
        goto out;
    }
    root = reg_json(reg);
    json_t *jid = root ? json_object_get(root, "id") : NULL;
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        json_integer_value(jid) > INT32_MAX) {
        rc = reg_bad_answer(reg, "a schema id", path, status, err);
        goto out;
    }
    *id = (int32_t)json_integer_value(jid);
    reg_cache_add(&reg->by_subject, hash, subject, schema_text, *id);
out:
    json_decref(root);
    free(payload);
    free(path);
    return rc;
}

/* "...: msg1; msg2" from Confluent's verbose "messages" array, into @p out. */
static void reg_join_messages(json_t *messages, char *out, size_t out_len)
{
    size_t n = 0, i;
    json_t *m;
    out[0] = '\0';
    json_array_foreach(messages, i, m)
    {
        if (!json_is_string(m) || n + 1 >= out_len) {
            continue;
        }
        int w = snprintf(out + n, out_len - n, "%s%s", n ? "; " : ": ", json_string_value(m));
        n = w < 0 ? n : (n + (size_t)w < out_len ? n + (size_t)w : out_len - 1);
    }
}

int cut_registry_check_compatible(struct cut_registry *reg, const char *subject,
                                  const char *schema_text, struct cut_err *err)
{
    char *path = NULL, *payload = NULL;
    json_t *root = NULL;
    long status = 0;
    int rc;
    if (reg == NULL || subject == NULL || subject[0] == '\0' || schema_text == NULL) {
        return cut_err_set(err, CUT_EINVAL, "registry: compatibility: no subject or schema");
    }
    if ((rc = reg_schema_payload(schema_text, &payload, err)) != CUT_OK) {
        goto out;
    }
    path =
        reg_subject_path(reg, "/compatibility/subjects/", subject, "/versions/latest?verbose=true");
    if (path == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    if ((rc = reg_request(reg, path, payload, &status, err)) != CUT_OK) {
        goto out;
    }
    root = reg_json(reg);
    if (status == 404) {
        /* 40401 subject not found, 40402 version not found: nothing to be incompatible with */
        json_t *code = root ? json_object_get(root, "error_code") : NULL;
        if (json_is_integer(code) &&
            (json_integer_value(code) == 40401 || json_integer_value(code) == 40402)) {
            rc = CUT_OK;
            goto out;
        }
    }
    if (status < 200 || status > 299) {
        rc = reg_refused(reg, "POST", path, status, err);
        goto out;
    }
    json_t *ok = root ? json_object_get(root, "is_compatible") : NULL;
    if (!json_is_boolean(ok)) {
        rc = reg_bad_answer(reg, "is_compatible", path, status, err);
        goto out;
    }
    if (json_is_true(ok)) {
        rc = CUT_OK;
        goto out;
    }
    char why[CUT_ERR_MSG_MAX];
    json_t *messages = json_object_get(root, "messages");
    reg_join_messages(json_is_array(messages) ? messages : NULL, why, sizeof(why));
    rc = cut_err_set(err, CUT_EINVAL,
                     "schema is not compatible with the latest version of subject %s under the "
                     "registry's compatibility rule%s",
                     subject, why[0] ? why : " (the registry sent no details)");
out:
    json_decref(root);
    free(payload);
    free(path);
    return rc;
}

int cut_registry_get_schema(struct cut_registry *reg, int32_t id, char **schema_text,
                            struct cut_err *err)
{
    char path[64];
    json_t *root = NULL;
    long status = 0;
    int rc;
    if (reg == NULL || schema_text == NULL || id < 0) {
        return cut_err_set(err, CUT_EINVAL, "registry: get schema: no id or output");
    }
    *schema_text = NULL;
    uint64_t hash = reg_hash_id(id);
    const struct reg_entry *hit = reg_cache_find(&reg->by_id, hash, NULL, NULL, id);
    if (hit) {
        *schema_text = strdup(hit->text);
        return *schema_text ? CUT_OK : cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
    }
    snprintf(path, sizeof(path), "/schemas/ids/%ld", (long)id);
    if ((rc = reg_request(reg, path, NULL, &status, err)) != CUT_OK) {
        goto out;
    }
    if (status < 200 || status > 299) {
        rc = reg_refused(reg, "GET", path, status, err);
        goto out;
    }
    root = reg_json(reg);
    json_t *schema = root ? json_object_get(root, "schema") : NULL;
    if (!json_is_string(schema)) {
        rc = reg_bad_answer(reg, "a schema", path, status, err);
        goto out;
    }
    *schema_text = strdup(json_string_value(schema));
    if (*schema_text == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "registry: out of memory");
        goto out;
    }
    reg_cache_add(&reg->by_id, hash, NULL, *schema_text, id);
out:
    json_decref(root);
    return rc;
}
