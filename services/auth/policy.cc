#include "services/auth/policy.h"

#include "absl/strings/str_cat.h"

namespace comity::auth {

absl::Status RequestNotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat(name, " not found (or not visible to your authority)"));
}

absl::StatusOr<v1::Side> SideOf(const Caller& caller, const v1::Request& request) {
  if (caller.system) return v1::SYSTEM;
  if (caller.authority == request.requesting_authority()) return v1::REQUESTING;
  if (caller.authority == request.requested_authority() && request.state() != v1::DRAFT) {
    return v1::RECEIVING;
  }
  return RequestNotFound(request.name());
}

absl::Status CheckMayRead(const Caller& caller) {
  if (caller.system || caller.Has(v1::SUBMITTER) || caller.Has(v1::RESPONDER) ||
      caller.Has(v1::AUDITOR)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "reading requests needs the submitter, responder or auditor role in your authority");
}

absl::Status CheckMayAct(const Caller& caller, v1::Side side) {
  switch (side) {
    case v1::SYSTEM:
      if (caller.system) return absl::OkStatus();
      break;
    case v1::REQUESTING:
      if (caller.Has(v1::SUBMITTER)) return absl::OkStatus();
      return absl::PermissionDeniedError(
          "acting for the requesting side needs the submitter role in your authority");
    case v1::RECEIVING:
      if (caller.Has(v1::RESPONDER)) return absl::OkStatus();
      return absl::PermissionDeniedError(
          "acting for the receiving side needs the responder role in your authority");
    case v1::SIDE_UNSPECIFIED:
    case v1::Side_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Side_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return absl::PermissionDeniedError("only the node itself takes this action");
}

v1::Role ActingRole(const Caller& caller, v1::Side side) {
  (void)caller;
  switch (side) {
    case v1::REQUESTING:
      return v1::SUBMITTER;
    case v1::RECEIVING:
      return v1::RESPONDER;
    default:
      return v1::ROLE_UNSPECIFIED;
  }
}

}  // namespace comity::auth
