#include "services/workflow/events.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/auth/policy.h"
#include "services/workflow/names.h"
#include "storage/keys.h"

namespace comity::workflow {

v1::Event EventOf(uint64_t cursor, const storage::v1::EventRecord& record, v1::AuditEntry entry) {
  v1::Event e;
  e.set_cursor(cursor);
  e.set_request(RequestName(record.request_id()));
  *e.mutable_entry() = std::move(entry);
  e.set_type(record.type());
  e.set_priority(record.priority());
  e.set_requesting_authority(record.requesting_authority());
  e.set_requested_authority(record.requested_authority());
  return e;
}

bool MaySeeEvent(const auth::Caller& caller, const std::string& requesting,
                 const std::string& requested, bool submitted) {
  if (!auth::AuthorizeList(caller).ok()) return false;
  if (caller.authority == requesting) return true;
  if (!submitted) return false;
  return caller.authority == requested || auth::SeesAllRequests(caller);
}

void EventHub::Publish(std::vector<FeedEvent> events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    absl::MutexLock lock(&mu_);
    if (subscriptions_.empty()) {
      // Nobody is watching: a stream that starts later catches up from the store, which holds
      // every published event, so the ring can start afresh.
      head_ = std::max(head_, events.back().event.cursor());
      floor_ = head_;
      ring_.clear();
      return;
    }
    for (FeedEvent& e : events) {
      head_ = std::max(head_, e.event.cursor());
      ring_.push_back(std::move(e));
    }
    while (ring_.size() > ring_size_) {
      floor_ = ring_.front().event.cursor();
      ring_.pop_front();
    }
    wake = subscriptions_;
  }
  for (const auto& s : wake) s->Wake();
}

void EventHub::Close() {
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    wake = subscriptions_;
  }
  for (const auto& s : wake) s->Wake();
}

uint64_t EventHub::Head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(std::function<void()> wake) {
  auto s = std::make_shared<Subscription>(std::move(wake));
  absl::MutexLock lock(&mu_);
  subscriptions_.push_back(s);
  if (on_streams_changed_) on_streams_changed_(subscriptions_.size());
  return s;
}

void EventHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  subscription->Cancel();
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(std::remove(subscriptions_.begin(), subscriptions_.end(), subscription),
                       subscriptions_.end());
  if (on_streams_changed_) on_streams_changed_(subscriptions_.size());
}

absl::Status EventHub::Next(const auth::Caller& caller, uint64_t after, int max, bool live,
                            Batch* out) const {
  out->examined = after;
  uint64_t floor = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return absl::UnavailableError(
          absl::StrCat("the node is stopping; reconnect with after_cursor ", after));
    }
    if (after >= floor_) {
      out->from_ring = true;
      // The ring is in cursor order: skip to the first event after `after`.
      auto it =
          std::upper_bound(ring_.begin(), ring_.end(), after,
                           [](uint64_t c, const FeedEvent& p) { return c < p.event.cursor(); });
      for (; it != ring_.end() && static_cast<int>(out->events.size()) < max; ++it) {
        out->examined = it->event.cursor();
        if (MaySeeEvent(caller, it->event.requesting_authority(), it->event.requested_authority(),
                        it->submitted)) {
          out->events.push_back(it->event);
        }
      }
      return absl::OkStatus();
    }
    if (live) {
      out->lagging = true;
      return absl::OkStatus();
    }
    floor = floor_;
  }
  return ReadStored(caller, after, max, floor, out);
}

absl::Status EventHub::ReadStored(const auth::Caller& caller, uint64_t after, int max,
                                  uint64_t floor, Batch* out) const {
  absl::Status problem;
  int scanned = 0;
  bool stopped = false;
  absl::Status s = store_->Scan(
      storage::Column::kIndex, storage::EventPrefix(), storage::EventKey(after),
      [&](absl::string_view key, absl::string_view value) {
        uint64_t cursor = 0;
        storage::v1::EventRecord record;
        if (!absl::SimpleAtoi(key.substr(storage::EventPrefix().size()), &cursor) ||
            !record.ParseFromString(std::string(value))) {
          problem = absl::DataLossError(absl::StrCat("the event index entry ", key, " is corrupt"));
          return false;
        }
        out->examined = cursor;
        if (MaySeeEvent(caller, record.requesting_authority(), record.requested_authority(),
                        record.submitted())) {
          absl::StatusOr<std::string> bytes = store_->Get(
              storage::Column::kAudit, storage::AuditKey(record.request_id(), record.sequence()));
          v1::AuditEntry entry;
          if (!bytes.ok() || !entry.ParseFromString(*bytes)) {
            problem = absl::DataLossError(
                absl::StrCat("the audit entry of event ", cursor, " cannot be read"));
            return false;
          }
          out->events.push_back(EventOf(cursor, record, std::move(entry)));
        }
        // Bound the work of one call even when the caller sees little of what it scans.
        stopped = static_cast<int>(out->events.size()) == max || ++scanned == 16 * max;
        return !stopped;
      });
  if (!s.ok()) return s;
  if (!problem.ok()) return problem;
  // Every event up to `floor` was durable before the ring let go of it: a scan that ran out
  // has seen them all, and the stream can go on from the ring.
  if (!stopped) out->examined = std::max(out->examined, floor);
  return absl::OkStatus();
}

}  // namespace comity::workflow
