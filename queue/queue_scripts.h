/* The Lua scripts that make every move of an event atomic. Sources live in
 * queue_scripts.c; each is loaded once per connection (SCRIPT LOAD) and run
 * with EVALSHA. Pure data; thread-safe. */
#ifndef RELAY_QUEUE_QUEUE_SCRIPTS_H
#define RELAY_QUEUE_QUEUE_SCRIPTS_H

enum queue_script {
    QUEUE_SCRIPT_ACCEPT = 0,
    QUEUE_SCRIPT_TAKE,
    QUEUE_SCRIPT_ACK,
    QUEUE_SCRIPT_ACK_ALL,
    QUEUE_SCRIPT_RETRY,
    QUEUE_SCRIPT_DEAD,
    QUEUE_SCRIPT_PROMOTE,
    QUEUE_SCRIPT_RECOVER,
    QUEUE_SCRIPT_REPLAY,
    QUEUE_SCRIPT_COUNT
};

/* Verdict codes the accept script answers with (first reply element). */
#define QUEUE_LUA_ACCEPTED 0
#define QUEUE_LUA_DUPLICATE 1
#define QUEUE_LUA_ECHO 2
#define QUEUE_LUA_STALE 3

/* The Lua source of s; a static string. */
const char *queue_script_source(enum queue_script s);
/* The SHA-1 Redis names s by (40 lowercase hex digits), for EVALSHA. */
const char *queue_script_sha(enum queue_script s);
/* A short name for logs ("accept"). */
const char *queue_script_name(enum queue_script s);

#endif
