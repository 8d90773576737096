# cmake -DIN=<yaml> -DOUT=<header> -P embed_yaml.cmake
# Writes the file as a NUL-terminated C byte array (no xxd needed).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
    "/* Generated from ${IN} by mappers/embed_yaml.cmake; do not edit. */\n"
    "static const unsigned char mapping_default_yaml[] = {\n${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
