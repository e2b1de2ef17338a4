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

// Whether `caller` may know that `request` exists: its authority sent it, or received it once
// submitted, or the caller is an oversight auditor and the request has been submitted.
bool Visible(const Caller& caller, const v1::Request& request);

// Reading a request or its trail. In order: NOT_FOUND unless Visible (whatever the caller's
// roles, so that a hidden request and a missing one answer alike); PERMISSION_DENIED if the
// caller holds no reading role (submitter, responder, auditor, oversight auditor).
absl::Status AuthorizeRead(const Caller& caller, const v1::Request& request);

// Listing requests: PERMISSION_DENIED without a reading role.
absl::Status AuthorizeList(const Caller& caller);

// True if listing shows every submitted request on the node, not only the authority's own.
bool SeesAllRequests(const Caller& caller);

// Creating a request: PERMISSION_DENIED unless the caller is a submitter.
absl::Status AuthorizeCreate(const Caller& caller);

// Changing a request. In order: NOT_FOUND unless Visible; PERMISSION_DENIED if the caller holds
// no acting role (submitter, responder) and is not the node, or if it takes no side (an oversight
// auditor of a third authority); PERMISSION_DENIED if it lacks that side's role (submitter for the
// requesting side, responder for the receiving side). Returns the side it acts for.
absl::StatusOr<v1::Side> AuthorizeAction(const Caller& caller, const v1::Request& request);

// Changing the directory: PERMISSION_DENIED unless the caller is an admin, and, when `existing`
// (the authority as it is now) is given, an admin of that authority. The node itself may seed it.
absl::Status AuthorizeDirectoryChange(const Caller& caller, const v1::Authority* existing);
// A Party's reservations are changed by an admin of one of its authorities: `caller_country` is
// the country of the caller's authority, `country` the reservation's.
absl::Status AuthorizeReservationChange(const Caller& caller, absl::string_view caller_country,
                                        absl::string_view country);

// Reading the directory's trail: admins, auditors and oversight auditors.
absl::Status AuthorizeDirectoryRead(const Caller& caller);

// The role the caller acts in on `side` (for the audit entry).
v1::Role ActingRole(const Caller& caller, v1::Side side);

}  // namespace comity::auth

#endif  // COMITY_SERVICES_AUTH_POLICY_H_
