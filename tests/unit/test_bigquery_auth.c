/* bigquery_auth: source selection from the config, and the RS256 JWT of a
 * service-account key, checked against the public half of a key this test
 * generates (header, claims and signature). */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static EVP_PKEY *test_key;
static char key_path[64];

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *copy = relay_strndup(data, (size_t)len);
    BIO_free(bio);
    return copy;
}

static int write_key_file(void **state)
{
    (void)state;
    test_key = EVP_RSA_gen(2048);
    assert_non_null(test_key);
    char *pem = pem_of(test_key);
    json_t *file =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "service_account", "client_email",
                  "relay@test-project.iam.gserviceaccount.com", "private_key", pem,
                  "private_key_id", "kid-123", "token_uri", "https://oauth2.googleapis.com/token");
    snprintf(key_path, sizeof(key_path), "/tmp/bq-auth-key-XXXXXX");
    int fd = mkstemp(key_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(json_dump_file(file, key_path, 0), 0);
    json_decref(file);
    relay_free(pem);
    return 0;
}

static int remove_key_file(void **state)
{
    (void)state;
    unlink(key_path);
    EVP_PKEY_free(test_key);
    return 0;
}

/* Decodes one base64url part (no padding) into a NUL-terminated buffer. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
    char *std = relay_calloc(len + 4, 1);
    for (size_t i = 0; i < len; i++) {
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    }
    size_t padded = len;
    while (padded % 4 != 0) {
        std[padded++] = '=';
    }
    unsigned char *out = relay_calloc(padded, 1);
    int n = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    assert_true(n >= 0);
    *out_len = (size_t)n - (padded - len);
    out[*out_len] = '\0';
    relay_free(std);
    return out;
}

static struct config_bigquery conf_with(const char *token, const char *creds, const char *metadata)
{
    struct config_bigquery c = {0};
    c.token = (char *)token;
    c.credentials = (char *)creds;
    c.metadata_url = (char *)metadata;
    c.token_url = "";
    return c;
}

static void jwt_header_claims_and_signature(void **state)
{
    (void)state;
    struct config_bigquery conf = conf_with("", key_path, "");
    conf.token_url = "http://127.0.0.1:9/token";
    struct relay_error err = {0};
    struct bigquery_auth *a = bigquery_auth_create(&conf, &err);
    assert_non_null(a);
    char *jwt = bigquery_auth_jwt(a, 1731400000, &err);
    assert_non_null(jwt);
    char *dot1 = strchr(jwt, '.');
    char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strpbrk(jwt, "+/="));
    size_t n;
    unsigned char *header = b64url_decode(jwt, (size_t)(dot1 - jwt), &n);
    assert_string_equal((char *)header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"kid-123\"}");
    unsigned char *claims = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &n);
    assert_string_equal((char *)claims, "{\"iss\":\"relay@test-project.iam.gserviceaccount.com\","
                                        "\"scope\":\"https://www.googleapis.com/auth/bigquery\","
                                        "\"aud\":\"http://127.0.0.1:9/token\",\"iat\":1731400000,"
                                        "\"exp\":1731403600}");
    size_t sig_len;
    unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig_len);
    assert_int_equal(sig_len, 256);

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, test_key), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, sig, sig_len, (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
    EVP_MD_CTX_free(ctx);
    /* A changed claim must not verify: the check above can fail. */
    ctx = EVP_MD_CTX_new();
    jwt[1] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, test_key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(ctx, sig, sig_len, (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
    EVP_MD_CTX_free(ctx);

    relay_free(header);
    relay_free(claims);
    relay_free(sig);
    relay_free(jwt);
    bigquery_auth_destroy(a);
}

static void static_token_wins_and_is_never_invalidated(void **state)
{
    (void)state;
    struct config_bigquery conf = conf_with("tok-static", key_path, "http://127.0.0.1:9");
    struct bigquery_auth *a = bigquery_auth_create(&conf, NULL);
    assert_non_null(a);
    char *t = bigquery_auth_token(a, NULL, NULL);
    assert_string_equal(t, "tok-static");
    bigquery_auth_invalidate(a, t);
    char *again = bigquery_auth_token(a, NULL, NULL);
    assert_string_equal(again, "tok-static");
    assert_null(bigquery_auth_jwt(a, 1, NULL));
    relay_free(t);
    relay_free(again);
    bigquery_auth_destroy(a);
}

static void no_source_is_a_config_error(void **state)
{
    (void)state;
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    struct config_bigquery conf = conf_with("", "", "");
    struct relay_error err = {0};
    assert_null(bigquery_auth_create(&conf, &err));
    assert_int_equal(err.code, RELAY_ECONFIG);
    /* The environment variable names the key when the config does not. */
    setenv("GOOGLE_APPLICATION_CREDENTIALS", key_path, 1);
    struct bigquery_auth *a = bigquery_auth_create(&conf, &err);
    assert_non_null(a);
    char *jwt = bigquery_auth_jwt(a, 1, &err);
    assert_non_null(jwt);
    relay_free(jwt);
    bigquery_auth_destroy(a);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
}

static void bad_key_files_are_config_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/bq-auth-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bodies[] = {
        "not json",
        "{\"client_email\":\"a\",\"private_key_id\":\"k\",\"token_uri\":\"u\"}",
        "{\"client_email\":\"a\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n"
        "-----END PRIVATE KEY-----\\n\",\"private_key_id\":\"k\",\"token_uri\":\"u\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(pwrite(fd, bodies[i], strlen(bodies[i]), 0), (ssize_t)strlen(bodies[i]));
        struct config_bigquery conf = conf_with("", path, "");
        struct relay_error err = {0};
        assert_null(bigquery_auth_create(&conf, &err));
        assert_int_equal(err.code, RELAY_ECONFIG);
    }
    close(fd);
    unlink(path);
}

int main(void)
{
    relay_mem_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_header_claims_and_signature),
        cmocka_unit_test(static_token_wins_and_is_never_invalidated),
        cmocka_unit_test(no_source_is_a_config_error),
        cmocka_unit_test(bad_key_files_are_config_errors),
    };
    return cmocka_run_group_tests(tests, write_key_file, remove_key_file);
}
