#ifndef COMITY_SERVICES_WORKFLOW_APPLIER_H_
#define COMITY_SERVICES_WORKFLOW_APPLIER_H_

// The write path's two decisions about one request, both pure: who the caller is to it
// (Authorize, once, before anything is applied on the caller's behalf), and what the command
// makes of it (ApplyChange: a Change value). Neither touches the store, the network or the clock;
// other requests are read through a View. The engine loads the record, seals the Change's entry
// and writes it.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "comity/v1/resources.pb.h"
#include "services/workflow/actions.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/indexes.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

// Who the caller is to the request a command acts on.
struct Decision {
  v1::Side side = v1::SIDE_UNSPECIFIED;
  v1::Role role = v1::ROLE_UNSPECIFIED;  // the role it acts in, for the entry's actor
};

// Decides whether `command`'s caller may take its action on `record` (null for CREATE):
// NOT_FOUND for a request it may not see, PERMISSION_DENIED for a role that may not create, a
// side that never takes the action, or a timer not fired by the node. The etag is not checked.
absl::StatusOr<Decision> Authorize(const Command& command, const v1::Request* record);

// A change to one request, decided but not yet sealed or written.
struct Change {
  std::string id;
  // After the change: state, fields, clocks, version, etag and update time. Its audit head and
  // size are the previous entry's until the entry is sealed.
  v1::Request record;
  // Chained to the trail (sequence, previous hash), with who acted when, the action, the states
  // before and after and the action's details; sealing gives it its digest and leaf.
  v1::AuditEntry entry;
  // Index keys the action itself adds (the party, a follow-up link, a timer looked at again);
  // then those derived from the record (DerivedKeys) that the change ends and starts. (A timer's
  // own key is used up whatever comes of it, so the engine removes it before applying.)
  std::vector<std::pair<std::string, std::string>> index_puts;
  std::vector<std::string> derived_deletes;
  std::vector<std::string> derived_puts;
  Figures figures;  // counter deltas (FigureDelta)
  std::vector<std::string> evidence_key_deletes;  // kEvidenceKeys: erased packages' data keys
};

struct ApplyInput {
  const Command& command;
  Decision decision;
  absl::Time now;
  const ProfileSet& profiles;
  const View& view;
  // The Parties' reservations (for grounds a profile reserves); null for the node's own actions.
  const Directory* directory = nullptr;
};

// Applies `in.command` to `record`, the request `id` before the change (none for CREATE, whose
// `id` is new). A lifecycle action follows the lifecycle table and the instrument profile; a
// timer records a warning, a breach, or a preservation held or expired; ACCESS records a read.
// Errors: FAILED_PRECONDITION (a state, a stale timer, a profile not loaded), INVALID_ARGUMENT
// (a ground, date or size the profile or node does not allow), NOT_FOUND (a follow-up's link).
absl::StatusOr<Change> ApplyChange(const ApplyInput& in, const std::string& id,
                                   std::optional<v1::Request> record);

// Starts `entry` as the next entry of `trail`, whose size and head are `size` and `head`: its
// place in the chain, its time, who acted in which role for which side, and the action.
void StartEntry(const std::string& trail, uint64_t size, const std::string& head, absl::Time now,
                const Command& cmd, v1::Role role, v1::Side side, v1::AuditEntry& entry);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_APPLIER_H_
