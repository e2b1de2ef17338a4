#include "services/rpc/audit_service.h"

#include "services/rpc/read.h"

namespace comity::rpc {

grpc::ServerUnaryReactor* AuditService::GetTrail(grpc::CallbackServerContext* ctx,
                                                 const v1::GetTrailRequest* req, v1::Trail* reply) {
  return AnswerRead(
      ctx, *identifier_, *log_, "/comity.v1.AuditService/GetTrail", reply,
      [&](const workflow::Caller& caller) { return reader_->Trail(caller, req->request()); });
}

grpc::ServerUnaryReactor* AuditService::GetCheckpoint(grpc::CallbackServerContext* ctx,
                                                      const v1::GetCheckpointRequest*,
                                                      v1::Checkpoint* reply) {
  return AnswerRead(ctx, *identifier_, *log_, "/comity.v1.AuditService/GetCheckpoint", reply,
                    [this](const workflow::Caller&) { return checkpoints_->Latest(); });
}

}  // namespace comity::rpc
