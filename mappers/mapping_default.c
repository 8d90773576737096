/* mapping_load: a user's mapping file, or the default compiled into the
 * binary from deploy/mappings/contact.yaml (mappers/embed_yaml.cmake turns
 * it into a byte array at build time), so a relay needs no file. */
#include "mappers/mapping_internal.h"
#include "relay/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mappers/contact_yaml.h" /* generated: mapping_default_yaml[], NUL-terminated */

#define MAPPING_FILE_MAX_BYTES (1024 * 1024)

/* Reads a whole file into a NUL-terminated buffer the caller frees. */
static char *read_file(const char *path, size_t *len, struct relay_error *err)
{
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        relay_error_errno(err, RELAY_ECONFIG, errno, path);
        return NULL;
    }
    data = relay_malloc(MAPPING_FILE_MAX_BYTES + 1);
    if (data == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    *len = fread(data, 1, MAPPING_FILE_MAX_BYTES + 1, f);
    if (ferror(f) || *len > MAPPING_FILE_MAX_BYTES) {
        relay_error_set(err, RELAY_ECONFIG, "%s: %s", path,
                        ferror(f) ? "read error" : "larger than 1 MiB");
        relay_free(data);
        data = NULL;
        goto out;
    }
    data[*len] = '\0';
out:
    fclose(f);
    return data;
}

struct mapping *mapping_load(const char *path, struct relay_error *err)
{
    if (path == NULL || path[0] == '\0') {
        return mapping_parse((const char *)mapping_default_yaml, sizeof(mapping_default_yaml) - 1,
                             "contact.yaml (built in)", err);
    }
    size_t len = 0;
    char *text = read_file(path, &len, err);
    if (text == NULL) {
        return NULL;
    }
    if (memchr(text, '\0', len) != NULL) {
        relay_free(text);
        relay_error_set(err, RELAY_ECONFIG, "%s: holds a NUL byte", path);
        return NULL;
    }
    struct mapping *m = mapping_parse(text, len, path, err);
    relay_free(text);
    return m;
}
