#ifndef COMITY_SERVICES_WORKFLOW_ACTION_TABLE_H_
#define COMITY_SERVICES_WORKFLOW_ACTION_TABLE_H_

// The actions a caller takes on a request, one row each: its request message (and so its
// RequestService method), the sides that take it, the checks of its own fields at the edge, and
// what it does to the request in the sequencer. The RPC adapter registers its methods from this
// table, validation and the applier dispatch through it, and the authorization test and the CLI's
// test are checked against it; nothing else lists the actions. Who may call a row: the caller's
// authority must be on a side that takes it, with the submitter role for the requesting side or
// the responder role for the receiving side (services/auth/policy.h).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "comity/v1/resources.pb.h"
#include "google/protobuf/message.h"
#include "services/workflow/actions.h"
#include "services/workflow/checker.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

struct ActionRow {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  const google::protobuf::Message* request = nullptr;  // its message's default instance
  std::string service;      // the service of its method, e.g. "comity.v1.RequestService"
  std::string method;       // its method: the message's name less "Request"
  bool requesting = false;  // the requesting side takes it
  bool receiving = false;   // the receiving side takes it
  // The checks of the body's own fields; `body` is of `request`'s type.
  void (*check)(const google::protobuf::Message& body, const Edge& edge, Checker& c) = nullptr;
  // What it does to a request whose visibility, side and etag are checked; null for CREATE, whose
  // draft NewDraft makes. `in.command.body` is of `request`'s type.
  absl::Status (*apply)(const ActionInput& in, v1::Request& record, Effect& effect) = nullptr;

  bool TakenBy(v1::Side side) const {
    return side == v1::REQUESTING ? requesting : side == v1::RECEIVING && receiving;
  }
};

// Every row: RequestService's methods in the order of requests.proto, then EvidenceService's.
const std::vector<ActionRow>& ActionTable();

// The row of `action`; null for the node's own actions (timers, reads, the directory's changes).
const ActionRow* FindAction(v1::Action action);

// The message every action's command carries: the table's for a caller's action, and for the
// node's own (a timer, a recorded read, a preservation's expiry, the directory's changes) the one
// it is made with. Null for an action no command takes. ValidateCommand refuses a command whose
// body is of another type, so Body<Msg> (command.h) always reads the type the body is.
const google::protobuf::Message* RequestMessageOf(v1::Action action);

// The edge, through the table, on the caller's thread before the sequencer: checks that
// `command`'s body is its action's message, then its fields against their formats and limits, and
// a draft's content against the directory (the requested authority exists and accepts the
// language) and the profiles (the instrument exists and covers the request type). Every
// violation at once, as INVALID_ARGUMENT with google.rpc.BadRequest details (field and rule).
absl::Status ValidateCommand(const Command& command, const Directory& directory,
                             const ProfileSet& profiles);

// The sequencer, through the table: applies `input.command` to `record`, whose visibility, the
// caller's role and the etag have been checked: the lifecycle table (FAILED_PRECONDITION), then the
// profile's rules (INVALID_ARGUMENT for a ground or date the instrument does not allow,
// FAILED_PRECONDITION for a state of another request). Sets the new state. On error `record` may be
// partly changed and must be dropped.
absl::Status ApplyAction(const ActionInput& input, v1::Request& record, Effect& effect);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ACTION_TABLE_H_
