#ifndef COMITY_SERVICES_WORKFLOW_NAMES_H_
#define COMITY_SERVICES_WORKFLOW_NAMES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace comity::workflow {

// "requests/<id>" -> id, or INVALID_ARGUMENT (with the field violation) on `field`.
absl::StatusOr<std::string> ParseRequestName(absl::string_view name, absl::string_view field);

// id -> "requests/<id>".
std::string RequestName(absl::string_view id);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_NAMES_H_
