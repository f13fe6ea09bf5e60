/*
 * Unit tests of YAML loading and interpolation (bridge/yaml.c) and of key
 * tables (bridge/config.c).
 */
#include "config_test_util.h"

/* Load @p text and return the scalar at root.@p key, for interpolation tests. */
static char *load_scalar(const char *text, const char *key, struct cut_cfg_errors *errs)
{
    struct cut_node *root = cut_yaml_load(write_yaml(text), errs);
    assert_non_null(root);
    const struct cut_node *node = cut_node_get(root, key);
    assert_non_null(node);
    char *value = strdup(node->scalar);
    cut_node_destroy(root);
    return value;
}
/* ---- interpolation ---------------------------------------------------------- */

static void test_interp_set_variable_is_substituted(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    setenv("CUT_T_HOST", "rabbit.local", 1);
    char *v = load_scalar("url: amqp://${CUT_T_HOST}:5672/\n", "url", &errs);
    assert_string_equal(v, "amqp://rabbit.local:5672/");
    assert_int_equal(errs.n, 0);
    free(v);
}

static void test_interp_unset_variable_takes_default(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    unsetenv("CUT_T_UNSET");
    char *v = load_scalar("port: ${CUT_T_UNSET:-5672}\n", "port", &errs);
    assert_string_equal(v, "5672");
    assert_int_equal(errs.n, 0);
    free(v);
}

static void test_interp_empty_variable_takes_default(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    setenv("CUT_T_EMPTY", "", 1);
    char *v = load_scalar("port: ${CUT_T_EMPTY:-5672}\n", "port", &errs);
    assert_string_equal(v, "5672");
    assert_int_equal(errs.n, 0);
    free(v);
}

static void test_interp_set_variable_beats_default(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    setenv("CUT_T_PORT", "15672", 1);
    char *v = load_scalar("port: \"${CUT_T_PORT:-5672}\"\n", "port", &errs);
    assert_string_equal(v, "15672");
    free(v);
}

static void test_interp_empty_variable_without_default_is_empty(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    setenv("CUT_T_EMPTY", "", 1);
    char *v = load_scalar("x: a${CUT_T_EMPTY}b\n", "x", &errs);
    assert_string_equal(v, "ab");
    assert_int_equal(errs.n, 0);
    free(v);
}

static void test_interp_double_dollar_escapes(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    char *v = load_scalar("x: 'cost $${CUT_T_UNSET} and $5'\n", "x", &errs);
    assert_string_equal(v, "cost ${CUT_T_UNSET} and $5");
    assert_int_equal(errs.n, 0);
    free(v);
}

static void test_interp_unset_variable_without_default_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    unsetenv("CUT_T_UNSET");
    struct cut_node *root =
        cut_yaml_load(write_yaml("connections:\n  rabbit:\n    url: ${CUT_T_UNSET}\n"), &errs);
    assert_non_null(root); /* the rest of the file is still checked */
    assert_int_equal(errs.n, 1);
    assert_error_line(&errs, 0, 3,
                      "connections.rabbit.url: environment variable CUT_T_UNSET is not set");
    cut_node_destroy(root);
    cut_cfg_errors_fini(&errs);
}

static void test_interp_bad_reference_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(write_yaml("a: ${NOT CLOSED\nb: ${}\n"), &errs);
    assert_non_null(root);
    assert_int_equal(errs.n, 2);
    assert_has_error(&errs, 1, "a: bad variable reference");
    assert_has_error(&errs, 2, "b: bad variable reference");
    cut_node_destroy(root);
    cut_cfg_errors_fini(&errs);
}

static void test_interp_keys_are_not_interpolated(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    setenv("CUT_T_HOST", "h", 1);
    struct cut_node *root = cut_yaml_load(write_yaml("${CUT_T_HOST}: v\n"), &errs);
    assert_non_null(cut_node_get(root, "${CUT_T_HOST}"));
    assert_int_equal(errs.n, 0);
    cut_node_destroy(root);
}

/* ---- YAML loading ----------------------------------------------------------- */

