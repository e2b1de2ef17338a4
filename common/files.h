#ifndef COMITY_COMMON_FILES_H_
#define COMITY_COMMON_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace comity {

// Returns the whole content of the file at `path`, or NOT_FOUND / UNAVAILABLE naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The resident memory of process `pid` (0: this one) in KiB, VmRSS in /proc/<pid>/status; 0 if
// it cannot be read.
int64_t ResidentKib(int pid = 0);

}  // namespace comity

#endif  // COMITY_COMMON_FILES_H_
