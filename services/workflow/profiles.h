#ifndef COMITY_SERVICES_WORKFLOW_PROFILES_H_
#define COMITY_SERVICES_WORKFLOW_PROFILES_H_

// Instrument profiles: the treaty rules as data (deploy/profiles/*.textproto, TREATY.md).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/resources.pb.h"

namespace comity::workflow {

using config::v1::InstrumentProfile;
using config::v1::TypeRule;

// An immutable set of checked profiles. Thread-safe.
class ProfileSet {
 public:
  // Loads every `*.textproto` in `dir`. INVALID_ARGUMENT naming the file and the problem if a
  // profile does not parse or is inconsistent (unknown field path, undefined ground, ...).
  static absl::StatusOr<std::unique_ptr<ProfileSet>> LoadDir(const std::string& dir);
  static absl::StatusOr<std::unique_ptr<ProfileSet>> FromProfiles(
      std::vector<InstrumentProfile> profiles);

  // nullptr if unknown.
  const InstrumentProfile* Find(absl::string_view id) const;
  std::vector<std::string> Ids() const;

 private:
  explicit ProfileSet(std::map<std::string, InstrumentProfile, std::less<>> profiles)
      : profiles_(std::move(profiles)) {}
  std::map<std::string, InstrumentProfile, std::less<>> profiles_;
};

// The reservation `code` the profile defines, or nullptr.
const config::v1::ReservationRule* FindReservationRule(const InstrumentProfile& profile,
                                                       absl::string_view code);

// The rule for `type` in `profile`, or nullptr if the instrument does not cover that type.
const TypeRule* FindTypeRule(const InstrumentProfile& profile, v1::RequestType type);

// The ground's definition, or nullptr.
const config::v1::Ground* FindGround(const InstrumentProfile& profile, absl::string_view code);

// True if `path` (e.g. "case_info.summary_of_facts") names a field of comity.v1.Request.
bool IsRequestFieldPath(absl::string_view path);

// The paths among `paths` that are not set in `request`: an empty string, repeated field, zero
// number, unspecified enum, false bool or absent message counts as not set.
std::vector<std::string> MissingFields(const v1::Request& request,
                                       const std::vector<std::string>& paths);

// Every field the request must have before submission under `profile`.
std::vector<std::string> RequiredFields(const InstrumentProfile& profile, const TypeRule& rule,
                                        v1::Priority priority);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_PROFILES_H_
