/* The prepared-statement cache of one Postgres connection; see
 * pgsql_stmt.h. Least recently used slots are reused (DEALLOCATE first). */
#include "workers/sinks/pgsql_stmt.h"

#include "relay/mem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t text_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

void pgsql_stmt_cache_clear(struct pgsql_stmt_cache *c)
{
    for (size_t i = 0; i < PGSQL_STMT_SLOTS; i++) {
        relay_free(c->slot[i].sql);
    }
    unsigned next_id = c->next_id; /* names stay unique per process lifetime */
    int disabled = c->disabled;
    memset(c, 0, sizeof(*c));
    c->next_id = next_id;
    c->disabled = disabled;
}

static struct pgsql_stmt *find(struct pgsql_stmt_cache *c, uint64_t h, const char *sql,
                               size_t len)
{
    for (size_t i = 0; i < PGSQL_STMT_SLOTS; i++) {
        struct pgsql_stmt *s = &c->slot[i];
        if (s->sql != NULL && s->hash == h && s->len == len && memcmp(s->sql, sql, len) == 0) {
            return s;
        }
    }
    return NULL;
}

/* True when h was run once before (and forgets it); else remembers it. */
static int seen_before(struct pgsql_stmt_cache *c, uint64_t h)
{
    for (size_t i = 0; i < PGSQL_STMT_SEEN; i++) {
        if (c->seen[i] == h && h != 0) {
            c->seen[i] = 0;
            return 1;
        }
    }
    c->seen[c->seen_next] = h;
    c->seen_next = (c->seen_next + 1) % PGSQL_STMT_SEEN;
    return 0;
}

/* Named statements do not survive a transaction-mode pooler (PgBouncer,
 * Supavisor): the next transaction may run on another server connection,
 * where the name is unknown (26000) or taken by another client (42P05).
 * Either answer turns the cache off for this connection for good; the
 * caller reports the failure as transient and the retry runs unnamed. */
static void check_pooler(struct pgsql_stmt_cache *c, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state != NULL && (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0)) {
        pgsql_stmt_cache_clear(c);
        c->disabled = 1;
    }
}

/* A free slot, or the least recently used one after DEALLOCATE. NULL with
 * *failed set when the DEALLOCATE failed. */
static struct pgsql_stmt *take_slot(struct pgsql_stmt_cache *c, PGconn *conn, PGresult **failed)
{
    struct pgsql_stmt *lru = &c->slot[0];
    for (size_t i = 0; i < PGSQL_STMT_SLOTS; i++) {
        if (c->slot[i].sql == NULL) {
            return &c->slot[i];
        }
        if (c->slot[i].last_use < lru->last_use) {
            lru = &c->slot[i];
        }
    }
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "DEALLOCATE %s", lru->name);
    PGresult *res = PQexec(conn, cmd);
    /* The slot is forgotten either way, so a failing DEALLOCATE is not
     * repeated by every retry of the batch. */
    relay_free(lru->sql);
    memset(lru, 0, sizeof(*lru));
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *failed = res;
        return NULL;
    }
    PQclear(res);
    return lru;
}

/* Prepares sql into a slot; NULL with *res set to the failure (or NULL:
 * out of memory, run it unnamed instead). */
static struct pgsql_stmt *prepare(struct pgsql_stmt_cache *c, PGconn *conn, uint64_t h,
                                  const char *sql, size_t len, int nparams, PGresult **res)
{
    char *copy = relay_strndup(sql, len);
    if (copy == NULL) {
        *res = NULL;
        return NULL;
    }
    struct pgsql_stmt *s = take_slot(c, conn, res);
    if (s == NULL) {
        relay_free(copy);
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "syncrelay_%ld_%u", (long)getpid(), ++c->next_id);
    PGresult *r = PQprepare(conn, s->name, copy, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        relay_free(copy);
        memset(s, 0, sizeof(*s));
        check_pooler(c, r);
        *res = r;
        return NULL;
    }
    PQclear(r);
    s->sql = copy;
    s->len = len;
    s->hash = h;
    return s;
}

PGresult *pgsql_stmt_exec(struct pgsql_stmt_cache *c, PGconn *conn, const char *sql, size_t len,
                          int nparams, const char *const *values)
{
    if (c->disabled) {
        return PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
    }
    uint64_t h = text_hash(sql, len);
    struct pgsql_stmt *s = find(c, h, sql, len);
    if (s == NULL && seen_before(c, h)) {
        PGresult *failed = NULL;
        s = prepare(c, conn, h, sql, len, nparams, &failed);
        if (s == NULL && failed != NULL) {
            return failed;
        }
    }
    if (s == NULL) {
        return PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
    }
    s->last_use = ++c->tick;
    PGresult *r = PQexecPrepared(conn, s->name, nparams, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        check_pooler(c, r);
    }
    return r;
}
