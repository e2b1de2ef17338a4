#include "services/workflow/names.h"

#include <cstring>

#include "absl/strings/numbers.h"
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

absl::StatusOr<PackageName> ParsePackageName(absl::string_view name, absl::string_view field) {
  absl::string_view rest = name;
  PackageName parsed;
  const size_t slash = rest.find("/packages/");
  absl::string_view number =
      slash == absl::string_view::npos ? "" : rest.substr(slash + strlen("/packages/"));
  if (!absl::ConsumePrefix(&rest, "requests/") || slash == absl::string_view::npos ||
      !IsValidId(std::string(rest.substr(0, slash - strlen("requests/")))) || number.empty() ||
      number.size() > 6 || number[0] == '0' || !absl::SimpleAtoi(number, &parsed.number) ||
      parsed.number < 1) {
    return InvalidField(std::string(field), "must be requests/<26-character id>/packages/<n>",
                        "PACKAGE_NAME_FORMAT");
  }
  parsed.request_id = std::string(rest.substr(0, slash - strlen("requests/")));
  return parsed;
}

std::string MakePackageName(absl::string_view request_id, int number) {
  return absl::StrCat("requests/", request_id, "/packages/", number);
}

std::string RequestOfName(absl::string_view name) {
  absl::StatusOr<PackageName> package = ParsePackageName(name, "name");
  return package.ok() ? RequestName(package->request_id) : std::string(name);
}

}  // namespace comity::workflow
