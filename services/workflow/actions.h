#ifndef COMITY_SERVICES_WORKFLOW_ACTIONS_H_
#define COMITY_SERVICES_WORKFLOW_ACTIONS_H_

// What each action does to a request: the lifecycle step, the instrument profile's rules, and the
// changed fields. Pure apart from reads through a View; the engine writes the result.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "comity/v1/resources.pb.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

// Reads as the sequencer sees the store: committed data plus this commit group's changes.
class View {
 public:
  virtual ~View() = default;
  // The request with id `id`, or NOT_FOUND.
  virtual absl::StatusOr<v1::Request> LoadRequest(absl::string_view id) const = 0;
  // Ids of the submitted follow-up requests linked to a preservation.
  virtual absl::StatusOr<std::vector<std::string>> FollowUps(absl::string_view id) const = 0;
};

// What an action records beyond the new record.
struct Effect {
  v1::AuditEntry entry;  // the action's own details: grounds, reasons, note, conditions, basis
  std::vector<std::pair<std::string, std::string>> index_puts;  // kIndex key -> value
  v1::NoteKind note_kind = v1::NOTE_KIND_UNSPECIFIED;           // a note's kind, for the clocks
};

struct ActionInput {
  const Command& command;
  v1::Side side;
  absl::Time now;
  const InstrumentProfile& profile;
  const View& view;
  // The Parties' reservations (for grounds a profile reserves); null for the node's own actions.
  const Directory* directory = nullptr;
};

// Applies `input.command` to `record`, whose visibility, the caller's role and the etag have
// been checked: the lifecycle table (FAILED_PRECONDITION), then the profile's rules
// (INVALID_ARGUMENT for a ground or date the instrument does not allow, FAILED_PRECONDITION for
// a state of another request). Sets the new state. On error `record` may be partly changed and
// must be dropped.
absl::Status ApplyAction(const ActionInput& input, v1::Request& record, Effect& effect);

// Builds a new draft from a CreateRequest command (output-only fields cleared), checking a
// follow-up link against the view.
absl::StatusOr<v1::Request> NewDraft(const Command& command, const std::string& id, absl::Time now,
                                     const View& view);

// True while a follow-up in `state` holds the preservation it follows: from submission until
// the data are delivered (EXECUTED) or the follow-up ends.
bool HoldsPreservation(v1::State state);

// The name of a follow-up of preservation `id` that holds it, or "" if none does.
absl::StatusOr<std::string> HoldingFollowUp(const View& view, absl::string_view id);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ACTIONS_H_
