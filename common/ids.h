#ifndef COMITY_COMMON_IDS_H_
#define COMITY_COMMON_IDS_H_

#include <string>

#include "absl/time/time.h"

namespace comity {

// Returns a new identifier, unique across nodes and sortable by time: 26 characters of Crockford
// base32 (ULID layout), 48 bits of milliseconds since the epoch then 80 random bits from the
// operating system's CSPRNG. Ids made in the same millisecond by one process still sort in order.
// Thread-safe.
std::string NewId(absl::Time now);

// True if `id` has the form NewId produces.
bool IsValidId(const std::string& id);

}  // namespace comity

#endif  // COMITY_COMMON_IDS_H_
