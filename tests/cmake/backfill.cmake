# Backfill unit tests (issue 7): the comparison rules of verify, a
# backfilled contact as an event, and the progress line. The readers, the
# checkpoint and the commands are tested end to end by
# tests/integration/test_push*.sh and test_verify.sh.
relay_unit_test(test_backfill ${CMAKE_SOURCE_DIR}/tests/unit/test_backfill.c relay_app)
