#pragma once
// Text from files (names, stored strings, file names) on a terminal or in a one-line message.

#include <string>

namespace xgrad::io {

// Text from a file (a name, a stored string, a file name) inside a message or a result line:
// control characters (newlines, escape sequences, DEL) escaped as \xNN, so that no file can break
// a one-line message, forge a result line or send a terminal escape code (a '\n' in a damaged
// name did). Other bytes, UTF-8 included, are kept.
inline std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c != 0x7F) {
            out += char(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace xgrad::io
