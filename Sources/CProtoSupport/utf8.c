#include "CProtoSupport.h"

#include <string.h>

// Well-formed UTF-8 per the Unicode standard, table 3-7: the second byte's range depends on the first.
int tw_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        // ASCII fast path: eight bytes at a time.
        while (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0) lo = 0xa0;       // no overlong 3-byte forms
            if (c == 0xed) hi = 0x9f;       // no surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0) lo = 0x90;       // no overlong 4-byte forms
            if (c == 0xf4) hi = 0x8f;       // nothing above U+10FFFF
        } else {
            return 0;                        // 0x80–0xc1 and 0xf5–0xff never start a character
        }
        if (len - i - 1 < n) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        }
        i += n + 1;
    }
    return 1;
}
