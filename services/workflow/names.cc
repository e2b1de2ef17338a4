#include "services/workflow/names.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ids.h"
#include "services/workflow/errors.h"

namespace comity::workflow {

absl::StatusOr<std::string> ParseRequestName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, "requests/") || !IsValidId(std::string(id))) {
    return InvalidField(std::string(field), "must be requests/<26-character id>", "NAME_FORMAT");
  }
  return std::string(id);
}

std::string RequestName(absl::string_view id) { return absl::StrCat("requests/", id); }

}  // namespace comity::workflow
