#include "clients/cli/args.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace comity::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::set<std::string>& switches) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (!absl::StartsWith(arg, "--") && !(arg.size() == 2 && arg[0] == '-' && arg[1] != '-')) {
      a.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    if (name == "f") name = "file";
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (switches.count(name) > 0) {
      value = "true";
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
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

absl::Status Args::Allow(const std::set<std::string>& names) const {
  for (const auto& [name, value] : options_) {
    if (names.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
  }
  return absl::OkStatus();
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
