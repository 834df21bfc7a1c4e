// Signed tags moved to the jose library (jose/jws.h) so steward can verify them without linking
// the client; this header keeps the client's includes working.
#pragma once

#include "jose/jws.h"
