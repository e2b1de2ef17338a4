#ifndef COMITY_COMMON_FILES_H_
#define COMITY_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace comity {

// Returns the whole content of the file at `path`, or NOT_FOUND / UNAVAILABLE naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace comity

#endif  // COMITY_COMMON_FILES_H_
