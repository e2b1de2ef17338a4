#ifndef COMITY_CLIENTS_CLI_ARGS_H_
#define COMITY_CLIENTS_CLI_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace comity::cli {

// One option a command takes: --name VALUE, or a switch --name when `value` is empty. Options
// may be repeated where the command reads them with GetAll.
struct Option {
  std::string name;   // without the dashes, e.g. "request-id"; "file" also answers to -f
  std::string value;  // how its value is shown in the help, e.g. "FILE"; "" for a switch
  std::string help;
};

// Command-line arguments after the subcommand: positionals and the options of the command's
// table, as --name VALUE, --name=VALUE or (switches) --name.
class Args {
 public:
  // INVALID_ARGUMENT for an option not in `options` (naming those it takes) or one that lacks
  // its value.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<Option>& options);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& name) const { return options_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> options_;
};

// "ESSENTIAL_INTERESTS", "essential-interests" -> the enum value; INVALID_ARGUMENT listing the
// accepted names otherwise.
absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type, const std::string& s);

// RFC 3339 ("2027-01-31T00:00:00Z") or a duration from now ("90d", "48h", "30m").
absl::StatusOr<absl::Time> ParseWhen(const std::string& s, absl::Time now);

// `t` to the second, for a request field.
google::protobuf::Timestamp ToTimestamp(absl::Time t);

// "ID" or "requests/ID" -> "requests/ID".
std::string RequestName(const std::string& id);

}  // namespace comity::cli

#endif  // COMITY_CLIENTS_CLI_ARGS_H_
