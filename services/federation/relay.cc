#include "services/federation/relay.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/text.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/federation/lanes.h"
#include "storage/keys.h"

namespace comity::federation {
namespace {

// A call carries at most this many messages, and stops adding once past this many bytes.
constexpr size_t kBatchMessages = 128;
constexpr size_t kBatchBytes = 1 << 20;
// Room for a call's framing beside its messages.
constexpr size_t kFraming = 64 << 10;

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

struct Relay::Lane : PeerLane {
  // The relay's own; read by Sent().
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> oversized{0};
  absl::Duration backoff = absl::ZeroDuration();
  bool failing = false;
  // The last key taken from the outbox: later scans start after it, never wading through the
  // deleted keys before it (new messages always come later: positions only grow).
  std::string taken_through;
};

Relay::Relay(storage::Store* store, const PeerSet* peers, const NodeCredentials& node, Hooks hooks,
             Options options)
    : store_(store),
      peers_(peers),
      hooks_(std::move(hooks)),
      options_(options),
      lanes_(MakeLanes<Lane>(*peers, node, options_.max_message_bytes)) {
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
  JoinLanes(lanes_);
}

uint64_t Relay::Sent(const std::string& peer) const {
  const Lane* lane = FindLane(lanes_, peer);
  return lane != nullptr ? lane->sent.load() : 0;
}

uint64_t Relay::Oversized(const std::string& peer) const {
  const Lane* lane = FindLane(lanes_, peer);
  return lane != nullptr ? lane->oversized.load() : 0;
}

uint64_t Relay::Held(const std::string& peer) const {
  const Lane* lane = FindLane(lanes_, peer);
  return lane != nullptr ? lane->held.load() : 0;
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
  // The first messages of the peer's outbox, up to kBatchMessages and about kBatchBytes.
  struct Pending {
    std::string key;  // the outbox key
    int index = -1;   // its message in the request; -1: covered by the mirror at `covered`
    int covered = -1;
    std::string request;  // forwards: the request, for its relay state
  };
  std::vector<Pending> pending;
  std::vector<std::pair<std::string, std::string>> raw;
  absl::Status scanned =
      store_->Scan(storage::Column::kOutbox, storage::OutboxPrefix(lane->peer->node),
                   lane->taken_through, [&](absl::string_view k, absl::string_view v) {
                     raw.emplace_back(std::string(k), std::string(v));
                     return raw.size() < kBatchMessages;
                   });
  if (!scanned.ok() || raw.empty()) return false;
  if (hooks_.paused && hooks_.paused(lane->peer->node)) {
    ++lane->held;
    return false;
  }
  v1::RelayRequest request;
  storage::WriteSet done;
  std::map<std::string, int> mirrored;  // request id -> its message's index
  std::set<std::string> too_large;      // requests whose mirror cannot fit in a call
  std::string set_aside_through;        // messages set aside before the first sent
  size_t bytes = 0;
  // A message that can never be sent leaves the outbox, so that it holds up nothing after it.
  auto set_aside = [&](const std::string& key) {
    done.Delete(storage::Column::kOutbox, key);
    if (pending.empty()) set_aside_through = key;
  };
  for (auto& [key, value] : raw) {
    if (bytes > kBatchBytes) break;
    uint64_t position = 0;
    storage::v1::OutboxMessage message;
    if (!storage::ParseOutboxKey(key, lane->peer->node, &position) ||
        !message.ParseFromString(value)) {
      if (options_.log != nullptr) {
        *options_.log << "federation: a malformed outbox message for peer " << lane->peer->node
                      << " is set aside\n";
      }
      set_aside(key);
      continue;
    }
    Pending p;
    p.key = key;
    if (message.has_forward()) {
      v1::RelayMessage* m = request.add_messages();
      m->set_key(absl::StrCat(peers_->node(), "/", position));
      *m->mutable_forward() = std::move(*message.mutable_forward());
      p.index = request.messages_size() - 1;
      p.request = m->forward().name();
      bytes += m->ByteSizeLong();
    } else if (auto it = mirrored.find(message.mirror_request()); it != mirrored.end()) {
      p.covered = it->second;  // built now, the one mirror covers every entry queued so far
    } else if (too_large.count(message.mirror_request()) > 0) {
      ++lane->oversized;  // as the one before it
      set_aside(key);
      continue;
    } else {
      absl::StatusOr<v1::MirroredTrail> mirror = hooks_.mirror(message.mirror_request());
      if (!mirror.ok()) break;  // the checkpoint catching up, or the store: from here next time
      const size_t size = mirror->ByteSizeLong();
      if (size + kFraming > static_cast<size_t>(options_.max_message_bytes)) {
        if (options_.log != nullptr) {
          *options_.log << "federation: the trail of requests/"
                        << LogField(message.mirror_request(), 64) << " (" << size
                        << " bytes) is too large to mirror to peer " << lane->peer->node
                        << " within federation.max_message_mb; set aside\n";
        }
        ++lane->oversized;
        too_large.insert(message.mirror_request());
        set_aside(key);
        continue;
      }
      if (!request.messages().empty() &&
          bytes + size + kFraming > static_cast<size_t>(options_.max_message_bytes)) {
        break;  // in the next call
      }
      v1::RelayMessage* m = request.add_messages();
      m->set_key(absl::StrCat(peers_->node(), "/", position));
      *m->mutable_mirror() = *std::move(mirror);
      p.index = request.messages_size() - 1;
      mirrored[message.mirror_request()] = p.index;
      bytes += size + m->key().size();  // a mirror's size is counted once
    }
    pending.push_back(std::move(p));
  }
  if (request.messages().empty()) {
    if (done.empty()) {
      *wait = absl::Seconds(1);
      return false;
    }
    if (!store_->Commit(done).ok()) return false;
    lane->taken_through = set_aside_through;
    return true;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  lane->Begin(&ctx);
  {
    absl::MutexLock lock(&mu_);
    if (stop_) ctx.TryCancel();
  }
  v1::RelayResponse response;
  const grpc::Status st = lane->stub->Relay(&ctx, request, &response);
  lane->End();
  // The call failing as a whole (unreachable, or not taking this node as a peer) keeps every
  // message for the next attempt.
  bool retry = !st.ok() || response.results_size() != request.messages_size();
  int taken = 0;
  std::string through = set_aside_through;
  for (const Pending& p : pending) {
    if (retry) break;
    const int index = p.index >= 0 ? p.index : p.covered;
    const google::rpc::Status& result = response.results(index);
    const auto code = static_cast<grpc::StatusCode>(result.code());
    if (code != grpc::StatusCode::OK && Retryable(code)) {
      retry = true;  // this one and every later one wait: the order holds
      break;
    }
    if (p.index >= 0 && code != grpc::StatusCode::OK && options_.log != nullptr) {
      *options_.log << "federation: peer " << lane->peer->node << " refused message "
                    << request.messages(p.index).key() << ": code=" << result.code()
                    << " reason=" << LogField(result.message(), 256) << "\n";
    }
    if (!p.request.empty() && hooks_.relay_state) {
      hooks_.relay_state(p.request, request.messages(p.index).key(),
                         code == grpc::StatusCode::OK ? v1::RELAY_RELAYED : v1::RELAY_REFUSED,
                         result.code(), code == grpc::StatusCode::OK ? "" : result.message());
    }
    done.Delete(storage::Column::kOutbox, p.key);
    through = p.key;
    ++taken;
  }
  if (retry) {
    lane->backoff = lane->backoff == absl::ZeroDuration()
                        ? absl::Seconds(1)
                        : std::min(2 * lane->backoff, options_.retry_max);
    *wait = lane->backoff;
    if (!lane->failing && options_.log != nullptr) {
      const std::string why = !st.ok() ? st.error_message() : "a message was not taken this time";
      *options_.log << "federation: peer " << lane->peer->node
                    << " does not take its messages: code=" << st.error_code()
                    << " reason=" << LogField(why, 256) << "; they wait in the outbox\n";
    }
    lane->failing = true;
  } else {
    if (lane->failing && options_.log != nullptr) {
      *options_.log << "federation: peer " << lane->peer->node << " takes its messages again\n";
    }
    lane->failing = false;
    lane->backoff = absl::ZeroDuration();
  }
  if (!done.empty() && !store_->Commit(done).ok()) {
    *wait = absl::Seconds(1);
    return false;
  }
  if (!through.empty()) lane->taken_through = through;
  lane->sent += taken;
  return taken > 0 && !retry;
}

}  // namespace comity::federation
