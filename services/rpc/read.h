#ifndef COMITY_SERVICES_RPC_READ_H_
#define COMITY_SERVICES_RPC_READ_H_

#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "services/rpc/identify.h"
#include "services/rpc/security_log.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/engine.h"

namespace comity::rpc {

// The whole of a read handler: identify the caller, check that `request` is well formed, run
// `read(caller)` (returning absl::StatusOr<Reply>), fill `reply` and finish (refusals go to the
// security log). Reads never go through the engine.
template <typename Reply, typename Read>
grpc::ServerUnaryReactor* AnswerRead(grpc::CallbackServerContext* ctx, const Identifier& identifier,
                                     SecurityLog& log, const char* method,
                                     const google::protobuf::Message& request, Reply* reply,
                                     Read&& read) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = log.Start(); !s.ok()) {
    log.Finish(reactor, *ctx, method, s);
    return reactor;
  }
  absl::StatusOr<workflow::Caller> caller = identifier.Identify(*ctx);
  if (caller.ok()) {
    if (absl::Status s = CheckWellFormed(request); !s.ok()) caller = s;
  }
  absl::StatusOr<Reply> result =
      caller.ok() ? std::forward<Read>(read)(*caller) : absl::StatusOr<Reply>(caller.status());
  if (result.ok()) *reply = *std::move(result);
  log.Finish(reactor, *ctx, method, result.status());
  return reactor;
}

// Records that `caller` read `name` (`what`: the RPC) on the request's trail, without waiting:
// the entry joins the engine's next commit group, so the read is not slowed down.
inline void RecordRead(workflow::Engine* engine, const workflow::Caller& caller,
                       const std::string& name, const char* what) {
  if (engine == nullptr) return;
  v1::RecordAccessRequest access;
  access.set_name(name);
  access.set_what(what);
  engine->Apply(workflow::MakeCommand(v1::ACCESS, caller, access),
                [](absl::StatusOr<v1::Request>) {});
}

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_READ_H_
