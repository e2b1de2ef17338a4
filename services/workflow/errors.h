#ifndef COMITY_SERVICES_WORKFLOW_ERRORS_H_
#define COMITY_SERVICES_WORKFLOW_ERRORS_H_

// Errors with machine-readable details. The details ride as absl::Status payloads holding
// google.rpc.BadRequest / google.rpc.PreconditionFailure; the RPC adapter moves them into the
// gRPC status details.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace comity::workflow {

inline constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kPreconditionFailureUrl[] =
    "type.googleapis.com/google.rpc.PreconditionFailure";

struct FieldViolation {
  std::string field;        // e.g. "request.case_info.summary_of_facts"; "" for the whole body
  std::string description;  // for a person
  std::string reason;       // the rule, e.g. "REQUIRED_BY_PROFILE"
};

// INVALID_ARGUMENT listing every violation (at least one). The message names the first and says
// how many more there are.
absl::Status InvalidFields(const std::vector<FieldViolation>& violations);
absl::Status InvalidField(std::string field, std::string description, std::string reason);

// FAILED_PRECONDITION with one PreconditionFailure violation.
absl::Status Precondition(std::string type, std::string subject, std::string description);

// The violations carried by `status`, if any (for tests and the CLI's messages).
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

struct PreconditionViolation {
  std::string type, subject, description;
};
// The PreconditionFailure violations carried by `status`, if any.
std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ERRORS_H_
