#ifndef COMITY_SERVICES_WORKFLOW_CLOCKS_H_
#define COMITY_SERVICES_WORKFLOW_CLOCKS_H_

// Statutory clocks (TREATY.md, config.proto ClockRule): which of a profile's clocks run on a
// request, and when they warn and fall due. Pure: the engine calls these on every change and
// keeps the timer index in step with TimersOf().

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/resources.pb.h"

namespace comity::workflow {

using config::v1::ClockRule;
using config::v1::InstrumentProfile;

// INVALID_ARGUMENT if a clock of `profile` is malformed: a name missing, not [a-z0-9-]+, or
// defined twice for one request type (a name may recur with other types, e.g. to give them
// another length); an event that is no action, state or note kind; no length at any priority;
// working-day lengths that are not whole days; a warning lead that is not positive; a holiday
// that is not YYYY-MM-DD.
absl::Status CheckClockRules(const InstrumentProfile& profile);

// The rule named `name` for requests of `type`, or nullptr.
const ClockRule* FindClockRule(const InstrumentProfile& profile, absl::string_view name,
                               v1::RequestType type);

// The request's clock named `name`, or nullptr.
v1::Clock* FindClock(v1::Request& request, absl::string_view name);

// The clock's length in hours at `priority`; 0: it does not run at that priority.
int64_t LengthHours(const ClockRule& rule, v1::Priority priority);

// `start` plus `hours`; with `working_days`, plus hours / 24 working days (Monday to Friday in
// UTC, not in `holidays`), keeping the time of day.
absl::Time AddLength(absl::Time start, int64_t hours, bool working_days,
                     const std::vector<absl::CivilDay>& holidays);

// The profile's holidays (already checked by CheckClockRules).
std::vector<absl::CivilDay> Holidays(const InstrumentProfile& profile);

// Brings `record`'s clocks up to date after `action` (of kind `note`, for ADD_NOTE) moved it from
// `state_before` to its present state at `now`: starts, pauses, resumes, extends and stops
// clocks, then sets each running clock's next warning and the record's next_due_time.
void UpdateClocks(const InstrumentProfile& profile, v1::State state_before, v1::Action action,
                  v1::NoteKind note, absl::Time now, v1::Request& record);

// Sets each clock's next_warning_time and the record's next_due_time from the clocks as they
// stand (no event).
void RefreshClocks(const InstrumentProfile& profile, v1::Request& record);

// A moment at which the node must look at a request's clock.
struct Timer {
  absl::Time time;
  std::string clock;
  bool warning = false;  // a warning; otherwise the due time

  friend bool operator==(const Timer& a, const Timer& b) {
    return a.time == b.time && a.clock == b.clock && a.warning == b.warning;
  }
};

// The timers `record`'s clocks need: for each running clock its next warning and, unless the
// breach is recorded, its due time. Paused, held and stopped clocks need none.
std::vector<Timer> TimersOf(const v1::Request& record);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_CLOCKS_H_
