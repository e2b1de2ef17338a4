#include "services/workflow/clocks.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/timeutil.h"

namespace comity::workflow {
namespace {

// True if `name` names an action, a state or a note kind.
bool IsEventName(const std::string& name) {
  v1::Action action;
  v1::State state;
  v1::NoteKind note;
  return (v1::Action_Parse(name, &action) && action != v1::ACTION_UNSPECIFIED) ||
         (v1::State_Parse(name, &state) && state != v1::STATE_UNSPECIFIED) ||
         (v1::NoteKind_Parse(name, &note) && note != v1::NOTE_KIND_UNSPECIFIED);
}

// What happened to the request, as clock events.
struct Happened {
  v1::Action action;
  v1::State entered;  // STATE_UNSPECIFIED if the state did not change
  v1::NoteKind note;

  bool Is(const std::string& event) const {
    if (event == v1::Action_Name(action)) return true;
    if (entered != v1::STATE_UNSPECIFIED && event == v1::State_Name(entered)) return true;
    return note != v1::NOTE_KIND_UNSPECIFIED && event == v1::NoteKind_Name(note);
  }
  bool Any(const google::protobuf::RepeatedPtrField<std::string>& events) const {
    return std::any_of(events.begin(), events.end(), [this](const auto& e) { return Is(e); });
  }
};

bool CoversType(const ClockRule& rule, v1::RequestType type) {
  return rule.types_size() == 0 ||
         std::find(rule.types().begin(), rule.types().end(), type) != rule.types().end();
}

bool Applies(const ClockRule& rule, const v1::Request& record) {
  if (!CoversType(rule, record.type())) return false;
  if (rule.due_at_preservation_expiry()) return IsPreservationType(record.type());
  return LengthHours(rule, record.priority()) > 0;
}

bool PausesIn(const ClockRule& rule, v1::State state) {
  return std::find(rule.pauses_in().begin(), rule.pauses_in().end(), state) !=
         rule.pauses_in().end();
}

// Ends a pause at `now`; returns how long it lasted.
absl::Duration Unpause(v1::Clock& clock, absl::Time now) {
  using google::protobuf::util::TimeUtil;
  const absl::Duration paused = now - FromProto(clock.pause_time());
  *clock.mutable_paused() = TimeUtil::MicrosecondsToDuration(
      absl::ToInt64Microseconds(paused) + TimeUtil::DurationToMicroseconds(clock.paused()));
  clock.clear_pause_time();
  return paused;
}

// True if two rules of one name could both apply to a request type (no types: every type).
bool TypesOverlap(const ClockRule& a, const ClockRule& b) {
  if (a.types_size() == 0 || b.types_size() == 0) return true;
  return std::any_of(a.types().begin(), a.types().end(),
                     [&b](int t) { return CoversType(b, static_cast<v1::RequestType>(t)); });
}

void Stop(v1::Clock& clock, absl::Time now) {
  if (clock.state() == v1::PAUSED) Unpause(clock, now);
  clock.set_state(v1::STOPPED);
  *clock.mutable_stop_time() = ToProto(now);
  clock.clear_next_warning_time();
}

}  // namespace

absl::Status CheckClockRules(const InstrumentProfile& profile) {
  for (int i = 0; i < profile.clocks_size(); ++i) {
    const ClockRule& rule = profile.clocks(i);
    auto bad = [&rule](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("clock ", rule.name(), ": ", what));
    };
    if (rule.name().empty() || !std::all_of(rule.name().begin(), rule.name().end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        })) {
      return bad("the name must be [a-z0-9-]+");
    }
    // A name may recur for other request types (a clock whose length differs by type).
    for (int j = 0; j < i; ++j) {
      const ClockRule& earlier = profile.clocks(j);
      if (earlier.name() == rule.name() && TypesOverlap(earlier, rule)) {
        return bad("defined twice for the same request type");
      }
    }
    if (rule.article().empty()) return bad("names no article");
    if (rule.starts_on().empty()) return bad("has no starts_on event");
    std::vector<std::string> events(rule.starts_on().begin(), rule.starts_on().end());
    events.insert(events.end(), rule.stops_on().begin(), rule.stops_on().end());
    if (!rule.extends_on().empty()) events.push_back(rule.extends_on());
    for (const std::string& e : events) {
      if (!IsEventName(e)) return bad(absl::StrCat(e, " is no action, state or note kind"));
    }
    const int64_t lengths[] = {rule.routine_hours(), rule.urgent_hours(), rule.emergency_hours()};
    if (!rule.due_at_preservation_expiry()) {
      if (std::all_of(std::begin(lengths), std::end(lengths), [](int64_t h) { return h == 0; })) {
        return bad("has no length at any priority");
      }
    }
    for (int64_t h : lengths) {
      if (h < 0) return bad("a length is negative");
      if (rule.working_days() && h % 24 != 0) return bad("working-day lengths are whole days");
    }
    for (int64_t w : rule.warn_hours()) {
      if (w <= 0) return bad("warning leads must be positive");
    }
    if (!rule.extends_on().empty() && (rule.extension_hours() <= 0 || rule.max_extensions() <= 0)) {
      return bad("extends_on needs a positive extension_hours and max_extensions");
    }
    if (rule.due_at_preservation_expiry() && rule.on_due() != config::v1::EXPIRE) {
      return bad("a clock due at the preservation expiry expires it (on_due: EXPIRE)");
    }
  }
  for (const std::string& day : profile.holidays()) {
    absl::CivilDay parsed;
    if (!absl::ParseCivilTime(day, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat("holiday ", day, " is not YYYY-MM-DD"));
    }
  }
  return absl::OkStatus();
}

