#include "services/workflow/scheduler.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "services/workflow/command.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"

namespace comity::workflow {
namespace {

constexpr int kMaxTimersPerRound = 1024;
constexpr int kMaxRounds = 64;

}  // namespace

absl::StatusOr<int> Scheduler::RunDue() {
  int changed = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    std::vector<v1::ClockTimerRequest> due;
    absl::Status scan =
        store_->Scan(storage::Column::kIndex, storage::TimerPrefix(), "",
                     [&](absl::string_view key, absl::string_view) {
                       int64_t at = 0;
                       v1::ClockTimerRequest t;
                       bool warning = false;
                       std::string id;
                       if (!storage::ParseTimerKey(key, &at, &id, t.mutable_clock(), &warning))
                         return true;
                       if (at > now) return false;
                       t.set_name(RequestName(id));
                       t.set_warning(warning);
                       *t.mutable_time() = ToProto(absl::FromUnixMicros(at));
                       due.push_back(std::move(t));
                       return static_cast<int>(due.size()) < kMaxTimersPerRound;
                     });
    if (!scan.ok()) return scan;
    if (due.empty()) break;
    absl::BlockingCounter pending(static_cast<int>(due.size()));
    absl::Mutex mu;
    int round_changed = 0;
    absl::Status failure;
    for (const v1::ClockTimerRequest& t : due) {
      engine_->Apply(MakeTimerCommand(t), [&](absl::StatusOr<v1::Request> r) {
        {
          absl::MutexLock lock(&mu);
          if (r.ok()) {
            ++round_changed;
          } else if (!absl::IsFailedPrecondition(r.status()) && !absl::IsNotFound(r.status()) &&
                     failure.ok()) {
            failure = r.status();
          }
        }
        pending.DecrementCount();
      });
    }
    pending.Wait();
    absl::MutexLock lock(&mu);
    changed += round_changed;
    if (!failure.ok()) return failure;
  }
  return changed;
}

void Scheduler::Start(absl::Duration period, std::function<void(const std::string&)> log) {
  log_ = std::move(log);
  thread_ = std::thread([this, period] { Loop(period); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop(absl::Duration period) {
  for (;;) {
    absl::StatusOr<int> fired = RunDue();
    if (log_ && !fired.ok()) {
      log_(absl::StrCat("scheduler: ", fired.status().ToString()));
    } else if (log_ && *fired > 0) {
      log_(absl::StrCat("scheduler: ", *fired, " timed change(s) recorded"));
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, absl::ToChronoNanoseconds(period), [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace comity::workflow
