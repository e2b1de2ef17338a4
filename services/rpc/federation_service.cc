#include "services/rpc/federation_service.h"

#include <memory>
#include <string>
#include <vector>

#include "grpc/grpc_security_constants.h"
#include "services/federation/snapshot.h"
#include "services/workflow/command.h"

namespace comity::rpc {
namespace {

constexpr char kPublish[] = "/comity.v1.FederationService/PublishDirectory";

}  // namespace

FederationService::FederationService(const federation::PeerSet* peers,
                                     const workflow::Directory* directory, workflow::Engine* engine,
                                     SecurityLog* log)
    : ParsedService("comity.v1.FederationService"),
      peers_(peers),
      directory_(directory),
      engine_(engine),
      log_(log) {
  AddUnary("PublishDirectory", this, &FederationService::PublishDirectory);
}

absl::StatusOr<const federation::Peer*> FederationService::IdentifyPeer(
    const grpc::ServerContextBase& ctx) const {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("a peer presents its node certificate");
  }
  std::vector<grpc::string_ref> ids = auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  // The chain the peer presented where the transport tells it, else its leaf certificate.
  std::vector<grpc::string_ref> chain =
      auth->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
  if (chain.size() != 1) chain = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (ids.size() != 1 || chain.size() != 1) {
    return absl::UnauthenticatedError(
        "the node certificate must carry exactly one spiffe:// URI subject alternative name");
  }
  return peers_->Identify(absl::string_view(ids[0].data(), ids[0].size()),
                          absl::string_view(chain[0].data(), chain[0].size()));
}

void FederationService::PublishDirectory(grpc::CallbackServerContext* ctx,
                                         const v1::PublishDirectoryRequest* req,
                                         v1::PublishDirectoryResponse* reply, UnaryCall* call) {
  if (absl::Status s = log_->Start(); !s.ok()) return log_->Finish(call, *ctx, kPublish, s);
  absl::StatusOr<const federation::Peer*> peer = IdentifyPeer(*ctx);
  if (!peer.ok()) return log_->Finish(call, *ctx, kPublish, peer.status());
  absl::StatusOr<v1::DirectorySnapshot> snapshot = federation::OpenSnapshot(*req, **peer);
  if (!snapshot.ok()) return log_->Finish(call, *ctx, kPublish, snapshot.status());
  workflow::Command cmd;
  cmd.action = v1::PEER_DIRECTORY;
  cmd.caller = workflow::Caller{
      federation::NodeSpiffeId((*peer)->trust_domain, (*peer)->node), "", {}, true};
  cmd.body = std::make_shared<v1::PublishDirectoryRequest>(*req);
  engine_->Apply(std::move(cmd),
                 [this, ctx, reply, call, node = (*peer)->node](absl::StatusOr<v1::Request> done) {
                   if (done.ok()) {
                     std::optional<v1::DirectorySnapshot> held = directory_->Peer(node);
                     reply->set_version(held ? held->version() : 0);
                   }
                   log_->Finish(call, *ctx, kPublish, done.status());
                 });
}

}  // namespace comity::rpc
