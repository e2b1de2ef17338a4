#ifndef COMITY_SERVICES_FEDERATION_PUBLISHER_H_
#define COMITY_SERVICES_FEDERATION_PUBLISHER_H_

// Keeps every peer holding this node's latest directory snapshot: at start, and whenever the
// directory changes (Wake), it signs a snapshot and publishes it to each peer that has not
// acknowledged it, over mutual TLS with the node certificate. A peer that does not answer is
// tried again after 1 s, then twice as long each time, up to retry_max; one peer's failure never
// delays another's. Retries run on the wall clock (they pace the network, not the treaty's clocks).

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "comity/v1/federation.grpc.pb.h"
#include "services/audit/note.h"
#include "services/federation/peers.h"

namespace comity::federation {

struct NodeCredentials {
  std::string cert_pem;  // the node certificate chain
  std::string key_pem;
};

// A channel to `peer`'s federation listener: its CA alone as roots, the node's certificate as
// the client's.
std::shared_ptr<grpc::Channel> PeerChannel(const Peer& peer, const NodeCredentials& node,
                                           int max_message_bytes);

class Publisher {
 public:
  struct Options {
    absl::Duration retry_max = absl::Seconds(30);
    absl::Duration call_timeout = absl::Seconds(10);
    int max_message_bytes = 4 << 20;
    std::ostream* log = nullptr;  // one line when a peer stops or starts answering
  };
  // `current` gives the snapshot to publish now (LocalSnapshot of the durable directory). All
  // pointers must outlive the publisher. Starts its thread.
  Publisher(const PeerSet* peers, const audit::NoteSigner* signer, NodeCredentials node,
            std::function<absl::StatusOr<v1::DirectorySnapshot>()> current, Options options);
  ~Publisher();  // Stop()s

  // The directory changed: publish again.
  void Wake();
  void Stop();

  // The snapshot version `node` last acknowledged; 0 before it has.
  uint64_t Acknowledged(const std::string& node) const;

 private:
  struct PeerState {
    std::unique_ptr<v1::FederationService::Stub> stub;
    uint64_t acked = 0;          // version acknowledged
    bool acked_current = false;  // the current snapshot is acknowledged
    absl::Time next_try = absl::InfinitePast();
    absl::Duration backoff = absl::ZeroDuration();
    bool failing = false;
  };
  void Run();
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PeerSet* const peers_;
  const audit::NoteSigner* const signer_;
  const std::function<absl::StatusOr<v1::DirectorySnapshot>()> current_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  bool have_ ABSL_GUARDED_BY(mu_) = false;  // a snapshot is signed
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<std::string, PeerState> state_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_PUBLISHER_H_
