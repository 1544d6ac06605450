/* A JSON Schema validator for the subset docs/report-schema.json uses:
 * type (a name or an array of names; "integer" is a number with no
 * fraction), enum, required, properties, additionalProperties (false or a
 * schema), items (one schema), minimum, maximum, plus the annotations
 * $schema, $id, title and description.  Any other keyword makes validation
 * fail, so the schema cannot lean on a rule this checker would ignore. */
#ifndef SCHEMA_CHECK_H
#define SCHEMA_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* True if doc is valid.  Otherwise false, with the first violation and its
 * JSON path ("$.models[0].suites[2].tests[5].status: ...") in why. */
bool schema_check(const cJSON *schema, const cJSON *doc, char *why, size_t size);

#endif
