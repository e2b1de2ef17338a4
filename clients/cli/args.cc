#include "clients/cli/args.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace comity::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<Option>& options) {
  auto find = [&options](absl::string_view name) -> const Option* {
    for (const Option& o : options) {
      if (o.name == name) return &o;
    }
    return nullptr;
  };
  auto unknown = [&options](absl::string_view name) {
    std::vector<std::string> names;
    for (const Option& o : options) names.push_back("--" + o.name);
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown option --", name,
        names.empty() ? "; this command takes no options"
                      : absl::StrCat("; this command takes ", absl::StrJoin(names, ", "))));
  };
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (!absl::StartsWith(arg, "--") && !(arg.size() == 2 && arg[0] == '-' && arg[1] != '-')) {
      a.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "f") name = "file";
    const Option* option = find(name);
    if (option == nullptr) return unknown(name);
    if (option->value.empty()) {
      if (eq != std::string::npos)
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      value = "true";
    } else if (eq == std::string::npos) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value (", option->value, ")"));
      }
      value = argv[++i];
    }
    a.options_.emplace(name, value);
  }
  return a;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = options_.find(name);
  return it == options_.end() ? fallback : it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto range = options_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type, const std::string& s) {
  std::string want = absl::AsciiStrToUpper(absl::StrReplaceAll(s, {{"-", "_"}}));
  for (const std::string& candidate : {want, want + "_KIND", want + "_CONDITION"}) {
    if (const auto* v = type->FindValueByName(candidate); v != nullptr && v->number() != 0) {
      return v->number();
    }
  }
  std::vector<std::string> names;
  for (int i = 1; i < type->value_count(); ++i) {
    names.push_back(
        absl::AsciiStrToLower(absl::StrReplaceAll(type->value(i)->name(), {{"_", "-"}})));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", s, "' is not one of: ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<absl::Time> ParseWhen(const std::string& s, absl::Time now) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  if (absl::EndsWith(s, "d")) {
    int days = 0;
    if (absl::SimpleAtoi(s.substr(0, s.size() - 1), &days)) return now + absl::Hours(24) * days;
  }
  absl::Duration d;
  if (absl::ParseDuration(s, &d)) return now + d;
  return absl::InvalidArgumentError(
      absl::StrCat("'", s, "' is neither an RFC 3339 time nor a duration like 90d or 48h"));
}

std::string RequestName(const std::string& id) {
  if (id == "directory") return id;  // the directory's own trail
  return absl::StartsWith(id, "requests/") ? id : absl::StrCat("requests/", id);
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

}  // namespace comity::cli
