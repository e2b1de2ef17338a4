#ifndef COMITY_SERVICES_FEDERATION_COSIGNERS_H_
#define COMITY_SERVICES_FEDERATION_COSIGNERS_H_

// Has this node's checkpoints cosigned by its peers, as their witness (AddCheckpoint): one thread
// per peer that, every `interval` while the log has grown since that peer last cosigned it, shows
// the peer the latest checkpoint with a consistency proof from the size the peer holds, and keeps
// the cosignature in the checkpointer (trail bundles carry it). The size the peer holds is learnt
// from its answer (CHECKPOINT_SIZE_MISMATCH names it), so nothing is stored here. Runs on the
// wall clock: it paces the network, not the treaty's clocks.

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "comity/v1/federation.grpc.pb.h"
#include "services/audit/checkpointer.h"
#include "services/federation/peers.h"
#include "services/federation/publisher.h"
#include "services/workflow/reader.h"

namespace comity::federation {

class Cosigners {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    absl::Duration call_timeout = absl::Seconds(10);
    int max_message_bytes = 4 << 20;
    std::ostream* log = nullptr;  // one line when a peer stops or starts cosigning
  };
  // Starts a thread per peer. Everything given must outlive this.
  Cosigners(const PeerSet* peers, const NodeCredentials& node, audit::Checkpointer* checkpoints,
            const workflow::Reader* reader, Options options);
  ~Cosigners();  // Stop()s
  void Stop();

  // The tree size `peer` last cosigned; 0 before it has.
  uint64_t Cosigned(const std::string& peer) const;

 private:
  struct Lane;
  void Run(Lane* lane);
  // Shows the peer the latest checkpoint if it has not cosigned it: true if it did now.
  bool Witness(Lane* lane);

  audit::Checkpointer* const checkpoints_;
  const workflow::Reader* const reader_;
  const Options options_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_COSIGNERS_H_
