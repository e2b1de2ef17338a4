#ifndef COMITY_SERVICES_FEDERATION_WITNESS_H_
#define COMITY_SERVICES_FEDERATION_WITNESS_H_

// The node as a witness of its peers' logs (C2SP tlog-witness, over the federation channel): it
// cosigns a peer's checkpoint once it has checked it consistent with the last one it cosigned for
// that peer, which it keeps durably (meta key storage::WitnessKey(peer)) before it answers. A
// checkpoint that does not extend it is a split view: reported (a log line, the counter
// comity_federation_split_views_total), recorded on the directory trail (PEER_SPLIT_VIEW), and
// every later checkpoint of that peer refused until an administrator clears it
// (CLEAR_SPLIT_VIEW).

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "comity/v1/federation.pb.h"
#include "common/clock.h"
#include "services/audit/note.h"
#include "services/federation/peers.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"
#include "storage/store.h"

namespace prometheus {
class Counter;
}

namespace comity::federation {

class Witness {
 public:
  struct Parts {
    storage::Store* store;
    workflow::Engine* engine;
    const workflow::Directory* directory;
    const audit::NoteSigner* signer;  // this node's log key: it cosigns
    const Clock* clock;
    std::ostream* log = nullptr;
    prometheus::Counter* split_views = nullptr;  // may be null
  };
  explicit Witness(Parts parts) : parts_(parts) {}

  // This node's cosignature line of the checkpoint `req.checkpoint` shown by `peer` (see
  // federation.proto AddCheckpoint for the errors).
  absl::StatusOr<std::string> AddCheckpoint(const Peer& peer, const v1::AddCheckpointRequest& req);

 private:
  // Records the split view and answers the peer with it.
  absl::Status SplitView(const Peer& peer, const std::string& witnessed, const std::string& note,
                         const v1::AddCheckpointRequest& req, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Parts parts_;
  // One checkpoint at a time: the held state is read, checked and written under it.
  absl::Mutex mu_;
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_WITNESS_H_
