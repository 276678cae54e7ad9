// The shims are static inline in the header; this file gives the target a translation unit.
#include "CSystemShims.h"