static void test_yaml_lines_are_one_based(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root =
        cut_yaml_load(write_yaml("# comment\na: 1\nb:\n  - x\n  - c: 2\n"), &errs);
    assert_non_null(root);
    assert_int_equal(root->n, 2);
    assert_int_equal(root->pairs[0].key_line, 2);
    assert_int_equal(root->pairs[0].value->line, 2);
    assert_int_equal(root->pairs[1].key_line, 3);
    const struct cut_node *seq = cut_node_get(root, "b");
    assert_int_equal(seq->kind, CUT_NODE_SEQ);
    assert_int_equal(seq->n, 2);
    assert_int_equal(seq->items[0]->line, 4);
    assert_int_equal(seq->items[1]->pairs[0].key_line, 5);
    cut_node_destroy(root);
}

static void test_yaml_duplicate_key_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(write_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n"), &errs);
    assert_non_null(root);
    assert_int_equal(errs.n, 1);
    assert_error_line(&errs, 0, 4, "a.b: duplicate key (first defined at line 2)");
    /* the first one stands */
    assert_string_equal(cut_node_get(cut_node_get(root, "a"), "b")->scalar, "1");
    cut_node_destroy(root);
    cut_cfg_errors_fini(&errs);
}

static void test_yaml_syntax_error_reports_line(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(write_yaml("a: 1\nb: 2\nc: [1, 2\nd: 4\n"), &errs);
    assert_null(root);
    assert_int_equal(errs.n, 1);
    assert_has_error(&errs, 4, "YAML syntax error");
    cut_cfg_errors_fini(&errs);

    root = cut_yaml_load(write_yaml("a: 1\n b: 2\n"), &errs);
    assert_null(root);
    assert_has_error(&errs, 2, "YAML syntax error: mapping values are not allowed");
    cut_cfg_errors_fini(&errs);
}

static void test_yaml_alias_is_rejected(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(write_yaml("a: &x 1\nb: *x\n"), &errs);
    assert_null(root);
    assert_int_equal(errs.n, 1);
    assert_error_line(&errs, 0, 2, "b: aliases (*x) are not supported");
    cut_cfg_errors_fini(&errs);
}

static void test_yaml_missing_file_names_the_cause(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    assert_null(cut_yaml_load("/nonexistent/cutover.yaml", &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.lines[0],
                        "/nonexistent/cutover.yaml: cannot open: No such file or directory");
    cut_cfg_errors_fini(&errs);
}

static void test_yaml_empty_file_is_empty_map(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(write_yaml("# nothing but a comment\n"), &errs);
    assert_non_null(root);
    assert_int_equal(root->kind, CUT_NODE_MAP);
    assert_int_equal(root->n, 0);
    cut_node_destroy(root);
}

static void test_yaml_second_document_is_rejected(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    assert_null(cut_yaml_load(write_yaml("a: 1\n---\nb: 2\n"), &errs));
    assert_has_error(&errs, 2, "only one YAML document");
    cut_cfg_errors_fini(&errs);
}

/* ---- key tables ------------------------------------------------------------- */

struct obj {
    char *name;
    int64_t count;
    bool enabled;
    int64_t timeout_ms;
    int level;
    struct cut_kv_list props;
    int64_t token;
};

static const char *const levels[] = {"low", "mid", "high", NULL};

static const struct cut_cfg_key obj_keys[] = {
    {.name = "name",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct obj, name),
     .def = "anon",
     .desc = "a name"},
    {.name = "count",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct obj, count),
     .def = "10",
     .min = 1,
     .max = 65535,
     .desc = "how many"},
    {.name = "enabled",
     .type = CUT_CFG_BOOL,
     .offset = offsetof(struct obj, enabled),
     .def = "true",
     .desc = "on | off"},
    {.name = "timeout",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct obj, timeout_ms),
     .def = "5s",
     .min = 1000,
     .max = 600000,
     .desc = "how long"},
    {.name = "level",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct obj, level),
     .def = "mid",
     .choices = levels,
     .desc = "how much"},
    {.name = "props", .type = CUT_CFG_PROPS, .offset = offsetof(struct obj, props)},
    {.name = "token", .type = CUT_CFG_INT, .offset = offsetof(struct obj, token), .secret = true},
    {.name = NULL},
};

static const struct cut_cfg_key req_keys[] = {
    {.name = "queue",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct obj, name),
     .required = true},
    {.name = NULL},
};

