/* JSON text into a relay_buf; see sql_json.h. */
#include "workers/sinks/sql_json.h"

#include <stdio.h>

int sql_json_append_string(struct relay_buf *b, const char *s)
{
    int bad = relay_buf_append(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        char esc[8];
        int k = snprintf(esc, sizeof(esc), "\\u%04x", c);
        bad |= relay_buf_append(b, run, (size_t)(s - run)) | relay_buf_append(b, esc, (size_t)k);
        run = s + 1;
    }
    bad |= relay_buf_append(b, run, (size_t)(s - run)) | relay_buf_append(b, "\"", 1);
    return bad ? -1 : 0;
}

static int dump_to_buf(const char *text, size_t size, void *data)
{
    return relay_buf_append(data, text, size) == 0 ? 0 : -1;
}

int sql_json_append_dump(struct relay_buf *b, const json_t *v, size_t flags)
{
    return json_dump_callback(v, dump_to_buf, b, flags) == 0 ? 0 : -1;
}
