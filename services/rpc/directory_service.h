#ifndef COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_
#define COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_

#include "comity/v1/directory.grpc.pb.h"
#include "services/rpc/identify.h"
#include "services/rpc/security_log.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"

namespace comity::rpc {

// DirectoryService: any authenticated member may read the directory (authorities, countries,
// languages); member lists are shown only for the caller's own authority.
class DirectoryService final : public v1::DirectoryService::CallbackService {
 public:
  DirectoryService(const Identifier* identifier, const workflow::Directory* directory,
                   workflow::Engine* engine, SecurityLog* log)
      : identifier_(identifier), directory_(directory), engine_(engine), log_(log) {}

  grpc::ServerUnaryReactor* GetAuthority(grpc::CallbackServerContext* ctx,
                                         const v1::GetAuthorityRequest* req,
                                         v1::Authority* reply) override;
  grpc::ServerUnaryReactor* ListAuthorities(grpc::CallbackServerContext* ctx,
                                            const v1::ListAuthoritiesRequest* req,
                                            v1::ListAuthoritiesResponse* reply) override;
  grpc::ServerUnaryReactor* UpsertAuthority(grpc::CallbackServerContext* ctx,
                                            const v1::UpsertAuthorityRequest* req,
                                            v1::Authority* reply) override;
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* req,
                                   v1::WhoAmIResponse* reply) override;

 private:
  const Identifier* identifier_;
  const workflow::Directory* directory_;
  workflow::Engine* engine_;
  SecurityLog* log_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_
