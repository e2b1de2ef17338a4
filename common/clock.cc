#include "common/clock.h"

#include "absl/strings/str_cat.h"

namespace comity {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock* Clock::Real() {
  static const RealClock* const clock = new RealClock;
  return clock;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

void FakeClock::Set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
}

std::string HumanDuration(absl::Duration d) {
  std::string sign = d < absl::ZeroDuration() ? "-" : "";
  d = absl::AbsDuration(d);
  const int64_t minutes = absl::ToInt64Minutes(d);
  const int64_t days = minutes / (24 * 60);
  const int64_t hours = (minutes / 60) % 24;
  const int64_t mins = minutes % 60;
  if (days > 0) return absl::StrCat(sign, days, "d ", hours, "h");
  if (hours > 0) return absl::StrCat(sign, hours, "h ", mins, "m");
  return absl::StrCat(sign, mins, "m");
}

}  // namespace comity