/* Apply obj_keys to the map under "sec" of @p text; returns the error count. */
static int apply(const char *text, const struct cut_cfg_key *keys, struct obj *obj,
                 struct cut_cfg_errors *errs)
{
    struct cut_node *root = cut_yaml_load(write_yaml(text), errs);
    assert_non_null(root);
    struct cut_cfg_ctx ctx = {.file = tmp_path, .errs = errs};
    memset(obj, 0, sizeof(*obj));
    int nerr = cut_cfg_apply(keys, cut_node_get(root, "sec"), obj, "top.sec", NULL, &ctx);
    cut_node_destroy(root);
    return nerr;
}

static void release(struct obj *obj, struct cut_cfg_errors *errs)
{
    cut_cfg_release(obj_keys, obj);
    cut_cfg_errors_fini(errs);
}

/* The error of one bad value for one key of obj_keys. */
static void assert_value_error(const char *yaml_value_line, const char *want)
{
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    char text[256];
    snprintf(text, sizeof(text), "sec:\n  %s\n", yaml_value_line);
    assert_int_equal(apply(text, obj_keys, &obj, &errs), 1);
    assert_int_equal(errs.n, 1);
    assert_error_line(&errs, 0, 2, want);
    release(&obj, &errs);
}

static void test_cfg_defaults_apply_when_absent(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec: {}\n", obj_keys, &obj, &errs), 0);
    assert_string_equal(obj.name, "anon");
    assert_int_equal(obj.count, 10);
    assert_true(obj.enabled);
    assert_int_equal(obj.timeout_ms, 5000);
    assert_int_equal(obj.level, 1);
    assert_int_equal(obj.props.n, 0);
    release(&obj, &errs);
}

static void test_cfg_values_of_every_type_parse(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec:\n  name: orders\n  count: 65535\n  enabled: off\n"
                           "  timeout: 2m\n  level: HIGH\n",
                           obj_keys, &obj, &errs),
                     0);
    assert_string_equal(obj.name, "orders");
    assert_int_equal(obj.count, 65535);
    assert_false(obj.enabled);
    assert_int_equal(obj.timeout_ms, 120000);
    assert_int_equal(obj.level, 2);
    release(&obj, &errs);
}

static void test_cfg_int_not_a_number_is_error(void **state)
{
    (void)state;
    assert_value_error("count: lots", "top.sec.count: expected an integer between 1 and 65535, "
                                      "got \"lots\"");
    assert_value_error("count: 12x", "top.sec.count: expected an integer between 1 and 65535, "
                                     "got \"12x\"");
}

static void test_cfg_int_out_of_range_is_error(void **state)
{
    (void)state;
    assert_value_error("count: 65536", "top.sec.count: expected an integer between 1 and 65535, "
                                       "got \"65536\"");
    assert_value_error("count: 0", "top.sec.count: expected an integer between 1 and 65535, "
                                   "got \"0\"");
    assert_value_error("count: 99999999999999999999",
                       "top.sec.count: expected an integer between 1 and 65535, "
                       "got \"99999999999999999999\"");
}

static void test_cfg_bool_words_parse(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "yes", "on", "True", "YES"};
    static const char *const no[] = {"false", "no", "off", "False", "OFF"};
    for (size_t i = 0; i < 5; i++) {
        struct cut_cfg_errors errs = {0};
        struct obj obj;
        char text[64];
        snprintf(text, sizeof(text), "sec:\n  enabled: %s\n", yes[i]);
        assert_int_equal(apply(text, obj_keys, &obj, &errs), 0);
        assert_true(obj.enabled);
        release(&obj, &errs);
        snprintf(text, sizeof(text), "sec:\n  enabled: %s\n", no[i]);
        assert_int_equal(apply(text, obj_keys, &obj, &errs), 0);
        assert_false(obj.enabled);
        release(&obj, &errs);
    }
}

static void test_cfg_bool_other_word_is_error(void **state)
{
    (void)state;
    assert_value_error("enabled: maybe", "top.sec.enabled: expected true or false (or yes/no, "
                                         "on/off), got \"maybe\"");
}

static void test_cfg_duration_units_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {{"1500ms", 1500}, {"5s", 5000}, {"2m", 120000}, {"1000", 1000}, {"10m", 600000}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cut_cfg_errors errs = {0};
        struct obj obj;
        char text[64];
        snprintf(text, sizeof(text), "sec:\n  timeout: %s\n", cases[i].text);
        assert_int_equal(apply(text, obj_keys, &obj, &errs), 0);
        assert_int_equal(obj.timeout_ms, cases[i].ms);
        release(&obj, &errs);
    }
}

