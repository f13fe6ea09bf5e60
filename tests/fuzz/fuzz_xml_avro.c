/*
 * libFuzzer target for the XML -> Avro path (converters/mapping.h), built and
 * run by tests/fuzz/run with clang -fsanitize=fuzzer,address,undefined.
 *
 * Input: one byte that picks a target, then the body.
 *   - targets 0..N-1: a mapping (the shipped examples and golden mappings
 *     with every feature); the body goes through the converter. Beyond "no
 *     crash, no leak, no undefined behaviour", a message that is sent must
 *     decode back (wire header, length checks, avro-c) to JSON, and a message
 *     that is not must say why.
 *   - target N: the body is taken as Avro binary of the orders schema and
 *     read with the length checker and avro-c: hostile Avro must be refused
 *     before avro-c allocates what it declares (-rss_limit_mb catches that).
 *
 * FUZZ_ROOT (the source tree) is set by tests/fuzz/meson.build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_json.h"
#include "mapping.h"
#include "mapping_msg.h"

#ifndef FUZZ_ROOT
#error "FUZZ_ROOT must name the source tree"
#endif

static const char *const mapping_files[] = {
    FUZZ_ROOT "/mappings/orders.yaml",
    FUZZ_ROOT "/mappings/shipments.yaml",
    FUZZ_ROOT "/tests/data/mappings/logical_types/mapping.yaml",
    FUZZ_ROOT "/tests/data/mappings/array_scalars/mapping.yaml",
    FUZZ_ROOT "/tests/data/mappings/nested_record/mapping.yaml",
    FUZZ_ROOT "/tests/data/mappings/json_format/mapping.yaml",
    FUZZ_ROOT "/tests/data/mappings/namespaces/mapping.yaml",
};
#define N_MAPPINGS (sizeof(mapping_files) / sizeof(mapping_files[0]))

static struct cut_mapping *maps[N_MAPPINGS];
static struct cut_converter *convs[N_MAPPINGS];
static struct cut_mapping_msg message;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_xml_avro: %s: %s\n", what, why);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct cut_err err = {0};
    for (size_t i = 0; i < N_MAPPINGS; i++) {
        struct cut_cfg_errors errs = {0};
        if (cut_mapping_load(mapping_files[i], &maps[i], &errs) != CUT_OK) {
            die(mapping_files[i], errs.n > 0 ? errs.lines[0] : "does not load");
        }
        struct cut_mapping_settings settings = {
            .map = maps[i], .flow = "fuzz", .topic = "t", .schema_id = 1};
        if (cut_mapping_converter.create(&convs[i], &settings, &err) != CUT_OK) {
            die(mapping_files[i], err.msg);
        }
    }
    /* Headers that pass every filter and fill every header field. */
    static const char *const headers[] = {
        "JMSMessageID=ID:fuzz-1",     "JMSPriority=8",
        "JMSType=ShipmentNotice",     "JMSCorrelationID=c-1",
        "JMSTimestamp=1709288100999", "region=EU",
        "rate:double=2.25",
    };
    cut_mapping_msg_init(&message);
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        if (cut_mapping_msg_set_arg(&message, headers[i], &err) != CUT_OK) {
            die(headers[i], err.msg);
        }
    }
    return 0;
}

static void convert(size_t which, const uint8_t *body, size_t len)
{
    struct cut_msg msg = message.msg;
    struct cut_err err = {0};
    struct cut_record rec;
    enum cut_verdict verdict;

    msg.body = body;
    msg.body_len = len;
    int rc = cut_mapping_converter.convert(convs[which], &msg, &rec, &verdict, &err);
    if (rc != CUT_OK) {
        if (rc == CUT_ENOMEM) {
            return;
        }
        die("convert failed", err.msg);
    }
    if (verdict != CUT_VERDICT_SEND) {
        if (verdict == CUT_VERDICT_DEAD_LETTER && err.msg[0] == '\0') {
            die("dead letter", "no reason");
        }
        return;
    }
    if (cut_mapping_format(maps[which]) == CUT_MAPPING_PASSTHROUGH) {
        return;
    }
    json_t *json = NULL;
    int32_t id;
    if (cut_mapping_value_json(maps[which], rec.value, rec.value_len, &json, &id, &err) != CUT_OK) {
        die("a value that was sent does not decode", err.msg);
    }
    json_decref(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t which = data[0] % (N_MAPPINGS + 1);
    if (which < N_MAPPINGS) {
        convert(which, data + 1, size - 1);
        return 0;
    }
    json_t *json = NULL;
    struct cut_err err = {0};
    if (cut_avro_to_json(cut_mapping_schema(maps[0]), data + 1, size - 1, &json, &err) == CUT_OK) {
        json_decref(json);
    }
    return 0;
}
