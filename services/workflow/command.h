#ifndef COMITY_SERVICES_WORKFLOW_COMMAND_H_
#define COMITY_SERVICES_WORKFLOW_COMMAND_H_

#include <memory>
#include <string>
#include <type_traits>

#include "comity/config/v1/config.pb.h"
#include "comity/v1/audit.pb.h"
#include "comity/v1/directory.pb.h"
#include "comity/v1/evidence.pb.h"
#include "comity/v1/federation.pb.h"
#include "comity/v1/requests.pb.h"
#include "comity/v1/resources.pb.h"
#include "google/protobuf/message.h"
#include "services/auth/caller.h"
#include "services/workflow/names.h"

namespace comity::workflow {

using auth::Caller;

// One change asked of the engine. `body` is the API message of the verb (e.g.
// comity.v1.RefuseRequestRequest for REFUSE); the engine reads it as that type.
struct Command {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  Caller caller;
  std::shared_ptr<const google::protobuf::Message> body;
  std::string name;        // requests/{id}; empty for CREATE
  std::string etag;        // empty: no concurrency check
  std::string request_id;  // empty: not idempotent
  // Federation: an action a peer forwarded (caller.node set): taken at its event time, and for
  // SUBMIT on the request as submitted there.
  std::shared_ptr<const v1::ForwardedAction> relayed;
};

// `command`'s body as the message of its action (RequestMessageOf in action_table.h), which
// ValidateCommand checks before anything reads it.
template <typename Msg>
const Msg& Body(const Command& command) {
  return static_cast<const Msg&>(*command.body);
}

// Only for API messages: a shared_ptr body takes the overload below.
template <typename Msg,
          typename = std::enable_if_t<std::is_base_of_v<google::protobuf::Message, Msg>>>
Command MakeCommand(v1::Action action, Caller caller, const Msg& body) {
  Command c;
  c.action = action;
  c.caller = std::move(caller);
  auto copy = std::make_shared<Msg>(body);
  c.name = RequestOfName(copy->name());  // ERASE_PACKAGE's body names the package
  c.etag = copy->etag();
  c.request_id = copy->request_id();
  c.body = std::move(copy);
  return c;
}

// A command whose body, of any action's message, is shared rather than copied: its name, etag
// and request_id are read from the body's fields of those names, where it has them.
Command MakeCommand(v1::Action action, Caller caller,
                    std::shared_ptr<const google::protobuf::Message> body);

// A body that names no request, only an idempotency key (the directory's changes).
template <typename Msg>
Command MakeKeyedCommand(v1::Action action, Caller caller, const Msg& body) {
  Command c;
  c.action = action;
  c.caller = std::move(caller);
  c.request_id = body.request_id();
  c.body = std::make_shared<Msg>(body);
  return c;
}

inline Command MakeCommand(v1::Action action, Caller caller,
                           const v1::SetReservationRequest& body) {
  return MakeKeyedCommand(action, std::move(caller), body);
}

inline Command MakeCommand(v1::Action action, Caller caller,
                           const v1::UpsertAuthorityRequest& body) {
  return MakeKeyedCommand(action, std::move(caller), body);
}

// The node's first directory, written by the node itself.
inline Command MakeSeedDirectoryCommand(const config::v1::DirectoryConfig& config) {
  Command c;
  c.action = v1::SEED_DIRECTORY;
  c.caller = Caller::System();
  c.body = std::make_shared<config::v1::DirectoryConfig>(config);
  return c;
}

// True for the actions that change the directory rather than a request.
inline bool IsDirectoryAction(v1::Action action) {
  return action == v1::SEED_DIRECTORY || action == v1::UPSERT_AUTHORITY ||
         action == v1::SET_RESERVATION || action == v1::PEER_DIRECTORY ||
         action == v1::PEER_SPLIT_VIEW || action == v1::CLEAR_SPLIT_VIEW;
}

// True for the node's own bookkeeping of relayed requests.
inline bool IsRelayAction(v1::Action action) {
  return action == v1::MIRROR || action == v1::RELAY_STATE || action == v1::FETCH_PACKAGE;
}

// True for the node's timed actions on a request's clock (body: comity.v1.ClockTimerRequest):
// CLOCK_WARNING for a warning, CLOCK_BREACH for a due time.
// A read recorded on the trail: the record does not change and no event is published.
inline bool IsReadAction(v1::Action action) {
  return action == v1::ACCESS || action == v1::DOWNLOAD;
}

inline bool IsTimerAction(v1::Action action) {
  return action == v1::CLOCK_WARNING || action == v1::CLOCK_BREACH;
}

inline Command MakeTimerCommand(const v1::ClockTimerRequest& timer) {
  Command c;
  c.action = timer.warning() ? v1::CLOCK_WARNING : v1::CLOCK_BREACH;
  c.caller = Caller::System();
  c.name = timer.name();
  c.body = std::make_shared<v1::ClockTimerRequest>(timer);
  return c;
}

inline Command MakeCommand(v1::Action action, Caller caller, const v1::CreateRequestRequest& body) {
  return MakeKeyedCommand(action, std::move(caller), body);
}

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_COMMAND_H_