static void test_cfg_duration_bad_or_out_of_range_is_error(void **state)
{
    (void)state;
    assert_value_error("timeout: soon", "top.sec.timeout: expected a duration (like 250ms, 5s, "
                                        "2m, 1h, or a number of ms) between 1s and 10m, "
                                        "got \"soon\"");
    assert_value_error("timeout: 5 s", "top.sec.timeout: expected a duration (like 250ms, 5s, "
                                       "2m, 1h, or a number of ms) between 1s and 10m, "
                                       "got \"5 s\"");
    assert_value_error("timeout: 1h", "top.sec.timeout: expected a duration (like 250ms, 5s, "
                                      "2m, 1h, or a number of ms) between 1s and 10m, "
                                      "got \"1h\"");
}

static void test_cfg_enum_error_lists_choices(void **state)
{
    (void)state;
    assert_value_error("level: extreme",
                       "top.sec.level: expected one of low, mid, high, got \"extreme\"");
}

static void test_cfg_secret_value_is_not_echoed(void **state)
{
    (void)state;
    assert_value_error("token: s3cr3t", "top.sec.token: expected an integer (value not shown)");
}

static void test_cfg_props_keep_dotted_keys_unchanged(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec:\n  props:\n    bootstrap.servers: a:9092,b:9092\n"
                           "    sasl.mechanism: PLAIN\n    linger.ms: 5\n    enable.idempotence: "
                           "true\n",
                           obj_keys, &obj, &errs),
                     0);
    assert_int_equal(obj.props.n, 4);
    assert_string_equal(obj.props.items[0].key, "bootstrap.servers");
    assert_string_equal(obj.props.items[0].value, "a:9092,b:9092");
    assert_int_equal(obj.props.items[0].line, 3);
    assert_string_equal(cut_kv_get(&obj.props, "linger.ms"), "5");
    assert_string_equal(cut_kv_get(&obj.props, "enable.idempotence"), "true");
    assert_null(cut_kv_get(&obj.props, "acks"));
    release(&obj, &errs);
}

static void test_cfg_props_nested_value_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec:\n  props:\n    ok: 1\n    sasl:\n      mechanism: PLAIN\n"
                           "    list: [1, 2]\n",
                           obj_keys, &obj, &errs),
                     2);
    assert_error_line(&errs, 0, 4, "top.sec.props.sasl: expected a scalar value, got a map");
    assert_error_line(&errs, 1, 6, "top.sec.props.list: expected a scalar value, got a list");
    release(&obj, &errs);
}

static void test_cfg_kv_get_returns_last_value(void **state)
{
    (void)state;
    struct cut_kv items[] = {{"a", "1", 1}, {"b", "2", 2}, {"a", "3", 3}};
    struct cut_kv_list list = {.items = items, .n = 3};
    assert_string_equal(cut_kv_get(&list, "a"), "3");
    assert_null(cut_kv_get(NULL, "a"));
}

static void test_cfg_unknown_key_lists_known_keys(void **state)
{
    (void)state;
    assert_value_error("cuont: 3",
                       "top.sec.cuont: unknown key (did you mean \"count\"? known: name, "
                       "count, enabled, timeout, level, props, token)");
    assert_value_error("zzz: 3", "top.sec.zzz: unknown key (known: name, count, enabled, timeout, "
                                 "level, props, token)");
}

static void test_cfg_skipped_keys_are_left_alone(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj = {0};
    static const char *const skip[] = {"protocol", NULL};
    struct cut_node *root = cut_yaml_load(write_yaml("protocol: x\nname: n\nprotcol: y\n"), &errs);
    struct cut_cfg_ctx ctx = {.file = tmp_path, .errs = &errs};
    assert_int_equal(cut_cfg_apply(obj_keys, root, &obj, "c", skip, &ctx), 1);
    assert_has_error(&errs, 3, "c.protcol: unknown key (did you mean \"protocol\"?");
    assert_string_equal(obj.name, "n");
    cut_node_destroy(root);
    release(&obj, &errs);
}

static void test_cfg_missing_required_key_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec:\n  other: 1\n", req_keys, &obj, &errs), 2);
    assert_error_line(&errs, 1, 2, "top.sec: missing required key \"queue\"");
    release(&obj, &errs);
}

