#ifndef COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_
#define COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_

#include <functional>

#include "comity/v1/federation.pb.h"
#include "services/federation/peers.h"
#include "services/federation/witness.h"
#include "services/rpc/evidence_service.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"
#include "services/workflow/reader.h"

namespace comity::rpc {

// FederationService, on the federation listener: each call's peer is identified from its node
// certificate (federation::PeerSet::Identify) before anything it sends is read; refusals go to
// the security log.
class FederationService final : public ParsedService {
 public:
  // `mirrored`, if given, is told of each mirror taken, with the record as now held.
  FederationService(const federation::PeerSet* peers, const workflow::Directory* directory,
                    workflow::Engine* engine, SecurityLog* log, federation::Witness* witness,
                    const workflow::Reader* reader, EvidenceService* evidence,
                    std::function<void(const v1::Request&)> mirrored = nullptr);

  void PublishDirectory(grpc::CallbackServerContext* ctx, const v1::PublishDirectoryRequest* req,
                        v1::PublishDirectoryResponse* reply, UnaryCall* call);
  void Relay(grpc::CallbackServerContext* ctx, const v1::RelayRequest* req,
             v1::RelayResponse* reply, UnaryCall* call);
  void AddCheckpoint(grpc::CallbackServerContext* ctx, const v1::AddCheckpointRequest* req,
                     v1::AddCheckpointResponse* reply, UnaryCall* call);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* FetchEvidence(grpc::CallbackServerContext* ctx,
                                                            const v1::DownloadRequest* req);

 private:
  absl::StatusOr<const federation::Peer*> IdentifyPeer(const grpc::ServerContextBase& ctx) const;
  // The engine command a relayed message makes, once checked against what `peer` may send.
  absl::StatusOr<workflow::Command> Forwarded(const federation::Peer& peer,
                                              const v1::RelayMessage& req) const;
  absl::StatusOr<workflow::Command> Mirrored(const federation::Peer& peer,
                                             const v1::RelayMessage& req) const;
  // Who a peer fetching evidence is to the request: its node, for the requesting authority it
  // homes, on a request this node keeps; NOT_FOUND otherwise.
  absl::StatusOr<workflow::Caller> Fetching(const grpc::ServerContextBase& ctx,
                                            const v1::DownloadRequest& req) const;

  const federation::PeerSet* peers_;
  const workflow::Directory* directory_;
  workflow::Engine* engine_;
  SecurityLog* log_;
  federation::Witness* witness_;
  const workflow::Reader* reader_;
  EvidenceService* evidence_;
  std::function<void(const v1::Request&)> mirrored_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_FEDERATION_SERVICE_H_
