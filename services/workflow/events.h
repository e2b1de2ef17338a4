#ifndef COMITY_SERVICES_WORKFLOW_EVENTS_H_
#define COMITY_SERVICES_WORKFLOW_EVENTS_H_

// The live feed behind RequestService.WatchEvents. The engine publishes each durable group's
// events (every change but reads, cursor = Merkle leaf index + 1) into a bounded ring; streams
// that keep up read from the ring, streams that resume from an older cursor read the stored
// events (index event/<cursor>) until they reach it. Publishing never waits for a stream: a
// stream whose next event has left the ring is lagging and must resume from its cursor.

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "comity/storage/v1/records.pb.h"
#include "comity/v1/requests.pb.h"
#include "services/auth/caller.h"
#include "storage/store.h"

namespace comity::workflow {

// An event as the engine publishes it: `submitted` says whether the request had been submitted
// (the receiving side sees it).
struct FeedEvent {
  v1::Event event;
  bool submitted = false;
};

// The feed's event at `cursor`: `entry`, with what `record` says of its request.
v1::Event EventOf(uint64_t cursor, const storage::v1::EventRecord& record, v1::AuditEntry entry);

// True if `caller` may see an event of a request between `requesting` and `requested`
// authorities; `submitted`: the request had been submitted when the event happened.
bool MaySeeEvent(const auth::Caller& caller, const std::string& requesting,
                 const std::string& requested, bool submitted);

class EventHub {
 public:
  // `head`: the latest cursor when the node starts (the Merkle log's size); events up to it are
  // read from `store`, which must outlive the hub.
  EventHub(const storage::Store* store, uint64_t head, size_t ring_size = 8192)
      : store_(store), ring_size_(ring_size), head_(head), floor_(head) {}

  // The engine's completer thread: appends `events` (cursors increasing) and wakes streams.
  void Publish(std::vector<FeedEvent> events);

  // Told the number of open streams whenever it changes (under the hub's lock: must be quick).
  // Set before the first Subscribe.
  void OnStreamsChanged(std::function<void(size_t)> fn) { on_streams_changed_ = std::move(fn); }

  // Ends every stream (UNAVAILABLE: resume later from your cursor); the node is stopping.
  void Close();

  // The latest published cursor.
  uint64_t Head() const;

  // A stream's wake-up call, made after each Publish without the hub's lock; it must not block.
  class Subscription;
  std::shared_ptr<Subscription> Subscribe(std::function<void()> wake);
  // After this returns, `wake` is never called again.
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);

  struct Batch {
    std::vector<v1::Event> events;  // visible to the caller, cursors increasing
    uint64_t examined = 0;          // the last cursor looked at (resume after it)
    bool from_ring = false;         // the stream is live
    bool lagging = false;           // live, but the next event has left the ring
  };
  // Up to `max` events after cursor `after` that `caller` may see. A `live` stream reads only
  // the ring and lags once the ring has moved past it; others read the store until they reach
  // the ring.
  absl::Status Next(const auth::Caller& caller, uint64_t after, int max, bool live,
                    Batch* out) const;

 private:
  absl::Status ReadStored(const auth::Caller& caller, uint64_t after, int max, uint64_t floor,
                          Batch* out) const;

  const storage::Store* const store_;
  const size_t ring_size_;
  mutable absl::Mutex mu_;
  std::deque<FeedEvent> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t head_ ABSL_GUARDED_BY(mu_);
  uint64_t floor_ ABSL_GUARDED_BY(mu_);  // every event after it is in the ring
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::function<void(size_t)> on_streams_changed_;
};

class EventHub::Subscription {
 public:
  explicit Subscription(std::function<void()> wake) : wake_(std::move(wake)) {}
  void Wake() {
    absl::MutexLock lock(&mu_);
    if (wake_) wake_();
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    wake_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_EVENTS_H_
