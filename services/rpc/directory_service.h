#ifndef COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_
#define COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_

#include <string>
#include <vector>

#include "comity/v1/directory.pb.h"
#include "services/rpc/identify.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"

namespace comity::rpc {

// DirectoryService: any authenticated member may read the directory (authorities, countries,
// languages); member lists are shown only for the caller's own authority. The federation's
// peers (ListPeers) are shown to admins and auditors; `peers` are the node ids the node is
// configured with (none when it is not federated).
class DirectoryService final : public ParsedService {
 public:
  DirectoryService(const Identifier* identifier, const workflow::Directory* directory,
                   workflow::Engine* engine, SecurityLog* log, std::vector<std::string> peers = {});

  void GetAuthority(grpc::CallbackServerContext* ctx, const v1::GetAuthorityRequest* req,
                    v1::Authority* reply, UnaryCall* call);
  void ListAuthorities(grpc::CallbackServerContext* ctx, const v1::ListAuthoritiesRequest* req,
                       v1::ListAuthoritiesResponse* reply, UnaryCall* call);
  void UpsertAuthority(grpc::CallbackServerContext* ctx, const v1::UpsertAuthorityRequest* req,
                       v1::Authority* reply, UnaryCall* call);
  void ListReservations(grpc::CallbackServerContext* ctx, const v1::ListReservationsRequest* req,
                        v1::ListReservationsResponse* reply, UnaryCall* call);
  void SetReservation(grpc::CallbackServerContext* ctx, const v1::SetReservationRequest* req,
                      v1::Reservation* reply, UnaryCall* call);
  void ListPeers(grpc::CallbackServerContext* ctx, const v1::ListPeersRequest* req,
                 v1::ListPeersResponse* reply, UnaryCall* call);
  void ClearSplitView(grpc::CallbackServerContext* ctx, const v1::ClearSplitViewRequest* req,
                      v1::Peer* reply, UnaryCall* call);
  void WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* req,
              v1::WhoAmIResponse* reply, UnaryCall* call);

 private:
  const Identifier* identifier_;
  const workflow::Directory* directory_;
  workflow::Engine* engine_;
  SecurityLog* log_;
  const std::vector<std::string> peers_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_DIRECTORY_SERVICE_H_
