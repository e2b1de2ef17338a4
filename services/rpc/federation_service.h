#ifndef COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_
#define COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_

#include "comity/v1/federation.pb.h"
#include "services/federation/peers.h"
#include "services/federation/witness.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"

namespace comity::rpc {

// FederationService, on the federation listener: each call's peer is identified from its node
// certificate (federation::PeerSet::Identify) before anything it sends is read; refusals go to
// the security log.
class FederationService final : public ParsedService {
 public:
  FederationService(const federation::PeerSet* peers, const workflow::Directory* directory,
                    workflow::Engine* engine, SecurityLog* log, federation::Witness* witness);

  void PublishDirectory(grpc::CallbackServerContext* ctx, const v1::PublishDirectoryRequest* req,
                        v1::PublishDirectoryResponse* reply, UnaryCall* call);
  void Relay(grpc::CallbackServerContext* ctx, const v1::RelayRequest* req,
             v1::RelayResponse* reply, UnaryCall* call);
  void AddCheckpoint(grpc::CallbackServerContext* ctx, const v1::AddCheckpointRequest* req,
                     v1::AddCheckpointResponse* reply, UnaryCall* call);

 private:
  absl::StatusOr<const federation::Peer*> IdentifyPeer(const grpc::ServerContextBase& ctx) const;
  // The engine command a relayed message makes, once checked against what `peer` may send.
  absl::StatusOr<workflow::Command> Forwarded(const federation::Peer& peer,
                                              const v1::RelayMessage& req) const;
  absl::StatusOr<workflow::Command> Mirrored(const federation::Peer& peer,
                                             const v1::RelayMessage& req) const;

  const federation::PeerSet* peers_;
  const workflow::Directory* directory_;
  workflow::Engine* engine_;
  SecurityLog* log_;
  federation::Witness* witness_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_
