#ifndef COMITY_SERVICES_AUTH_POLICY_H_
#define COMITY_SERVICES_AUTH_POLICY_H_

// Who may see and act on a request. The one place these rules live.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "comity/v1/resources.pb.h"
#include "services/auth/caller.h"

namespace comity::auth {

// The side `caller` takes on `request`: REQUESTING for its creator's authority, RECEIVING for the
// requested authority once submitted, SYSTEM for the node. Anyone else gets NOT_FOUND, worded as
// for a request that does not exist: a request's existence is confidential.
absl::StatusOr<v1::Side> SideOf(const Caller& caller, const v1::Request& request);

// NOT_FOUND for `name`, the same text whether it exists or not.
absl::Status RequestNotFound(absl::string_view name);

// PERMISSION_DENIED unless the caller holds a role that may read requests of its authority.
absl::Status CheckMayRead(const Caller& caller);

// PERMISSION_DENIED unless the caller holds the role that acts for `side` (submitter for the
// requesting side, responder for the receiving side).
absl::Status CheckMayAct(const Caller& caller, v1::Side side);

// The role the caller acts in on `side` (for the audit entry).
v1::Role ActingRole(const Caller& caller, v1::Side side);

}  // namespace comity::auth

#endif  // COMITY_SERVICES_AUTH_POLICY_H_