const ClockRule* FindClockRule(const InstrumentProfile& profile, absl::string_view name,
                               v1::RequestType type) {
  for (const ClockRule& rule : profile.clocks()) {
    if (rule.name() == name && CoversType(rule, type)) return &rule;
  }
  return nullptr;
}

v1::Clock* FindClock(v1::Request& request, absl::string_view name) {
  for (v1::Clock& clock : *request.mutable_clocks()) {
    if (clock.name() == name) return &clock;
  }
  return nullptr;
}

int64_t LengthHours(const ClockRule& rule, v1::Priority priority) {
  switch (priority) {
    case v1::EMERGENCY:
      return rule.emergency_hours();
    case v1::URGENT:
      return rule.urgent_hours();
    case v1::ROUTINE:
    case v1::PRIORITY_UNSPECIFIED:
    case v1::Priority_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Priority_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return rule.routine_hours();
}

std::vector<absl::CivilDay> Holidays(const InstrumentProfile& profile) {
  std::vector<absl::CivilDay> out;
  for (const std::string& day : profile.holidays()) {
    absl::CivilDay parsed;
    if (absl::ParseCivilTime(day, &parsed)) out.push_back(parsed);
  }
  return out;
}

absl::Time AddLength(absl::Time start, int64_t hours, bool working_days,
                     const std::vector<absl::CivilDay>& holidays) {
  if (!working_days) return start + absl::Hours(hours);
  absl::Time t = start;
  for (int64_t days = hours / 24; days > 0;) {
    t += absl::Hours(24);
    const absl::CivilDay day = absl::ToCivilDay(t, absl::UTCTimeZone());
    const absl::Weekday w = absl::GetWeekday(day);
    if (w == absl::Weekday::saturday || w == absl::Weekday::sunday) continue;
    if (std::find(holidays.begin(), holidays.end(), day) != holidays.end()) continue;
    --days;
  }
  return t;
}

void UpdateClocks(const InstrumentProfile& profile, v1::State state_before, v1::Action action,
                  v1::NoteKind note, absl::Time now, v1::Request& record) {
  const Happened happened{
      action, record.state() != state_before ? record.state() : v1::STATE_UNSPECIFIED, note};
  const bool ended = IsTerminal(record.state());
  for (const ClockRule& rule : profile.clocks()) {
    if (!Applies(rule, record)) continue;
    v1::Clock* clock = FindClock(record, rule.name());
    if (clock == nullptr) {
      if (ended || !happened.Any(rule.starts_on())) continue;
      clock = record.add_clocks();
      clock->set_name(rule.name());
      clock->set_article(rule.article());
      clock->set_side(rule.side() == v1::SIDE_UNSPECIFIED ? v1::RECEIVING : rule.side());
      clock->set_working_days(rule.working_days());
      clock->set_state(v1::RUNNING);
      *clock->mutable_start_time() = ToProto(now);
      *clock->mutable_due_time() =
          rule.due_at_preservation_expiry()
              ? record.preservation().expire_time()
              : ToProto(AddLength(now, LengthHours(rule, record.priority()), rule.working_days(),
                                  Holidays(profile)));
      if (PausesIn(rule, record.state())) {
        clock->set_state(v1::PAUSED);
        *clock->mutable_pause_time() = ToProto(now);
      }
      continue;
    }
    if (clock->state() == v1::STOPPED) continue;
    if (ended || happened.Any(rule.stops_on())) {
      Stop(*clock, now);
      continue;
    }
    if (rule.due_at_preservation_expiry()) {
      // The expiry is the record's: EXTEND_PRESERVATION moves it, and a later expiry ends a hold.
      *clock->mutable_due_time() = record.preservation().expire_time();
      clock->set_extensions(record.preservation().extensions());
      if (clock->state() == v1::HELD && FromProto(clock->due_time()) > now) {
        clock->set_state(v1::RUNNING);
      }
      continue;
    }
    if (!rule.extends_on().empty() && happened.Is(rule.extends_on()) &&
        clock->extensions() < rule.max_extensions()) {
      *clock->mutable_due_time() =
          ToProto(AddLength(FromProto(clock->due_time()), rule.extension_hours(),
                            rule.working_days(), Holidays(profile)));
      clock->set_extensions(clock->extensions() + 1);
    }
    const bool pause = PausesIn(rule, record.state());
    if (pause && clock->state() == v1::RUNNING) {
      clock->set_state(v1::PAUSED);
      *clock->mutable_pause_time() = ToProto(now);
    } else if (!pause && clock->state() == v1::PAUSED) {
      const absl::Duration paused = Unpause(*clock, now);
      *clock->mutable_due_time() = ToProto(FromProto(clock->due_time()) + paused);
      clock->set_state(v1::RUNNING);
    }
  }
  RefreshClocks(profile, record);
}

void RefreshClocks(const InstrumentProfile& profile, v1::Request& record) {
  std::optional<absl::Time> next_due;
  for (v1::Clock& clock : *record.mutable_clocks()) {
    clock.clear_next_warning_time();
    if (clock.state() != v1::RUNNING) continue;
    const absl::Time due = FromProto(clock.due_time());
    if (!next_due || due < *next_due) next_due = due;
    if (clock.has_breach_time()) continue;
    const ClockRule* rule = FindClockRule(profile, clock.name(), record.type());
    if (rule == nullptr) continue;
    const absl::Time start = FromProto(clock.start_time());
    const std::optional<absl::Time> last = clock.has_last_warning_time()
                                               ? std::optional(FromProto(clock.last_warning_time()))
                                               : std::nullopt;
    std::optional<absl::Time> next;
    for (int64_t lead : rule->warn_hours()) {
      const absl::Time at = due - absl::Hours(lead);
      if (at < start || (last && at <= *last)) continue;
      if (!next || at < *next) next = at;
    }
    if (next) *clock.mutable_next_warning_time() = ToProto(*next);
  }
  if (next_due) {
    *record.mutable_next_due_time() = ToProto(*next_due);
  } else {
    record.clear_next_due_time();
  }
}

std::vector<Timer> TimersOf(const v1::Request& record) {
  std::vector<Timer> out;
  for (const v1::Clock& clock : record.clocks()) {
    if (clock.state() != v1::RUNNING) continue;
    if (clock.has_next_warning_time()) {
      out.push_back({FromProto(clock.next_warning_time()), clock.name(), true});
    }
    if (!clock.has_breach_time()) out.push_back({FromProto(clock.due_time()), clock.name(), false});
  }
  return out;
}

}  // namespace comity::workflow
