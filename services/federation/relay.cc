#include "services/federation/relay.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/text.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "storage/keys.h"

namespace comity::federation {
namespace {

// Answers that say the peer did not take the message this time, but may later.
bool Retryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAUTHENTICATED:  // a certificate being rotated
      return true;
    default:
      return false;
  }
}

}  // namespace

struct Relay::Lane {
  const Peer* peer;
  std::unique_ptr<v1::FederationService::Stub> stub;
  std::thread thread;
  // The relay's own; read by Sent().
  std::atomic<uint64_t> sent{0};
  absl::Duration backoff = absl::ZeroDuration();
  bool failing = false;
  grpc::ClientContext* in_flight ABSL_GUARDED_BY(in_flight_mu) = nullptr;
  absl::Mutex in_flight_mu;
};

Relay::Relay(storage::Store* store, const PeerSet* peers, const NodeCredentials& node, Hooks hooks,
             Options options)
    : store_(store), peers_(peers), hooks_(std::move(hooks)), options_(options) {
  for (const Peer& p : peers_->peers()) {
    auto lane = std::make_unique<Lane>();
    lane->peer = &p;
    lane->stub = v1::FederationService::NewStub(PeerChannel(p, node, options_.max_message_bytes));
    lanes_.push_back(std::move(lane));
  }
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Run(l); });
}

Relay::~Relay() { Stop(); }

void OutboxBell::Wake(Relay* relay) { relay->Wake(); }

void Relay::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

void Relay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& lane : lanes_) {
    absl::MutexLock lock(&lane->in_flight_mu);
    if (lane->in_flight != nullptr) lane->in_flight->TryCancel();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

uint64_t Relay::Sent(const std::string& peer) const {
  for (const auto& lane : lanes_) {
    if (lane->peer->node == peer) return lane->sent.load();
  }
  return 0;
}

void Relay::Run(Lane* lane) {
  while (true) {
    uint64_t seen;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      seen = wakes_;
    }
    absl::Duration wait = absl::ZeroDuration();
    if (SendFirst(lane, &wait)) continue;
    // Nothing to send, or the peer did not answer: until the outbox grows (not while backing
    // off), the wait is over, or the relay stops.
    absl::MutexLock lock(&mu_);
    auto woken = [this, seen, backing_off = wait > absl::ZeroDuration()]() {
      mu_.AssertReaderHeld();
      return stop_ || (!backing_off && wakes_ != seen);
    };
    if (wait > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
    } else {
      mu_.Await(absl::Condition(&woken));
    }
  }
}

bool Relay::SendFirst(Lane* lane, absl::Duration* wait) {
  const std::string prefix = storage::OutboxPrefix(lane->peer->node);
  std::string key, value;
  absl::Status scanned = store_->Scan(storage::Column::kOutbox, prefix, "",
                                      [&](absl::string_view k, absl::string_view v) {
                                        key = std::string(k);
                                        value = std::string(v);
                                        return false;
                                      });
  uint64_t position = 0;
  if (!scanned.ok() || key.empty()) return false;
  storage::v1::OutboxMessage message;
  if (!storage::ParseOutboxKey(key, lane->peer->node, &position) ||
      !message.ParseFromString(value)) {
    if (options_.log != nullptr) {
      *options_.log << "federation: a malformed outbox message for peer " << lane->peer->node
                    << " is set aside\n";
    }
    storage::WriteSet drop;
    drop.Delete(storage::Column::kOutbox, key);
    return store_->Commit(drop).ok();
  }
  v1::RelayRequest request;
  request.set_key(absl::StrCat(peers_->node(), "/", position));
  std::string request_name;
  if (message.has_forward()) {
    *request.mutable_forward() = message.forward();
    request_name = message.forward().name();
  } else {
    absl::StatusOr<v1::MirroredTrail> mirror = hooks_.mirror(message.mirror_request());
    if (!mirror.ok()) {
      *wait = absl::Seconds(1);  // the checkpoint catching up, or the store
      return false;
    }
    *request.mutable_mirror() = *std::move(mirror);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  {
    absl::MutexLock lock(&lane->in_flight_mu);
    lane->in_flight = &ctx;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stop_) ctx.TryCancel();
  }
  v1::RelayResponse response;
  const grpc::Status st = lane->stub->Relay(&ctx, request, &response);
  {
    absl::MutexLock lock(&lane->in_flight_mu);
    lane->in_flight = nullptr;
  }
  if (!st.ok() && Retryable(st.error_code())) {
    lane->backoff = lane->backoff == absl::ZeroDuration()
                        ? absl::Seconds(1)
                        : std::min(2 * lane->backoff, options_.retry_max);
    *wait = lane->backoff;
    if (!lane->failing && options_.log != nullptr) {
      *options_.log << "federation: peer " << lane->peer->node
                    << " does not take its messages: code=" << st.error_code()
                    << " reason=" << LogField(st.error_message(), 256)
                    << "; they wait in the outbox\n";
    }
    lane->failing = true;
    return false;
  }
  if (lane->failing && options_.log != nullptr) {
    *options_.log << "federation: peer " << lane->peer->node << " takes its messages again\n";
  }
  lane->failing = false;
  lane->backoff = absl::ZeroDuration();
  if (!st.ok() && options_.log != nullptr) {
    *options_.log << "federation: peer " << lane->peer->node << " refused message " << request.key()
                  << ": code=" << st.error_code() << " reason=" << LogField(st.error_message(), 256)
                  << "\n";
  }
  if (message.has_forward() && hooks_.relay_state) {
    hooks_.relay_state(request_name, request.key(), st.ok() ? v1::RELAY_RELAYED : v1::RELAY_REFUSED,
                       st.ok() ? "" : st.error_message());
  }
  storage::WriteSet done;
  done.Delete(storage::Column::kOutbox, key);
  if (!store_->Commit(done).ok()) {
    *wait = absl::Seconds(1);
    return false;
  }
  ++lane->sent;
  return true;
}

}  // namespace comity::federation
