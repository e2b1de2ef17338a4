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

// What the edge's checks may consult besides the body.
struct Edge {
  const Caller& caller;
  const Directory& directory;
  const ProfileSet& profiles;
};

struct ActionRow {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  const google::protobuf::Message* request = nullptr;  // its message's default instance
  std::string method;       // its RequestService method: the message's name less "Request"
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

// Every row, in the order of RequestService's methods in requests.proto.
const std::vector<ActionRow>& ActionTable();

// The row of `action`; null for the node's own actions (timers, reads, the directory's changes).
const ActionRow* FindAction(v1::Action action);

// The message every action's command carries: the table's for a caller's action, and for the
// node's own (a timer, a recorded read, a preservation's expiry, the directory's changes) the one
// it is made with. Null for an action no command takes. ValidateCommand refuses a command whose
// body is of another type, so Body<Msg> below always reads the type the body is.
const google::protobuf::Message* RequestMessageOf(v1::Action action);

// `command`'s body as the message of its action (RequestMessageOf), checked at the edge.
template <typename Msg>
const Msg& Body(const Command& command) {
  return static_cast<const Msg&>(*command.body);
}

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ACTION_TABLE_H_
