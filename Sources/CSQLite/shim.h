// The system SQLite (Debian's libsqlite3), plus what its header defines as macros Swift cannot import.
#include <sqlite3.h>

/// SQLITE_TRANSIENT: SQLite copies a bound value before the bind call returns.
static inline sqlite3_destructor_type tw_sqlite_transient(void) { return SQLITE_TRANSIENT; }
