#include <zlib.h>

// deflateInit2/inflateInit2 are macros; Swift sees these wrappers instead.
static inline int tw_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int tw_inflate_init_gzip(z_streamp stream) { return inflateInit2(stream, 15 + 16); }
