#include "services/workflow/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"

namespace comity::workflow {

absl::Status InvalidFields(const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest details;
  for (const FieldViolation& v : violations) {
    auto* out = details.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
    out->set_reason(v.reason);
  }
  std::string message = violations.empty() ? std::string("invalid request")
                        : violations[0].field.empty()
                            ? violations[0].description
                            : absl::StrCat(violations[0].field, ": ", violations[0].description);
  if (violations.size() > 1) {
    absl::StrAppend(&message, " (and ", violations.size() - 1, " more problem",
                    violations.size() > 2 ? "s" : "", ")");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kBadRequestUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

absl::Status InvalidField(std::string field, std::string description, std::string reason) {
  return InvalidFields({{std::move(field), std::move(description), std::move(reason)}});
}

absl::Status Precondition(std::string type, std::string subject, std::string description) {
  google::rpc::PreconditionFailure details;
  auto* v = details.add_violations();
  v->set_type(type);
  v->set_subject(subject);
  v->set_description(description);
  absl::Status status = absl::FailedPreconditionError(description);
  status.SetPayload(kPreconditionFailureUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  absl::optional<absl::Cord> payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return out;
  google::rpc::BadRequest details;
  if (!details.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : details.field_violations()) {
    out.push_back({v.field(), v.description(), v.reason()});
  }
  return out;
}

std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status) {
  std::vector<PreconditionViolation> out;
  absl::optional<absl::Cord> payload = status.GetPayload(kPreconditionFailureUrl);
  if (!payload) return out;
  google::rpc::PreconditionFailure details;
  if (!details.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : details.violations()) {
    out.push_back({v.type(), v.subject(), v.description()});
  }
  return out;
}

}  // namespace comity::workflow
