#ifndef COMITY_SERVICES_RPC_AUDIT_SERVICE_H_
#define COMITY_SERVICES_RPC_AUDIT_SERVICE_H_

#include "comity/v1/audit.pb.h"
#include "services/audit/checkpointer.h"
#include "services/rpc/identify.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/engine.h"
#include "services/workflow/reader.h"

namespace comity::rpc {

// AuditService: a request's trail, for the parties and their auditors.
class AuditService final : public ParsedService {
 public:
  // `engine`: where reads are recorded (null: they are not).
  AuditService(const Identifier* identifier, const workflow::Reader* reader, SecurityLog* log,
               audit::Checkpointer* checkpoints, workflow::Engine* engine);

  void GetTrail(grpc::CallbackServerContext* ctx, const v1::GetTrailRequest* req, v1::Trail* reply,
                UnaryCall* call);
  // Any authenticated member: a checkpoint holds no case data.
  void GetStatistics(grpc::CallbackServerContext* ctx, const v1::GetStatisticsRequest* req,
                     v1::Statistics* reply, UnaryCall* call);
  void ExportTrail(grpc::CallbackServerContext* ctx, const v1::GetTrailRequest* req,
                   v1::TrailBundle* reply, UnaryCall* call);
  void GetConsistencyProof(grpc::CallbackServerContext* ctx,
                           const v1::GetConsistencyProofRequest* req, v1::ConsistencyProof* reply,
                           UnaryCall* call);
  void GetCheckpoint(grpc::CallbackServerContext* ctx, const v1::GetCheckpointRequest* req,
                     v1::Checkpoint* reply, UnaryCall* call);

 private:
  const Identifier* identifier_;
  const workflow::Reader* reader_;
  SecurityLog* log_;
  audit::Checkpointer* checkpoints_;
  workflow::Engine* engine_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_AUDIT_SERVICE_H_
