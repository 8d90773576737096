# cmake -DIN=<file> -DOUT=<header> -DNAME=<array> -P embed.cmake
# Writes the file as a NUL-terminated C byte array NAME (no xxd needed).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
    "/* Generated from ${IN} by cmake/embed.cmake; do not edit. */\n"
    "static const unsigned char ${NAME}[] = {\n${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
