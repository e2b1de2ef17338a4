#ifndef COMITY_SERVICES_FEDERATION_RELAY_H_
#define COMITY_SERVICES_FEDERATION_RELAY_H_

// Delivers the outbox (storage column kOutbox) to the peers: one thread per peer, that peer's
// messages in outbox order, up to 128 (about 1 MiB) a call, the mirrors of one request in a call
// sent once (built when sent, the one covers them all), each until the peer takes it. Taken
// (OK), the message leaves the
// outbox; refused for good (PERMISSION_DENIED, INVALID_ARGUMENT, FAILED_PRECONDITION, ...), the
// refusal is recorded and the message set aside, so that one bad message never stops the rest;
// not answered (UNAVAILABLE, DEADLINE_EXCEEDED, ...), it is tried again after 1 s, then twice as
// long each time up to retry_max, while the backlog waits on disk, never in memory. A peer's
// trouble never delays another peer's messages. The receiver takes each message once by its key
// ("<this node>/<outbox position>"), so a message sent again after a crash changes nothing.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "comity/v1/federation.grpc.pb.h"
#include "services/federation/peers.h"
#include "services/federation/publisher.h"
#include "storage/store.h"

namespace comity::federation {

class Relay;

// How the engine tells the relay that the outbox grew, before the relay exists and after it
// stops (a relay that starts sends what the outbox holds anyway). Thread-safe.
class OutboxBell {
 public:
  void Ring() {
    absl::MutexLock lock(&mu_);
    if (relay_ != nullptr) Wake(relay_);
  }
  void Attach(Relay* relay) {
    absl::MutexLock lock(&mu_);
    relay_ = relay;
  }

 private:
  static void Wake(Relay* relay);
  absl::Mutex mu_;
  Relay* relay_ ABSL_GUARDED_BY(mu_) = nullptr;
};

class Relay {
 public:
  struct Hooks {
    // The trail bundle and record of request `id` to mirror, as of now.
    std::function<absl::StatusOr<v1::MirroredTrail>(const std::string& id)> mirror;
    // A forwarded action of `request` (requests/{id}) reached `state` (RELAY_RELAYED, or
    // RELAY_REFUSED with the peer's answer: its code and reason).
    std::function<void(const std::string& request, const std::string& key, v1::RelayState state,
                       int code, const std::string& reason)>
        relay_state;
    // Whether messages to `peer` wait (a split view of it is recorded): the lane sends nothing,
    // its messages kept in the outbox, until the relay is woken and this answers false. May be
    // empty.
    std::function<bool(const std::string& peer)> paused;
  };
  struct Options {
    absl::Duration retry_max = absl::Seconds(30);
    absl::Duration call_timeout = absl::Seconds(30);
    // The largest call; a mirror that cannot fit in one is set aside (Oversized).
    int max_message_bytes = 64 << 20;
    std::ostream* log = nullptr;
  };
  // Starts a thread per peer of `peers`. Everything given must outlive the relay.
  Relay(storage::Store* store, const PeerSet* peers, const NodeCredentials& node, Hooks hooks,
        Options options);
  ~Relay();  // Stop()s

  // The outbox has new messages.
  void Wake();
  void Stop();

  // Messages `peer` has taken (or refused for good) since the relay started.
  uint64_t Sent(const std::string& peer) const;
  // How many times messages to `peer` were waiting in the outbox and held back (Hooks::paused).
  uint64_t Held(const std::string& peer) const;
  // Mirrors to `peer` set aside because they would not fit in a message (max_message_bytes).
  uint64_t Oversized(const std::string& peer) const;

 private:
  struct Lane;
  void Run(Lane* lane);
  // Sends the first message of `lane`'s outbox, if any: true if one was sent (or set aside).
  // `wait` is set to how long to wait before the next attempt when the peer did not answer.
  bool SendFirst(Lane* lane, absl::Duration* wait);

  storage::Store* const store_;
  const PeerSet* const peers_;
  const Hooks hooks_;
  const Options options_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;  // how many times the outbox grew
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_RELAY_H_
