#include "services/auth/policy.h"

#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace comity::auth {

absl::Status RequestNotFound(absl::string_view name) {
  return absl::NotFoundError(
      absl::StrCat(Echo(name), " not found (or not visible to your authority)"));
}

absl::StatusOr<v1::Side> SideOf(const Caller& caller, const v1::Request& request) {
  if (caller.system) return v1::SYSTEM;
  if (caller.authority == request.requesting_authority()) return v1::REQUESTING;
  // The receiving side sees a request from its submission on, never a draft (nor a draft the
  // requesting side withdrew).
  if (caller.authority == request.requested_authority() && request.has_submit_time()) {
    return v1::RECEIVING;
  }
  return RequestNotFound(request.name());
}

namespace {

bool CanRead(const Caller& c) {
  return c.system || c.Has(v1::SUBMITTER) || c.Has(v1::RESPONDER) || c.Has(v1::AUDITOR) ||
         c.Has(v1::OVERSIGHT_AUDITOR);
}

}  // namespace

absl::Status AuthorizeList(const Caller& caller) {
  if (CanRead(caller)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "reading requests needs the submitter, responder or auditor role in your authority");
}

bool SeesAllRequests(const Caller& caller) { return caller.Has(v1::OVERSIGHT_AUDITOR); }

bool Visible(const Caller& caller, const v1::Request& request) {
  if (SideOf(caller, request).ok()) return true;
  return SeesAllRequests(caller) && request.has_submit_time();
}

absl::Status AuthorizeRead(const Caller& caller, const v1::Request& request) {
  // Visibility first: a caller who may not see the request learns nothing, whatever its roles.
  if (!Visible(caller, request)) return RequestNotFound(request.name());
  return AuthorizeList(caller);
}

absl::Status AuthorizeCreate(const Caller& caller) {
  if (caller.Has(v1::SUBMITTER)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "drafting requests needs the submitter role in your authority");
}

absl::StatusOr<v1::Side> AuthorizeAction(const Caller& caller, const v1::Request& request) {
  // Visibility first: a caller who may not see the request learns nothing, whatever its roles.
  if (!Visible(caller, request)) return RequestNotFound(request.name());
  if (!caller.system && !caller.Has(v1::SUBMITTER) && !caller.Has(v1::RESPONDER)) {
    return absl::PermissionDeniedError(
        "changing requests needs the submitter or responder role in your authority");
  }
  absl::StatusOr<v1::Side> side = SideOf(caller, request);
  if (!side.ok()) {
    // An oversight auditor sees every submitted request but acts on none of another authority.
    return absl::PermissionDeniedError(
        "changing a request needs the submitter or responder role in one of its two authorities");
  }
  switch (*side) {
    case v1::SYSTEM:
      return side;
    case v1::REQUESTING:
      if (caller.Has(v1::SUBMITTER)) return side;
      return absl::PermissionDeniedError(
          "acting for the requesting side needs the submitter role in your authority");
    case v1::RECEIVING:
      if (caller.Has(v1::RESPONDER)) return side;
      return absl::PermissionDeniedError(
          "acting for the receiving side needs the responder role in your authority");
    default:
      break;
  }
  return RequestNotFound(request.name());
}

absl::Status AuthorizeDirectoryChange(const Caller& caller, const v1::Authority* existing) {
  if (caller.system) return absl::OkStatus();
  if (!caller.Has(v1::ADMIN)) {
    return absl::PermissionDeniedError("changing the directory needs the admin role");
  }
  if (existing != nullptr && existing->name() != caller.authority) {
    return absl::PermissionDeniedError(
        "an admin manages its own authority's entry; ask an admin of that authority");
  }
  return absl::OkStatus();
}

absl::Status AuthorizeReservationChange(const Caller& caller, absl::string_view caller_country,
                                        absl::string_view country) {
  if (caller.system) return absl::OkStatus();
  if (!caller.Has(v1::ADMIN)) {
    return absl::PermissionDeniedError("changing the directory needs the admin role");
  }
  if (caller_country != country) {
    return absl::PermissionDeniedError(
        "a Party's reservations are recorded by an admin of one of that Party's authorities");
  }
  return absl::OkStatus();
}

absl::Status AuthorizeDirectoryRead(const Caller& caller) {
  if (caller.system || caller.Has(v1::ADMIN) || caller.Has(v1::AUDITOR) ||
      caller.Has(v1::OVERSIGHT_AUDITOR)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("the directory's trail is for admins and auditors");
}

v1::Role ActingRole(const Caller& caller, v1::Side side) {
  switch (side) {
    case v1::REQUESTING:
      return v1::SUBMITTER;
    case v1::RECEIVING:
      return v1::RESPONDER;
    case v1::SIDE_UNSPECIFIED:
      return caller.Has(v1::ADMIN) ? v1::ADMIN : v1::ROLE_UNSPECIFIED;
    default:
      return v1::ROLE_UNSPECIFIED;
  }
}

}  // namespace comity::auth
