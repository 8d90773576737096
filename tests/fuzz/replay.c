/* Replays saved inputs through a fuzz target without libFuzzer, so the
 * targets build with any compiler (gcc in the normal build) and CTest can
 * run corpus/<target>/ and regress/<target>/ on every test run.
 *
 * Usage: fuzz_<target>_replay [--expect-fail] PATH...
 * A PATH is a file or a directory, whose regular files are replayed in name
 * order (dot files are skipped). A missing PATH is an error (a typo must
 * not pass silently). Exits 0 when every input ran; a found bug aborts, as
 * under libFuzzer.
 *
 * --expect-fail is for open/<target>/, the reproducers of reported bugs
 * that are not fixed yet: each input runs in a child process that must
 * fail; one that passes makes the exit status 1 ("move it to regress/"). */
#include "tests/fuzz/fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* LLVMFuzzerInitialize is optional in libFuzzer: called when defined. */
#pragma weak LLVMFuzzerInitialize

static int expect_fail;

static int run_input(const uint8_t *data, size_t len, const char *path)
{
    if (!expect_fail) {
        LLVMFuzzerTestOneInput(data, len);
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("replay: fork");
        return -1;
    }
    if (pid == 0) {
        LLVMFuzzerTestOneInput(data, len);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("replay: waitpid");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        fprintf(stderr, "replay: %s no longer fails: the bug is fixed, move it to regress/\n",
                path);
        return -1;
    }
    fprintf(stderr, "replay: %s still fails (open bug)\n", path);
    return 0;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    while (data != NULL) {
        len += fread(data + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        uint8_t *bigger = realloc(data, cap * 2);
        if (bigger == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = bigger;
        cap *= 2;
    }
    int failed = ferror(f) || data == NULL;
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        free(data);
        return -1;
    }
    /* An exact-size copy, so ASan catches a read past the input's end. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, len);
    free(data);
    int rc = run_input(exact, len, path);
    free(exact);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of dir; returns how many, or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof(*names));
            if (bigger == NULL) {
                break;
            }
            names = bigger;
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(n);
        if (names[count] != NULL) {
            snprintf(names[count++], n, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (count > 1) {
        qsort(names, count, sizeof(*names), by_name);
    }
    long done = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            done = done < 0 || replay_file(names[i]) != 0 ? -1 : done + 1;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    int status = 0;
    long total = 0;
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--expect-fail") == 0) {
        expect_fail = 1;
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        long n = -1;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            n = replay_dir(argv[i]);
        } else {
            n = replay_file(argv[i]) == 0 ? 1 : -1;
        }
        if (n < 0) {
            status = 1;
        } else {
            printf("replay: %s: %ld input(s)\n", argv[i], n);
            total += n;
        }
    }
    printf(expect_fail ? "replay: %ld open bug(s) still fail as expected\n"
                       : "replay: %ld input(s) ran without a failure\n",
           total);
    return status;
}
