# Ingress (issue 3): webhook authentication is pure, so its test compiles
# webhook_auth.c directly and links only relay_base (OpenSSL comes with it).
relay_unit_test(test_webhook_auth ${CMAKE_SOURCE_DIR}/tests/unit/test_webhook_auth.c relay_base)
target_sources(test_webhook_auth PRIVATE ${CMAKE_SOURCE_DIR}/relay/webhook_auth.c)

# Answer bodies (pure rendering; civetweb only for the send path's symbols).
relay_unit_test(test_http_answer ${CMAKE_SOURCE_DIR}/tests/unit/test_http_answer.c relay_base
                ${CIVETWEB_LIB})
target_sources(test_http_answer PRIVATE ${CMAKE_SOURCE_DIR}/relay/http_answer.c)
