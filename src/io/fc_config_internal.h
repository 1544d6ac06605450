/* Private to src/io/fc_config*.c: the strict parser's shared pieces. */
#ifndef FC_CONFIG_INTERNAL_H
#define FC_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>

#include "fc_config.h"

typedef struct parser {
    const char *label, *base;
    fc_err *err;
} parser;

/* "<label>: <path>: <what>" as FC_ERR_PARSE. */
fc_status fail(parser *p, const char *path, const char *what);
/* Every key of obj must be in allowed (NULL-terminated). */
fc_status only_keys(parser *p, const cJSON *obj, const char *path, const char *const *allowed);

/* A path (resolved against the config's folder; *out owned) and a number
 * in lo..hi; absent keys leave *out as it is. */
fc_status get_path(parser *p, const cJSON *obj, const char *key, const char *path, char **out);
fc_status get_number(parser *p, const cJSON *obj, const char *key, const char *path, double lo,
                     double hi, double *out);

/* fc_config_pins.c: a model's "reference_outputs" (owned by mc). */
fc_status config_parse_references(parser *p, const cJSON *m, const char *path,
                                  fc_model_config *mc);

/* fc_config_pins.c: "sha256" of obj (64 hex digits, stored lower case in
 * out; "" when absent) and a model's "interface". */
fc_status config_parse_sha256(parser *p, const cJSON *obj, const char *path, char out[65]);
fc_status config_parse_interface(parser *p, const cJSON *m, const char *path, fc_interface *out);

#endif
