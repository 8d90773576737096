/* sql_fields (sql_fields.h): columns by canonical field name. */
#include "workers/sinks/sql_fields.h"

#include "relay/mem.h"

#include <string.h>

int sql_fields_init(struct sql_fields *f, size_t cap)
{
    memset(f, 0, sizeof(*f));
    f->names = relay_calloc(cap ? cap : 1, sizeof(*f->names));
    f->order = relay_calloc(cap ? cap : 1, sizeof(*f->order));
    if (f->names == NULL || f->order == NULL) {
        sql_fields_fini(f);
        return -1;
    }
    return 0;
}

void sql_fields_fini(struct sql_fields *f)
{
    relay_free(f->names);
    relay_free(f->order);
    memset(f, 0, sizeof(*f));
}

void sql_fields_add(struct sql_fields *f, const char *name)
{
    f->names[f->n] = name;
    f->order[f->n] = f->n;
    f->n++;
}

void sql_fields_sort(struct sql_fields *f)
{
    for (size_t i = 1; i < f->n; i++) { /* insertion sort: a few dozen */
        size_t v = f->order[i];
        size_t j = i;
        while (j > 0 && strcmp(f->names[f->order[j - 1]], f->names[v]) > 0) {
            f->order[j] = f->order[j - 1];
            j--;
        }
        f->order[j] = v;
    }
}

long sql_fields_find(const struct sql_fields *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f->names[f->order[mid]], name);
        if (c == 0) {
            return (long)f->order[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

bool sql_plain_name(const char *s)
{
    if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) {
            return false;
        }
    }
    return true;
}
