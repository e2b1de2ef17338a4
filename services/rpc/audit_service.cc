#include "services/rpc/audit_service.h"

#include "services/rpc/status.h"

namespace comity::rpc {

grpc::ServerUnaryReactor* AuditService::GetTrail(grpc::CallbackServerContext* ctx,
                                                 const v1::GetTrailRequest* req,
                                                 v1::Trail* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  absl::StatusOr<v1::Trail> trail =
      caller.ok() ? reader_->Trail(*caller, req->request()) : caller.status();
  if (trail.ok()) *reply = *std::move(trail);
  reactor->Finish(ToGrpcStatus(trail.status()));
  return reactor;
}

}  // namespace comity::rpc