static void test_cfg_null_value_keeps_default_but_not_required(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec:\n  count:\n  level: ~\n", obj_keys, &obj, &errs), 0);
    assert_int_equal(obj.count, 10);
    assert_int_equal(obj.level, 1);
    release(&obj, &errs);

    assert_int_equal(apply("sec:\n  queue:\n", req_keys, &obj, &errs), 1);
    assert_error_line(&errs, 0, 2, "top.sec.queue: a value is required");
    release(&obj, &errs);
}

static void test_cfg_scalar_where_map_expected_is_error(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(apply("sec: hello\n", obj_keys, &obj, &errs), 1);
    assert_error_line(&errs, 0, 1, "top.sec: expected a map, got a scalar");
    release(&obj, &errs);
}

static void test_cfg_map_where_value_expected_is_error(void **state)
{
    (void)state;
    assert_value_error("count: {a: 1}", "top.sec.count: expected a single value, got a map");
    assert_value_error("props: 5", "top.sec.props: expected a map of properties, got a scalar");
}

static void test_cfg_errors_accumulate(void **state)
{
    (void)state;
    struct cut_cfg_errors errs = {0};
    struct obj obj;
    assert_int_equal(
        apply("sec:\n  count: many\n  colour: red\n  level: loud\n", obj_keys, &obj, &errs), 3);
    assert_int_equal(errs.n, 3);
    assert_has_error(&errs, 2, "top.sec.count: expected an integer");
    assert_has_error(&errs, 3, "top.sec.colour: unknown key");
    assert_has_error(&errs, 4, "top.sec.level: expected one of");
    release(&obj, &errs);
}

static void test_cfg_doc_writes_a_row_per_key(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    cut_cfg_doc(obj_keys, "sec", fp);
    fclose(fp);
    assert_non_null(strstr(text, "### `sec`"));
    assert_non_null(strstr(text, "| `count` | integer between 1 and 65535 | `10` | how many |"));
    assert_non_null(strstr(text, "| `timeout` | duration between 1s and 10m | `5s` |"));
    assert_non_null(strstr(text, "| `enabled` | boolean | `true` | on \\| off |"));
    assert_non_null(strstr(text, "| `level` | one of: low, mid, high |"));
    free(text);
}
#define T(fn) cmocka_unit_test_teardown(fn, teardown_file)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_interp_set_variable_is_substituted),
        T(test_interp_unset_variable_takes_default),
        T(test_interp_empty_variable_takes_default),
        T(test_interp_set_variable_beats_default),
        T(test_interp_empty_variable_without_default_is_empty),
        T(test_interp_double_dollar_escapes),
        T(test_interp_unset_variable_without_default_is_error),
        T(test_interp_bad_reference_is_error),
        T(test_interp_keys_are_not_interpolated),
        T(test_yaml_lines_are_one_based),
        T(test_yaml_duplicate_key_is_error),
        T(test_yaml_syntax_error_reports_line),
        T(test_yaml_alias_is_rejected),
        T(test_yaml_missing_file_names_the_cause),
        T(test_yaml_empty_file_is_empty_map),
        T(test_yaml_second_document_is_rejected),
        T(test_cfg_defaults_apply_when_absent),
        T(test_cfg_values_of_every_type_parse),
        T(test_cfg_int_not_a_number_is_error),
        T(test_cfg_int_out_of_range_is_error),
        T(test_cfg_bool_words_parse),
        T(test_cfg_bool_other_word_is_error),
        T(test_cfg_duration_units_parse),
        T(test_cfg_duration_bad_or_out_of_range_is_error),
        T(test_cfg_enum_error_lists_choices),
        T(test_cfg_secret_value_is_not_echoed),
        T(test_cfg_props_keep_dotted_keys_unchanged),
        T(test_cfg_props_nested_value_is_error),
        T(test_cfg_kv_get_returns_last_value),
        T(test_cfg_unknown_key_lists_known_keys),
        T(test_cfg_skipped_keys_are_left_alone),
        T(test_cfg_missing_required_key_is_error),
        T(test_cfg_null_value_keeps_default_but_not_required),
        T(test_cfg_scalar_where_map_expected_is_error),
        T(test_cfg_map_where_value_expected_is_error),
        T(test_cfg_errors_accumulate),
        T(test_cfg_doc_writes_a_row_per_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
