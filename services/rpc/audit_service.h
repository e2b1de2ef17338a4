#ifndef COMITY_SERVICES_RPC_AUDIT_SERVICE_H_
#define COMITY_SERVICES_RPC_AUDIT_SERVICE_H_

#include "comity/v1/audit.grpc.pb.h"
#include "services/rpc/identify.h"
#include "services/rpc/security_log.h"
#include "services/workflow/reader.h"

namespace comity::rpc {

// AuditService: a request's trail, for the parties and their auditors.
class AuditService final : public v1::AuditService::CallbackService {
 public:
  AuditService(const Identifier* identifier, const workflow::Reader* reader, SecurityLog* log)
      : identifier_(identifier), reader_(reader), log_(log) {}

  grpc::ServerUnaryReactor* GetTrail(grpc::CallbackServerContext* ctx,
                                     const v1::GetTrailRequest* req, v1::Trail* reply) override;

 private:
  const Identifier* identifier_;
  const workflow::Reader* reader_;
  SecurityLog* log_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_AUDIT_SERVICE_H_
