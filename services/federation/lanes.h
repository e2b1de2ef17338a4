#ifndef COMITY_SERVICES_FEDERATION_LANES_H_
#define COMITY_SERVICES_FEDERATION_LANES_H_

// A thread per peer, each with the one call it has in flight, so that a peer that does not answer
// holds up nothing owed to another: the relay's and the cosigners' lanes.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "comity/v1/federation.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "services/federation/peers.h"
#include "services/federation/publisher.h"

namespace comity::federation {

struct PeerLane {
  const Peer* peer = nullptr;
  std::unique_ptr<v1::FederationService::Stub> stub;
  std::thread thread;

  // The lane's call while it is made, for Stop to cancel.
  void Begin(grpc::ClientContext* call) {
    absl::MutexLock lock(&in_flight_mu);
    in_flight = call;
  }
  void End() {
    absl::MutexLock lock(&in_flight_mu);
    in_flight = nullptr;
  }
  void Cancel() {
    absl::MutexLock lock(&in_flight_mu);
    if (in_flight != nullptr) in_flight->TryCancel();
  }

 private:
  absl::Mutex in_flight_mu;
  grpc::ClientContext* in_flight ABSL_GUARDED_BY(in_flight_mu) = nullptr;
};

// A lane of type `Lane` (a PeerLane) for each of `peers`, its stub on a channel of
// `max_message_bytes`; their threads are started by the caller.
template <typename Lane>
std::vector<std::unique_ptr<Lane>> MakeLanes(const PeerSet& peers, const NodeCredentials& node,
                                             int max_message_bytes) {
  std::vector<std::unique_ptr<Lane>> lanes;
  for (const Peer& p : peers.peers()) {
    auto lane = std::make_unique<Lane>();
    lane->peer = &p;
    lane->stub = v1::FederationService::NewStub(PeerChannel(p, node, max_message_bytes));
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

// Cancels every lane's call in flight and waits for its thread (the owner has told them to stop).
template <typename Lane>
void JoinLanes(std::vector<std::unique_ptr<Lane>>& lanes) {
  for (auto& lane : lanes) lane->Cancel();
  for (auto& lane : lanes) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

// The lane of `peer`, or null.
template <typename Lane>
const Lane* FindLane(const std::vector<std::unique_ptr<Lane>>& lanes, const std::string& peer) {
  for (const auto& lane : lanes) {
    if (lane->peer->node == peer) return lane.get();
  }
  return nullptr;
}

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_LANES_H_
