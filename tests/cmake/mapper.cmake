# Mapper unit tests: every fixture decoded and checked field by field, the
# mapping file (default, validation errors, a custom field), webhook errors
# and quarantine, and the round-trip property test over every system. They
# link only relay_mappers (+ relay_base); RELAY_FIXTURES names the fixtures.
foreach(t test_mapper test_mapper_webhook test_mapper_mapping test_roundtrip)
    relay_unit_test(${t} ${CMAKE_SOURCE_DIR}/tests/unit/${t}.c relay_mappers)
endforeach()
