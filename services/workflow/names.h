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

// An evidence package's name: requests/<id>/packages/<n>, n from 1 in decimal.
struct PackageName {
  std::string request_id;
  int number = 0;
};
// The parts of `name`, or INVALID_ARGUMENT (with the field violation) on `field`.
absl::StatusOr<PackageName> ParsePackageName(absl::string_view name, absl::string_view field);
std::string MakePackageName(absl::string_view request_id, int number);
// The request `name` stands for: the request of a package's name, else `name` as it is (a
// malformed one is then refused where it is read, naming the field).
std::string RequestOfName(absl::string_view name);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_NAMES_H_
