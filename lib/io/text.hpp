#pragma once
// Internal: text from a file inside a one-line error message.

#include <string>

namespace xgrad::io {

// Text from a file (a name, a stored string) inside a message: control characters escaped, so
// that a damaged byte cannot break the one-line message (a '\n' in a damaged name did).
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
