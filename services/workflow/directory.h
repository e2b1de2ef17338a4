#ifndef COMITY_SERVICES_WORKFLOW_DIRECTORY_H_
#define COMITY_SERVICES_WORKFLOW_DIRECTORY_H_

// The authorities this node knows, their members and roles. Immutable once loaded; thread-safe.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/auth/caller.h"

namespace comity::workflow {

using auth::Caller;

class Directory {
 public:
  // Loads a comity.config.v1.DirectoryConfig in text format. INVALID_ARGUMENT naming the problem
  // (malformed authority name, country code, principal, duplicate member).
  static absl::StatusOr<std::unique_ptr<Directory>> LoadFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Directory>> FromConfig(config::v1::DirectoryConfig config);

  // nullptr if unknown.
  const v1::Authority* FindAuthority(absl::string_view name) const;
  std::vector<const v1::Authority*> Authorities() const;

  // The caller a principal is, or PERMISSION_DENIED if no authority lists it.
  absl::StatusOr<Caller> CallerFor(absl::string_view principal) const;

  const std::string& trust_domain() const { return config_.trust_domain(); }

 private:
  explicit Directory(config::v1::DirectoryConfig config);
  config::v1::DirectoryConfig config_;
  std::map<std::string, const v1::Authority*, std::less<>> by_name_;
  std::map<std::string, Caller, std::less<>> by_principal_;
};

// True for "authorities/<ID>" with ID of 2-32 characters from A-Z, 0-9 and '-'.
bool IsAuthorityName(absl::string_view name);

// True for an ISO 3166-1 alpha-2 shaped code (two upper-case letters).
bool IsCountryCode(absl::string_view code);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_DIRECTORY_H_
