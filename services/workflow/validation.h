#ifndef COMITY_SERVICES_WORKFLOW_VALIDATION_H_
#define COMITY_SERVICES_WORKFLOW_VALIDATION_H_

// Validation at the edge: pure checks of a command's own fields, run on the caller's thread
// before the command reaches the sequencer. Every violation is reported at once, as
// INVALID_ARGUMENT with google.rpc.BadRequest details (field path and rule).

#include "absl/status/status.h"
#include "services/workflow/checker.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

// A stored request record, whatever its history: a change that would make it larger is refused
// (INVALID_ARGUMENT, reason RECORD_TOO_LARGE). A page of a listing is cut to stay under the
// gRPC message limit however large its records are.
inline constexpr size_t kMaxRecordBytes = 1 << 20;

// Checks `command`'s fields against their formats and limits, and a draft's content against the
// directory (the requested authority exists and accepts the language) and the profiles (the
// instrument exists and covers the request type).
absl::Status ValidateCommand(const Command& command, const Directory& directory,
                             const ProfileSet& profiles);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_VALIDATION_H_
