#ifndef COMITY_SERVICES_WORKFLOW_SCHEDULER_H_
#define COMITY_SERVICES_WORKFLOW_SCHEDULER_H_

// The scheduler fires the clocks' timers (storage index timer/...) through the engine, so every
// warning, breach, hold and expiry is an audited change like any other. Timers are durable: one
// that fell due while the node was down fires at the first RunDue after start-up.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/workflow/engine.h"
#include "storage/store.h"

namespace comity::workflow {

class Scheduler {
 public:
  // `store`, `engine` and `clock` must outlive the scheduler.
  Scheduler(const storage::Store* store, Engine* engine, const Clock* clock)
      : store_(store), engine_(engine), clock_(clock) {}
  ~Scheduler() { Stop(); }

  // Fires every timer due at or before `clock`'s now, earliest first, waiting for each change,
  // until none is left (a change may set a timer that is already due). Returns the number of
  // changes made; timers the request no longer needs are dropped without a change.
  absl::StatusOr<int> RunDue();

  // Calls RunDue every `period` of real time on a thread of its own until Stop(), telling `log`
  // (if set) what it did; never the contents of a request.
  void Start(absl::Duration period, std::function<void(const std::string&)> log = nullptr);
  void Stop();

 private:
  void Loop(absl::Duration period);

  const storage::Store* const store_;
  Engine* const engine_;
  const Clock* const clock_;
  // The pause between rounds is measured on the monotonic clock (std::condition_variable's
  // wait_for), so a step of the wall clock (NTP) neither stalls nor hurries the loop. Abseil's
  // timed waits here take an absolute wall-clock deadline, which a backward step pushes away.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::function<void(const std::string&)> log_;
  std::thread thread_;
};

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_SCHEDULER_H_
