#ifndef COMITY_SERVICES_SERVER_FEDERATION_NODE_H_
#define COMITY_SERVICES_SERVER_FEDERATION_NODE_H_

// The node's part in the federation (ServerConfig.federation): its peers, the listener where they
// reach it, the publisher that keeps them holding its directory, the relay of its outbox, the
// cosigners of its checkpoints and the fetcher of evidence delivered to it.

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "comity/config/v1/config.pb.h"
#include "common/clock.h"
#include "grpcpp/server.h"
#include "services/audit/checkpointer.h"
#include "services/audit/note.h"
#include "services/federation/cosigners.h"
#include "services/federation/fetcher.h"
#include "services/federation/peers.h"
#include "services/federation/publisher.h"
#include "services/federation/relay.h"
#include "services/federation/witness.h"
#include "services/rpc/evidence_service.h"
#include "services/rpc/federation_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"
#include "services/workflow/reader.h"
#include "storage/store.h"

namespace comity::server {

class FederationNode {
 public:
  // Checks `config.federation` as Start would, for a node of `trust_domain` that signs with a
  // log key or not: the node id, listener, certificate files and peers. FAILED_PRECONDITION or
  // INVALID_ARGUMENT naming the field.
  static absl::Status Check(const config::v1::ServerConfig& config, absl::string_view trust_domain,
                            bool has_log_key);

  struct Parts {
    storage::Store* store;
    workflow::Directory* directory;
    workflow::Engine* engine;
    rpc::SecurityLog* security_log;
    const audit::NoteSigner* signer;  // the log key (the checkpointer's); must outlive the node
    const Clock* clock;
    std::ostream* log;
    const workflow::Reader* reader;
    audit::Checkpointer* checkpoints;
    federation::OutboxBell* bell;  // what the engine rings when the outbox grows
    prometheus::Counter* split_views = nullptr;  // comity_federation_split_views_total; may be null
    evidence::ChunkStore* chunks = nullptr;      // where fetched evidence is kept
    rpc::EvidenceService* evidence = nullptr;    // serves peers' fetches
  };
  // Listens for peers on federation.listen_address (and witnesses their logs), starts publishing
  // the directory, relaying the outbox and having this node's checkpoints cosigned.
  static absl::StatusOr<std::unique_ptr<FederationNode>> Start(
      const config::v1::ServerConfig& config, Parts parts);
  ~FederationNode();  // Shutdown()s

  int port() const { return port_; }
  const federation::PeerSet& peers() const { return *peers_; }
  const federation::Publisher& publisher() const { return *publisher_; }
  const federation::Relay& relay() const { return *relay_; }
  const federation::Cosigners& cosigners() const { return *cosigners_; }
  const federation::Fetcher& fetcher() const { return *fetcher_; }

  // Stops publishing and listening.
  void Shutdown();

 private:
  FederationNode() = default;
  workflow::Directory* directory_ = nullptr;
  std::unique_ptr<federation::PeerSet> peers_;
  std::unique_ptr<federation::Witness> witness_;
  std::unique_ptr<rpc::FederationService> service_;
  std::unique_ptr<federation::Publisher> publisher_;
  federation::OutboxBell* bell_ = nullptr;
  std::unique_ptr<federation::Relay> relay_;
  std::unique_ptr<federation::Cosigners> cosigners_;
  std::unique_ptr<federation::Fetcher> fetcher_;
  std::unique_ptr<grpc::Server> grpc_;
  int port_ = 0;
};

}  // namespace comity::server

#endif  // COMITY_SERVICES_SERVER_FEDERATION_NODE_H_
