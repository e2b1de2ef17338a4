#ifndef COMITY_COMMON_CLOCK_H_
#define COMITY_COMMON_CLOCK_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace comity {

// Clock is the only source of the current time. Injected everywhere so that deadline logic is
// tested without sleeping. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The wall clock.
  static const Clock* Real();
};

// FakeClock stands still until told to move. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// "3d 4h", "2h 5m", "45m" (negative: "-2h 5m"): a duration for people, to the minute.
std::string HumanDuration(absl::Duration d);

}  // namespace comity

#endif  // COMITY_COMMON_CLOCK_H_
