#ifndef COMITY_SERVICES_SERVER_SERVER_H_
#define COMITY_SERVICES_SERVER_SERVER_H_

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "comity/config/v1/config.pb.h"
#include "common/clock.h"
#include "grpcpp/server.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "services/audit/checkpointer.h"
#include "services/rpc/audit_service.h"
#include "services/rpc/directory_service.h"
#include "services/rpc/evidence_service.h"
#include "services/rpc/identify.h"
#include "services/rpc/request_service.h"
#include "services/rpc/security_log.h"
#include "services/server/federation_node.h"
#include "services/workflow/engine.h"
#include "services/workflow/events.h"
#include "services/workflow/reader.h"
#include "services/workflow/scheduler.h"
#include "storage/store.h"

namespace comity::server {

// The encryption key (32 bytes) from `key_from_environment` (64 hex digits) or the config's key
// file, or "" if neither is given. INVALID_ARGUMENT / FAILED_PRECONDITION naming the problem:
// malformed key, key file readable by others, key file inside the data directory.
absl::StatusOr<std::string> LoadEncryptionKey(const config::v1::ServerConfig& config,
                                              const std::string& key_from_environment);

// The verifier key (C2SP signed-note form) of the config's log key: FAILED_PRECONDITION without
// one, INVALID_ARGUMENT for a malformed key file.
absl::StatusOr<std::string> LogVerifierKey(const config::v1::ServerConfig& config);

// True if `address` (host:port) listens only on the loopback interface.
bool IsLoopbackAddress(const std::string& address);

// A running node: store, directory, profiles, engine and gRPC services.
class StoreMetrics;

class Server {
 public:
  // Checks `config` as Start would, opening nothing for writing: its settings, the TLS files, the
  // profiles, the directory file, the encryption and log key files, and that the data directory
  // is absent or writable. OK, or the status Start would fail with, naming the problem.
  static absl::Status CheckConfig(const config::v1::ServerConfig& config,
                                  const std::string& key_from_environment);

  // Opens the store, loads profiles and directory, starts the engine and listens.
  // FAILED_PRECONDITION if the configuration is unsafe (plaintext off loopback) or incomplete.
  struct Options {
    std::string key_from_environment;  // COMITY_ENCRYPTION_KEY's value, if set
    std::ostream* security_log = &std::cerr;
    // Tests only: I/O faults injected under the store (storage/faults.h).
    std::shared_ptr<storage::FaultInjector> faults;
    // Tests only: the free bytes of the data directory's disk, for evidence uploads.
    std::function<absl::StatusOr<uint64_t>()> free_bytes;
  };
  static absl::StatusOr<std::unique_ptr<Server>> Start(const config::v1::ServerConfig& config,
                                                       const Clock* clock, const Options& options);
  static absl::StatusOr<std::unique_ptr<Server>> Start(const config::v1::ServerConfig& config,
                                                       const Clock* clock) {
    return Start(config, clock, Options());
  }

  // The port serving /metrics, or 0 when metrics are off.
  int metrics_port() const;

  // Refused calls, as counted by the security log.
  const rpc::SecurityLog& security_log() const { return *security_log_; }
  ~Server();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  // The node's part in the federation; null when it stands alone.
  const FederationNode* federation() const { return federation_.get(); }

  // Fires the clock timers that are due now (as the scheduler does every timer_period_ms).
  // Returns the number of changes made.
  absl::StatusOr<int> RunDueTimers() { return scheduler_->RunDue(); }

  // Stops taking calls, lets in-flight calls finish (up to `grace`), drains the engine and closes
  // the store.
  void Shutdown(absl::Duration grace);

 private:
  Server() = default;

  std::unique_ptr<audit::Checkpointer> checkpoints_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<workflow::ProfileSet> profiles_;
  std::unique_ptr<workflow::Directory> directory_;
  std::unique_ptr<workflow::EventHub> events_;
  std::unique_ptr<federation::OutboxBell> outbox_bell_;  // declared before engine_, which rings it
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<workflow::Scheduler> scheduler_;
  std::unique_ptr<workflow::Reader> reader_;
  std::unique_ptr<rpc::Identifier> identifier_;
  std::unique_ptr<rpc::RequestService> requests_;
  std::unique_ptr<rpc::DirectoryService> directory_service_;
  std::unique_ptr<rpc::AuditService> audit_;
  std::unique_ptr<evidence::ChunkStore> chunks_;
  std::unique_ptr<rpc::EvidenceService> evidence_;
  std::shared_ptr<prometheus::Registry> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<StoreMetrics> store_metrics_;  // read at each scrape
  std::unique_ptr<rpc::SecurityLog> security_log_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<FederationNode> federation_;  // after grpc_: its service calls the engine
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace comity::server

#endif  // COMITY_SERVICES_SERVER_SERVER_H_
