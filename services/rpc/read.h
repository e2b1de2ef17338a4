#ifndef COMITY_SERVICES_RPC_READ_H_
#define COMITY_SERVICES_RPC_READ_H_

#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "services/rpc/identify.h"
#include "services/rpc/security_log.h"

namespace comity::rpc {

// The whole of a read handler: identify the caller, run `read(caller)` (returning
// absl::StatusOr<Reply>), fill `reply` and finish (refusals go to the security log). Reads never
// go through the engine.
template <typename Reply, typename Read>
grpc::ServerUnaryReactor* AnswerRead(grpc::CallbackServerContext* ctx, const Identifier& identifier,
                                     SecurityLog& log, const char* method, Reply* reply,
                                     Read&& read) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier.Identify(*ctx);
  absl::StatusOr<Reply> result =
      caller.ok() ? std::forward<Read>(read)(*caller) : absl::StatusOr<Reply>(caller.status());
  if (result.ok()) *reply = *std::move(result);
  log.Finish(reactor, *ctx, method, result.status());
  return reactor;
}

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_READ_H_
