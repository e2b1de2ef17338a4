// Statutory clocks with a fake clock: each shipped profile's clocks start, pause, extend, stop,
// warn and breach as their articles say; preservations expire, are extended and are held by a
// follow-up; working days are counted; timers that fell due while the node was down fire when
// it starts. Real RocksDB in a temporary directory; nobody sleeps.

#include "services/workflow/clocks.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/workflow/engine.h"
#include "services/workflow/errors.h"
#include "services/workflow/reader.h"
#include "services/workflow/scheduler.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/fixtures.h"

namespace comity::workflow {
namespace {

using comity::testing::As;
using comity::testing::FullRequest;
using comity::testing::kAlice;
using comity::testing::kGreta;
using comity::testing::TempDir;
using ::testing::ElementsAre;

// Friday 2026-11-20 10:00 UTC.
const absl::Time kFriday =
    absl::FromCivil(absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone());

TEST(AddLengthTest, CalendarHoursAndWorkingDays) {
  EXPECT_EQ(AddLength(kFriday, 8, false, {}), kFriday + absl::Hours(8));
  EXPECT_EQ(AddLength(kFriday, 240, false, {}), kFriday + absl::Hours(240));
  // One working day after a Friday is the Monday; five are the next Friday.
  EXPECT_EQ(AddLength(kFriday, 24, true, {}), kFriday + absl::Hours(72));
  EXPECT_EQ(AddLength(kFriday, 120, true, {}), kFriday + absl::Hours(24 * 7));
  // A holiday on the Monday pushes it to the Tuesday.
  EXPECT_EQ(AddLength(kFriday, 24, true, {absl::CivilDay(2026, 11, 23)}),
            kFriday + absl::Hours(96));
  // Started on a Saturday: the first working day counted is Monday.
  EXPECT_EQ(AddLength(kFriday + absl::Hours(24), 24, true, {}), kFriday + absl::Hours(72));
}

TEST(CheckClockRulesTest, RefusesMalformedClocks) {
  auto check = [](const std::string& text) {
    InstrumentProfile p;
    ClockRule* c = p.add_clocks();
    c->set_name("ack");
    c->set_article("art. 1");
    c->add_starts_on("SUBMIT");
    c->set_routine_hours(24);
    if (text == "event") c->add_stops_on("SUBMITTED_BY_FAX");
    if (text == "length") c->set_routine_hours(0);
    if (text == "working") {
      c->set_working_days(true);
      c->set_routine_hours(36);
    }
    if (text == "warn") c->add_warn_hours(0);
    if (text == "name") c->set_name("Ack");
    if (text == "holiday") p.add_holidays("25/12/2026");
    if (text == "expiry") c->set_due_at_preservation_expiry(true);
    return CheckClockRules(p);
  };
  EXPECT_TRUE(check("").ok());
  // A name may recur for other request types, never for the same one.
  InstrumentProfile p;
  for (v1::RequestType t : {v1::PRESERVATION, v1::STORED_DATA_PRODUCTION}) {
    ClockRule* c = p.add_clocks();
    c->set_name("ack");
    c->set_article("art. 1");
    c->add_starts_on("SUBMIT");
    c->set_routine_hours(24);
    c->add_types(t);
  }
  EXPECT_TRUE(CheckClockRules(p).ok());
  p.mutable_clocks(1)->add_types(v1::PRESERVATION);
  EXPECT_EQ(CheckClockRules(p).code(), absl::StatusCode::kInvalidArgument);
  p.mutable_clocks(1)->clear_types();
  EXPECT_EQ(CheckClockRules(p).code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"event", "length", "working", "warn", "name", "holiday", "expiry"}) {
    EXPECT_EQ(check(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

class ClockTest : public comity::testing::EngineFixture {
 protected:
  ClockTest() : EngineFixture(kFriday) {}

  template <typename Msg>
  absl::StatusOr<v1::Request> Do(const char* who, v1::Action action, Msg msg,
                                 const std::string& name) {
    msg.set_name(name);
    return engine_->ApplyAndWait(MakeCommand(action, Who(who), msg));
  }

  // Creates and submits a request from FR-CA to DE-BFJ.
  std::string Submitted(const std::string& instrument, v1::RequestType type,
                        v1::Priority priority = v1::ROUTINE) {
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest(instrument, type, priority);
    auto r = engine_->ApplyAndWait(MakeCommand(v1::CREATE, Who(kAlice), create));
    EXPECT_TRUE(r.ok()) << r.status();
    auto s = Do(kAlice, v1::SUBMIT, v1::SubmitRequestRequest(), r->name());
    EXPECT_TRUE(s.ok()) << s.status();
    return r->name();
  }

  v1::Request Step(const char* who, v1::Action action, const std::string& name) {
    absl::StatusOr<v1::Request> r;
    switch (action) {
      case v1::ACKNOWLEDGE:
        r = Do(who, action, v1::AcknowledgeRequestRequest(), name);
        break;
      case v1::ACCEPT:
        r = Do(who, action, v1::AcceptRequestRequest(), name);
        break;
      case v1::RESUME:
        r = Do(who, action, v1::ResumeRequestRequest(), name);
        break;
      case v1::POSTPONE: {  // an EIO ground, for twenty days
        v1::PostponeRequestRequest m;
        m.set_ground("PREJUDICE_TO_INVESTIGATION");
        m.set_reasons("a search is planned");
        *m.mutable_until_time() = ToProto(clock_.Now() + absl::Hours(24 * 20));
        r = Do(who, action, m, name);
        break;
      }
      case v1::REQUEST_INFORMATION: {
        v1::RequestInformationRequest m;
        m.set_questions("Which account?");
        r = Do(who, action, m, name);
        break;
      }
      case v1::SUPPLEMENT: {
        v1::SupplementRequestRequest m;
        m.set_information("This one.");
        r = Do(who, action, m, name);
        break;
      }
      case v1::CONSULT: {
        v1::ConsultRequestRequest m;
        m.set_postponement(true);
        m.set_reasons("ongoing domestic investigation");
        r = Do(who, action, m, name);
        break;
      }
      case v1::DELIVER: {
        v1::DeliverEvidenceRequest m;
        m.mutable_delivery()->set_final(true);
        auto* item = m.mutable_delivery()->add_items();
        item->set_name("data.csv");
        item->set_sha256(ToHex(Sha256("data")));
        item->set_category(v1::SUBSCRIBER);
        r = Do(who, action, m, name);
        break;
      }
      default:
        ADD_FAILURE() << "no helper for " << v1::Action_Name(action);
        return v1::Request();
    }
    EXPECT_TRUE(r.ok()) << v1::Action_Name(action) << ": " << r.status();
    return r.ok() ? *r : v1::Request();
  }

  v1::Request Get(const std::string& name) {
    auto r = reader_->Get(Who(kAlice), name);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Request();
  }

  static v1::Clock ClockOf(const v1::Request& r, const std::string& clock) {
    for (const v1::Clock& c : r.clocks()) {
      if (c.name() == clock) return c;
    }
    return v1::Clock();
  }

  std::vector<std::string> Names(const v1::Request& r) {
    std::vector<std::string> out;
    for (const v1::Clock& c : r.clocks()) out.push_back(c.name());
    return out;
  }

  // The entries the node recorded itself: "<action> <clock>".
  std::vector<std::string> SystemEntries(const std::string& name) {
    auto trail = reader_->Trail(Who(kAlice), name);
    EXPECT_TRUE(trail.ok()) << trail.status();
    std::vector<std::string> out;
    for (const v1::TrailEntry& e : trail->entries()) {
      if (e.entry().actor().side() != v1::SYSTEM) continue;
      EXPECT_EQ(e.entry().actor().principal(), "system");
      out.push_back(absl::StrCat(v1::Action_Name(e.entry().action()), " ", e.entry().clock()));
    }
    return out;
  }

  // Restarts the node with the shipped profiles, `id` changed by `change`.
  void Reprofile(const std::string& id, const std::function<void(InstrumentProfile&)>& change) {
    Close();
    std::vector<InstrumentProfile> profiles;
    for (const std::string& each : profiles_->Ids()) {
      InstrumentProfile p = *profiles_->Find(each);
      if (each == id) change(p);
      profiles.push_back(std::move(p));
    }
    auto set = ProfileSet::FromProfiles(std::move(profiles));
    ASSERT_TRUE(set.ok()) << set.status();
    profiles_ = *std::move(set);
    Open();
  }

  int Fire() {
    absl::StatusOr<int> n = scheduler_->RunDue();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  // Moves the fake clock to `t` and fires what is due.
  int FireAt(absl::Time t) {
    clock_.Set(t);
    return Fire();
  }

  std::string Confirmed(const std::string& instrument, absl::Time expiry) {
    const std::string name = Submitted(instrument, v1::PRESERVATION);
    Step(kGreta, v1::ACKNOWLEDGE, name);
    v1::ConfirmPreservedRequest confirm;
    *confirm.mutable_expire_time() = ToProto(expiry);
    auto r = Do(kGreta, v1::CONFIRM_PRESERVED, confirm, name);
    EXPECT_TRUE(r.ok()) << r.status();
    return name;
  }
};

// Every clock of every shipped profile, from the profile itself: driven to its start event, it
// runs with the due time its length (or the preservation expiry) gives, warns ahead of it, and
// at the due time the node records the breach (or the expiry) citing the clock's article.
TEST_F(ClockTest, EveryShippedClockStartsWarnsAndFallsDue) {
  int checked = 0;
  for (const std::string& id : profiles_->Ids()) {
    const InstrumentProfile& profile = *profiles_->Find(id);
    for (const ClockRule& rule : profile.clocks()) {
      SCOPED_TRACE(absl::StrCat(id, " ", rule.name()));
      v1::RequestType type = rule.types_size() > 0 ? rule.types(0) : v1::STORED_DATA_PRODUCTION;
      if (FindTypeRule(profile, type) == nullptr) type = profile.types(0).type();
      v1::Priority priority = v1::ROUTINE;
      if (rule.routine_hours() == 0 && !rule.due_at_preservation_expiry()) {
        priority = v1::EMERGENCY;
      }
      const std::string name = Submitted(id, type, priority);
      absl::Time start = clock_.Now();
      const std::string event = rule.starts_on(0);
      if (event == "ACKNOWLEDGE" || event == "IN_EXECUTION") Step(kGreta, v1::ACKNOWLEDGE, name);
      if (event == "IN_EXECUTION") Step(kGreta, v1::ACCEPT, name);
      absl::Time due = start + absl::Hours(LengthHours(rule, priority));
      if (event == "PRESERVED") {
        Step(kGreta, v1::ACKNOWLEDGE, name);
        v1::ConfirmPreservedRequest confirm;
        due = start + absl::Hours(24 * profile.min_preservation_days());
        *confirm.mutable_expire_time() = ToProto(due);
        ASSERT_TRUE(Do(kGreta, v1::CONFIRM_PRESERVED, confirm, name).ok());
      }
      v1::Request r = Get(name);
      const v1::Clock c = ClockOf(r, rule.name());
      ASSERT_EQ(c.name(), rule.name()) << "the clock did not start on " << event;
      EXPECT_EQ(c.state(), v1::RUNNING);
      EXPECT_EQ(c.article(), rule.article());
      EXPECT_EQ(FromProto(c.due_time()), due);
      // Other clocks of the same request may fire too; count this one's entries.
      auto count = [&](const std::string& entry) {
        const std::vector<std::string> entries = SystemEntries(name);
        return std::count(entries.begin(), entries.end(), absl::StrCat(entry, " ", rule.name()));
      };
      int warnings = 0;
      std::vector<int64_t> leads(rule.warn_hours().begin(), rule.warn_hours().end());
      std::sort(leads.rbegin(), leads.rend());
      for (int64_t lead : leads) {
        if (absl::Hours(lead) > due - start) continue;
        FireAt(due - absl::Hours(lead) - absl::Seconds(1));
        EXPECT_EQ(count("CLOCK_WARNING"), warnings) << "early, " << lead << "h ahead";
        FireAt(due - absl::Hours(lead));
        EXPECT_EQ(count("CLOCK_WARNING"), ++warnings) << lead << "h ahead";
      }
      EXPECT_GT(warnings, 0);
      FireAt(due - absl::Seconds(1));
      EXPECT_EQ(count("CLOCK_BREACH") + count("EXPIRE_PRESERVATION"), 0);
      ASSERT_GE(FireAt(due), 1);
      r = Get(name);
      EXPECT_EQ(count(rule.on_due() == config::v1::EXPIRE ? "EXPIRE_PRESERVATION" : "CLOCK_BREACH"),
                1);
      if (rule.on_due() == config::v1::EXPIRE) {
        EXPECT_EQ(r.state(), v1::EXPIRED);
      } else {
        EXPECT_EQ(FromProto(ClockOf(r, rule.name()).breach_time()), due);
      }
      auto trail = reader_->Trail(Who(kAlice), name);
      ASSERT_TRUE(trail.ok());
      for (const v1::TrailEntry& e : trail->entries()) {
        if (e.entry().clock() == rule.name() && e.entry().action() == v1::CLOCK_BREACH) {
          EXPECT_EQ(e.entry().legal_basis(), rule.article());
        }
      }
      // Withdrawn, the request's other clocks stop and stay out of the next round.
      if (r.state() != v1::EXPIRED) {
        v1::WithdrawRequestRequest withdraw;
        withdraw.set_reason("done");
        ASSERT_TRUE(Do(kAlice, v1::WITHDRAW, withdraw, name).ok());
        EXPECT_EQ(Get(name).clocks(0).state(), v1::STOPPED);
        EXPECT_FALSE(Get(name).has_next_due_time());
      }
      clock_.Advance(absl::Hours(1));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10);
}

TEST_F(ClockTest, EEvidenceProductionTenDaysWarnsThenBreaches) {
  const std::string name = Submitted("eu-eevidence", v1::STORED_DATA_PRODUCTION);
  v1::Request r = Get(name);
  EXPECT_THAT(Names(r), ElementsAre("production", "enforcing-review"));
  const v1::Clock production = ClockOf(r, "production");
  EXPECT_EQ(production.state(), v1::RUNNING);
  EXPECT_EQ(production.article(), "Reg. 2023/1543 art. 10(2), 10(3), 10(4)");
  EXPECT_EQ(production.side(), v1::RECEIVING);
  EXPECT_EQ(FromProto(production.start_time()), kFriday);
  const absl::Time due = kFriday + absl::Hours(240);
  EXPECT_EQ(FromProto(production.due_time()), due);
  EXPECT_EQ(FromProto(production.next_warning_time()), due - absl::Hours(48));
  EXPECT_EQ(FromProto(ClockOf(r, "enforcing-review").due_time()), due);
  EXPECT_EQ(FromProto(r.next_due_time()), due);

  EXPECT_EQ(FireAt(due - absl::Hours(49)), 0);
  EXPECT_EQ(FireAt(due - absl::Hours(48)), 1);  // production, 48 hours ahead
  EXPECT_EQ(FireAt(due - absl::Hours(24)), 1);  // the review, 24 hours ahead
  EXPECT_EQ(FireAt(due - absl::Hours(2)), 1);   // production, 2 hours ahead
  EXPECT_EQ(FireAt(due - absl::Hours(1)), 0);
  EXPECT_EQ(FireAt(due), 2);
  EXPECT_EQ(Fire(), 0);  // nothing twice
  EXPECT_THAT(SystemEntries(name),
              ElementsAre("CLOCK_WARNING production", "CLOCK_WARNING enforcing-review",
                          "CLOCK_WARNING production", "CLOCK_BREACH enforcing-review",
                          "CLOCK_BREACH production"));
  auto trail = reader_->Trail(Who(kAlice), name);
  ASSERT_TRUE(trail.ok());
  const v1::AuditEntry& breach = trail->entries().rbegin()->entry();
  EXPECT_EQ(breach.legal_basis(), "Reg. 2023/1543 art. 10(2), 10(3), 10(4)");
  EXPECT_EQ(FromProto(breach.due_time()), due);
  EXPECT_EQ(breach.state_before(), v1::SUBMITTED);
  EXPECT_EQ(breach.state_after(), v1::SUBMITTED);
  r = Get(name);
  EXPECT_EQ(FromProto(ClockOf(r, "production").breach_time()), due);
  EXPECT_EQ(ClockOf(r, "production").state(), v1::RUNNING);  // breached, still to be met
  EXPECT_EQ(FromProto(r.next_due_time()), due);

  // Accepting stops the review; the final delivery stops production, late.
  clock_.Advance(absl::Hours(5));
  Step(kGreta, v1::ACKNOWLEDGE, name);
  r = Step(kGreta, v1::ACCEPT, name);
  EXPECT_EQ(ClockOf(r, "enforcing-review").state(), v1::STOPPED);
  r = Step(kGreta, v1::DELIVER, name);
  EXPECT_EQ(r.state(), v1::EXECUTED);
  EXPECT_EQ(ClockOf(r, "production").state(), v1::STOPPED);
  EXPECT_EQ(FromProto(ClockOf(r, "production").stop_time()), due + absl::Hours(5));
  EXPECT_FALSE(r.has_next_due_time());
  EXPECT_EQ(FireAt(due + absl::Hours(24 * 30)), 0);
}

// Art. 4(5): validation after the fact is for subscriber-data and preservation orders only.
TEST_F(ClockTest, EEvidenceEmergencyValidationOnlyForSubscriberDataAndPreservation) {
  EXPECT_THAT(Names(Get(Submitted("eu-eevidence", v1::TRAFFIC_DATA_DISCLOSURE, v1::EMERGENCY))),
              ElementsAre("production", "enforcing-review"));
  EXPECT_THAT(Names(Get(Submitted("eu-eevidence", v1::STORED_DATA_PRODUCTION, v1::EMERGENCY))),
              ElementsAre("production", "enforcing-review"));
  EXPECT_THAT(Names(Get(Submitted("eu-eevidence", v1::SUBSCRIBER_INFORMATION, v1::EMERGENCY))),
              ElementsAre("production", "emergency-validation"));
}

TEST_F(ClockTest, EEvidenceEmergencyEightHoursPausedWhileInformationIsAwaited) {
  const std::string name = Submitted("eu-eevidence", v1::SUBSCRIBER_INFORMATION, v1::EMERGENCY);
  v1::Request r = Get(name);
  EXPECT_THAT(Names(r), ElementsAre("production", "emergency-validation"));
  EXPECT_EQ(FromProto(ClockOf(r, "production").due_time()), kFriday + absl::Hours(8));
  const v1::Clock validation = ClockOf(r, "emergency-validation");
  EXPECT_EQ(FromProto(validation.due_time()), kFriday + absl::Hours(48));
  EXPECT_EQ(validation.side(), v1::REQUESTING);
  // 2 hours before the 8-hour deadline; the 48-hour lead does not fit in 8 hours.
  EXPECT_EQ(FromProto(ClockOf(r, "production").next_warning_time()), kFriday + absl::Hours(6));

  clock_.Advance(absl::Hours(1));
  Step(kGreta, v1::ACKNOWLEDGE, name);
  r = Step(kGreta, v1::REQUEST_INFORMATION, name);
  EXPECT_EQ(ClockOf(r, "production").state(), v1::PAUSED);
  EXPECT_EQ(FireAt(kFriday + absl::Hours(9)), 0);  // paused: no warning, no breach

  clock_.Set(kFriday + absl::Hours(11));
  r = Step(kAlice, v1::SUPPLEMENT, name);
  const v1::Clock resumed = ClockOf(r, "production");
  EXPECT_EQ(resumed.state(), v1::RUNNING);
  EXPECT_EQ(FromProto(resumed.due_time()), kFriday + absl::Hours(18));  // 10 hours later
  EXPECT_EQ(resumed.paused().seconds(), 10 * 3600);
  EXPECT_EQ(ClockOf(r, "emergency-validation").state(), v1::STOPPED);
  EXPECT_EQ(FireAt(kFriday + absl::Hours(16)), 1);
  EXPECT_EQ(FireAt(kFriday + absl::Hours(18)), 1);
  EXPECT_THAT(SystemEntries(name),
              ElementsAre("CLOCK_WARNING production", "CLOCK_BREACH production"));
}

TEST_F(ClockTest, RoutineRequestsHaveNoEmergencyClocks) {
  EXPECT_THAT(Names(Get(Submitted("eu-eevidence", v1::SUBSCRIBER_INFORMATION))),
              ElementsAre("production"));
  EXPECT_TRUE(Get(Submitted("uncc", v1::STORED_DATA_PRODUCTION)).clocks().empty());
  const v1::Request emergency = Get(Submitted("uncc", v1::STORED_DATA_PRODUCTION, v1::EMERGENCY));
  EXPECT_THAT(Names(emergency), ElementsAre("emergency-response"));
  EXPECT_EQ(FromProto(ClockOf(emergency, "emergency-response").due_time()),
            kFriday + absl::Hours(24));
}

TEST_F(ClockTest, EioAcknowledgementRecognitionWithOneExtensionAndExecution) {
  const std::string name = Submitted("eu-eio", v1::STORED_DATA_PRODUCTION);
  v1::Request r = Get(name);
  EXPECT_THAT(Names(r), ElementsAre("acknowledgement", "recognition"));
  EXPECT_EQ(FromProto(ClockOf(r, "acknowledgement").due_time()), kFriday + absl::Hours(168));
  // Looked at only once the due time has passed: the warning is moot, the breach is not.
  EXPECT_EQ(FireAt(kFriday + absl::Hours(168)), 1);
  EXPECT_THAT(SystemEntries(name), ElementsAre("CLOCK_BREACH acknowledgement"));
  r = Step(kGreta, v1::ACKNOWLEDGE, name);
  EXPECT_EQ(ClockOf(r, "acknowledgement").state(), v1::STOPPED);
  EXPECT_TRUE(ClockOf(r, "acknowledgement").has_breach_time());

  // A delay notice extends recognition by 30 days, once (art. 12(5)).
  const absl::Time decision = kFriday + absl::Hours(720);
  EXPECT_EQ(FromProto(ClockOf(r, "recognition").due_time()), decision);
  v1::AddNoteRequest delay;
  delay.set_kind(v1::DELAY_NOTICE);
  delay.set_text("The judge is on leave; decision expected in three weeks.");
  *delay.mutable_new_estimate_time() = ToProto(decision + absl::Hours(500));
  auto extended = Do(kGreta, v1::ADD_NOTE, delay, name);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(FromProto(ClockOf(*extended, "recognition").due_time()), decision + absl::Hours(720));
  EXPECT_EQ(ClockOf(*extended, "recognition").extensions(), 1);
  auto again = Do(kGreta, v1::ADD_NOTE, delay, name);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(FromProto(ClockOf(*again, "recognition").due_time()), decision + absl::Hours(720));

  // Execution: 90 days from the decision, paused while postponed.
  clock_.Set(kFriday + absl::Hours(24 * 10));
  r = Step(kGreta, v1::ACCEPT, name);
  EXPECT_EQ(ClockOf(r, "recognition").state(), v1::STOPPED);
  const absl::Time execution = kFriday + absl::Hours(24 * 100);
  EXPECT_EQ(FromProto(ClockOf(r, "execution").due_time()), execution);
  Step(kGreta, v1::CONSULT, name);
  const v1::Request postponed = Step(kGreta, v1::POSTPONE, name);
  EXPECT_EQ(ClockOf(postponed, "execution").state(), v1::PAUSED);
  EXPECT_FALSE(postponed.has_next_due_time());
  clock_.Set(kFriday + absl::Hours(24 * 30));
  r = Step(kGreta, v1::RESUME, name);
  EXPECT_EQ(FromProto(ClockOf(r, "execution").due_time()), execution + absl::Hours(24 * 20));
}

TEST_F(ClockTest, PreservationExpiresOnTimeUnderEveryProfile) {
  for (const std::string instrument : {"uncc", "budapest", "eu-eevidence"}) {
    SCOPED_TRACE(instrument);
    const absl::Time start = clock_.Now();
    const absl::Time expiry = start + absl::Hours(24 * 60);
    const std::string name = Confirmed(instrument, expiry);
    v1::Request r = Get(name);
    EXPECT_THAT(Names(r), ElementsAre("preservation"));
    const v1::Clock p = ClockOf(r, "preservation");
    EXPECT_EQ(FromProto(p.due_time()), expiry);
    EXPECT_EQ(FromProto(p.next_warning_time()), expiry - absl::Hours(24 * 7));
    EXPECT_EQ(FireAt(expiry - absl::Hours(24 * 7)), 1);
    EXPECT_EQ(FireAt(expiry - absl::Hours(24)), 1);
    EXPECT_EQ(FireAt(expiry - absl::Seconds(1)), 0);
    EXPECT_EQ(FireAt(expiry), 1);
    r = Get(name);
    EXPECT_EQ(r.state(), v1::EXPIRED);
    EXPECT_EQ(ClockOf(r, "preservation").state(), v1::STOPPED);
    EXPECT_THAT(SystemEntries(name),
                ElementsAre("CLOCK_WARNING preservation", "CLOCK_WARNING preservation",
                            "EXPIRE_PRESERVATION preservation"));
  }
}

TEST_F(ClockTest, EEvidencePreservationExtendedOnceRearmsItsWarnings) {
  const absl::Time expiry = kFriday + absl::Hours(24 * 60);
  const std::string name = Confirmed("eu-eevidence", expiry);
  EXPECT_EQ(FireAt(expiry - absl::Hours(24 * 7)), 1);
  v1::ExtendPreservationRequest extend;
  *extend.mutable_expire_time() = ToProto(expiry + absl::Hours(24 * 30));
  extend.set_reasons("the production order is being prepared");
  auto r = Do(kAlice, v1::EXTEND_PRESERVATION, extend, name);
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::Clock p = ClockOf(*r, "preservation");
  EXPECT_EQ(FromProto(p.due_time()), expiry + absl::Hours(24 * 30));
  EXPECT_EQ(p.extensions(), 1);
  EXPECT_EQ(FromProto(p.next_warning_time()), expiry + absl::Hours(24 * 23));
  EXPECT_EQ(FireAt(expiry), 0);  // the old expiry no longer counts
  EXPECT_EQ(Get(name).state(), v1::PRESERVED);
  EXPECT_EQ(FireAt(expiry + absl::Hours(24 * 23)), 1);
  EXPECT_EQ(FireAt(expiry + absl::Hours(24 * 29)), 1);
  EXPECT_EQ(FireAt(expiry + absl::Hours(24 * 30)), 1);
  EXPECT_EQ(Get(name).state(), v1::EXPIRED);
}

TEST_F(ClockTest, FollowUpHoldsPreservationUntilDecided) {
  const absl::Time expiry = kFriday + absl::Hours(24 * 60);
  const std::string pres = Confirmed("uncc", expiry);
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::STORED_DATA_PRODUCTION);
  create.mutable_request()->set_follows(pres);
  auto f = engine_->ApplyAndWait(MakeCommand(v1::CREATE, Who(kAlice), create));
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(Do(kAlice, v1::SUBMIT, v1::SubmitRequestRequest(), f->name()).ok());

  EXPECT_EQ(FireAt(expiry), 1);  // the hold (warnings are moot once the expiry has passed)
  v1::Request r = Get(pres);
  EXPECT_EQ(r.state(), v1::PRESERVED);
  EXPECT_EQ(ClockOf(r, "preservation").state(), v1::HELD);
  EXPECT_FALSE(r.has_next_due_time());
  EXPECT_EQ(FireAt(expiry + absl::Hours(24 * 10)), 0);  // held, nothing to do
  EXPECT_EQ(SystemEntries(pres).back(), "CLOCK_HELD preservation");

  Step(kGreta, v1::ACKNOWLEDGE, f->name());
  Step(kGreta, v1::ACCEPT, f->name());
  Step(kGreta, v1::DELIVER, f->name());  // decided and executed: the hold ends
  EXPECT_EQ(Fire(), 1);
  r = Get(pres);
  EXPECT_EQ(r.state(), v1::EXPIRED);
  EXPECT_EQ(SystemEntries(pres).back(), "EXPIRE_PRESERVATION preservation");
}

TEST_F(ClockTest, ClocksStopOnTheirEventsAndPauseWhilePostponed) {
  // EIO recognition pauses while postponed; resuming recognises the order (IN_EXECUTION): the
  // recognition clock stops there and the execution clock starts.
  const std::string eio = Submitted("eu-eio", v1::STORED_DATA_PRODUCTION);
  Step(kGreta, v1::ACKNOWLEDGE, eio);
  Step(kGreta, v1::CONSULT, eio);
  EXPECT_EQ(ClockOf(Step(kGreta, v1::POSTPONE, eio), "recognition").state(), v1::PAUSED);
  EXPECT_EQ(FireAt(kFriday + absl::Hours(24 * 40)), 0);  // paused past its 30 days: no breach
  v1::Request r = Step(kGreta, v1::RESUME, eio);
  EXPECT_EQ(ClockOf(r, "recognition").state(), v1::STOPPED);
  EXPECT_FALSE(ClockOf(r, "recognition").has_breach_time());
  EXPECT_EQ(ClockOf(r, "execution").state(), v1::RUNNING);
  EXPECT_EQ(FromProto(ClockOf(r, "execution").due_time()),
            kFriday + absl::Hours(24 * 40) + absl::Hours(2160));

  // UNCC emergency response: stopped once the request is being executed.
  const std::string emergency = Submitted("uncc", v1::STORED_DATA_PRODUCTION, v1::EMERGENCY);
  Step(kGreta, v1::ACKNOWLEDGE, emergency);
  r = Step(kGreta, v1::ACCEPT, emergency);
  EXPECT_EQ(ClockOf(r, "emergency-response").state(), v1::STOPPED);
  EXPECT_FALSE(r.has_next_due_time());

  // A released preservation: its clock stops and no timer is left.
  const absl::Time expiry = clock_.Now() + absl::Hours(24 * 60);
  const std::string pres = Confirmed("budapest", expiry);
  v1::ReleasePreservationRequest release;
  release.set_reason("no longer needed");
  auto released = Do(kAlice, v1::RELEASE_PRESERVATION, release, pres);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(ClockOf(*released, "preservation").state(), v1::STOPPED);
  FireAt(expiry + absl::Hours(24));
  EXPECT_TRUE(SystemEntries(pres).empty());
}

TEST_F(ClockTest, WorkingDayClocksSkipWeekendsAndHolidays) {
  Reprofile("eu-eio", [](InstrumentProfile& p) {
    p.add_holidays("2026-11-23");
    for (ClockRule& c : *p.mutable_clocks()) {
      if (c.name() != "acknowledgement") continue;
      c.set_working_days(true);
      c.set_routine_hours(5 * 24);  // five working days
    }
  });
  const std::string name = Submitted("eu-eio", v1::SUBSCRIBER_INFORMATION);
  const v1::Clock ack = ClockOf(Get(name), "acknowledgement");
  EXPECT_TRUE(ack.working_days());
  // Friday + 5 working days, Monday a holiday: Tue, Wed, Thu, Fri, Mon.
  EXPECT_EQ(FromProto(ack.due_time()), kFriday + absl::Hours(24 * 10));
  EXPECT_EQ(FireAt(kFriday + absl::Hours(24 * 10) - absl::Seconds(1)), 1);  // the warning
  EXPECT_EQ(FireAt(kFriday + absl::Hours(24 * 10)), 1);
  EXPECT_EQ(SystemEntries(name).back(), "CLOCK_BREACH acknowledgement");
}

TEST_F(ClockTest, AClockMayHaveAnotherLengthForAnotherType) {
  Reprofile("eu-eevidence", [](InstrumentProfile& p) {
    for (ClockRule& c : *p.mutable_clocks()) {
      if (c.name() != "production") continue;
      c.clear_types();
      c.add_types(v1::STORED_DATA_PRODUCTION);
      ClockRule subscriber = c;
      subscriber.clear_types();
      subscriber.add_types(v1::SUBSCRIBER_INFORMATION);
      subscriber.set_routine_hours(120);
      subscriber.set_article("subscriber data: 5 days");
      *p.add_clocks() = subscriber;
      break;
    }
  });
  const std::string stored = Submitted("eu-eevidence", v1::STORED_DATA_PRODUCTION);
  const std::string subscriber = Submitted("eu-eevidence", v1::SUBSCRIBER_INFORMATION);
  EXPECT_EQ(FromProto(ClockOf(Get(stored), "production").due_time()), kFriday + absl::Hours(240));
  const v1::Clock c = ClockOf(Get(subscriber), "production");
  EXPECT_EQ(FromProto(c.due_time()), kFriday + absl::Hours(120));
  EXPECT_EQ(c.article(), "subscriber data: 5 days");
  EXPECT_EQ(FireAt(kFriday + absl::Hours(120)), 1);  // its own rule's breach (warnings moot)
  EXPECT_THAT(SystemEntries(subscriber), ElementsAre("CLOCK_BREACH production"));
}

TEST_F(ClockTest, TimersDueWhileTheNodeWasDownFireAtStartUp) {
  const absl::Time expiry = kFriday + absl::Hours(24 * 60);
  const std::string name = Confirmed("budapest", expiry);
  Close();
  clock_.Set(expiry + absl::Hours(24 * 3));  // the node was down across the expiry
  Open();
  EXPECT_EQ(Fire(), 1);  // the warnings are moot; the expiry is recorded
  const v1::Request r = Get(name);
  EXPECT_EQ(r.state(), v1::EXPIRED);
  EXPECT_THAT(SystemEntries(name), ElementsAre("EXPIRE_PRESERVATION preservation"));
  auto trail = reader_->Trail(Who(kAlice), name);
  ASSERT_TRUE(trail.ok());
  EXPECT_EQ(FromProto(trail->entries().rbegin()->entry().time()), expiry + absl::Hours(24 * 3));
  // No timer is left behind.
  int timers = 0;
  ASSERT_TRUE(store_
                  ->Scan(storage::Column::kIndex, storage::TimerPrefix(), "",
                         [&](absl::string_view, absl::string_view) {
                           ++timers;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(timers, 0);
}

TEST_F(ClockTest, ListsByNextDueTime) {
  const std::string late = Submitted("eu-eio", v1::SUBSCRIBER_INFORMATION);  // +7 days
  clock_.Advance(absl::Hours(1));
  const std::string soon =
      Submitted("eu-eevidence", v1::SUBSCRIBER_INFORMATION, v1::EMERGENCY);  // +8 hours
  Submitted("uncc", v1::SUBSCRIBER_INFORMATION);                             // no clock
  for (const char* who : {kAlice, kGreta}) {
    v1::ListRequestsRequest q;
    q.set_order_by("next_due_time");
    auto all = reader_->List(Who(who), q);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->requests_size(), 2) << who;
    EXPECT_EQ(all->requests(0).name(), soon);
    EXPECT_EQ(all->requests(1).name(), late);
    q.set_page_size(1);
    auto page = reader_->List(Who(who), q);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->requests_size(), 1);
    q.set_page_token(page->next_page_token());
    auto second = reader_->List(Who(who), q);
    ASSERT_TRUE(second.ok()) << second.status();
    ASSERT_EQ(second->requests_size(), 1);
    EXPECT_EQ(second->requests(0).name(), late);
    v1::ListRequestsRequest within;
    *within.mutable_due_before() = ToProto(clock_.Now() + absl::Hours(48));
    auto due = reader_->List(Who(who), within);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->requests_size(), 1);
    EXPECT_EQ(due->requests(0).name(), soon);
  }
  v1::ListRequestsRequest q;
  q.set_order_by("next_due_time");
  auto other = reader_->List(Who(comity::testing::kBinh), q);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->requests_size(), 0);
  q.set_order_by("deadline");
  EXPECT_EQ(reader_->List(Who(kAlice), q).status().code(), absl::StatusCode::kInvalidArgument);
}

// An NTP step of a day either way while timers are pending: the running scheduler keeps its
// pace (it waits on the monotonic clock) and fires each timer once its time has come by the
// wall clock, and none before.
TEST_F(ClockTest, TimersFireAcrossWallClockStepsEitherWay) {
  const std::string name = Submitted("eu-eevidence", v1::STORED_DATA_PRODUCTION, v1::EMERGENCY);
  const absl::Time due = FromProto(ClockOf(Get(name), "production").due_time());
  ASSERT_EQ(due, kFriday + absl::Hours(8));
  scheduler_->Start(absl::Milliseconds(5));
  // Rounds of our own beside the loop's: what they find due is what the loop would fire.
  auto wait_rounds = [&](int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(scheduler_->RunDue().ok());
  };
  auto wait_for = [&](size_t entries) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (SystemEntries(name).size() < entries && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return SystemEntries(name).size();
  };
  clock_.Set(kFriday - absl::Hours(24));  // a step back: nothing is due
  wait_rounds(3);
  EXPECT_TRUE(SystemEntries(name).empty());
  clock_.Set(kFriday + absl::Hours(7));  // forward, past the warning (6 h), before the due time
  EXPECT_EQ(wait_for(1), 1u);
  clock_.Set(kFriday - absl::Hours(24));  // back a day
  wait_rounds(3);
  EXPECT_EQ(SystemEntries(name).size(), 1u);
  clock_.Set(kFriday + absl::Hours(24));  // forward a day, past the due time
  EXPECT_EQ(wait_for(2), 2u);
  EXPECT_THAT(SystemEntries(name),
              ElementsAre("CLOCK_WARNING production", "CLOCK_BREACH production"));
  clock_.Set(kFriday);  // back again: what was recorded stays, nothing fires twice
  wait_rounds(3);
  EXPECT_EQ(SystemEntries(name).size(), 2u);
  scheduler_->Stop();
}

}  // namespace
}  // namespace comity::workflow
