// The system SQLite (Debian's libsqlite3).
#include <sqlite3.h>
