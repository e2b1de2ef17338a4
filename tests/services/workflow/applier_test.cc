// The applier and the authorization before it, without a store: a Change is a value, built from
// a record, a command, the profiles and a time, and read back field by field.

#include "services/workflow/applier.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"
#include "tests/testing/fixtures.h"

namespace comity::workflow {
namespace {

using ::comity::testing::As;
using ::testing::ElementsAre;
using ::testing::Pair;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0), absl::UTCTimeZone());

// Requests held in memory: what the applier may read besides the record it changes.
class MapView : public View {
 public:
  absl::StatusOr<v1::Request> LoadRequest(absl::string_view id) const override {
    auto it = records.find(std::string(id));
    if (it == records.end()) return absl::NotFoundError("no such request");
    return it->second;
  }
  absl::StatusOr<std::vector<std::string>> FollowUps(absl::string_view) const override {
    return std::vector<std::string>();
  }
  std::map<std::string, v1::Request> records;
};

class ApplierTest : public ::testing::Test {
 protected:
  Caller Who(const std::string& principal) { return As(*directory_, principal); }

  template <typename Msg>
  Command On(const std::string& principal, v1::Action action, const v1::Request& record) {
    Msg body;
    body.set_name(record.name());
    return MakeCommand(action, Who(principal), body);
  }

  absl::StatusOr<Change> Apply(const Command& cmd, std::optional<v1::Request> record,
                               absl::Time now = kNow) {
    absl::StatusOr<Decision> decision = Authorize(cmd, record ? &*record : nullptr);
    if (!decision.ok()) return decision.status();
    return ApplyChange({cmd, *decision, now, *profiles_, view_, directory_.get()}, "r1",
                       std::move(record));
  }

  // What the engine does once a change is applied: its entry sealed as the record's head.
  static v1::Request Sealed(const Change& change, const std::string& head) {
    v1::Request r = change.record;
    r.set_audit_size(change.entry.sequence());
    r.set_audit_head(head);
    return r;
  }

  // A draft of `type` and `priority` from FR-CA to DE-BFJ, sealed with head "h1".
  v1::Request Draft(v1::RequestType type, v1::Priority priority = v1::ROUTINE) {
    v1::CreateRequestRequest create;
    *create.mutable_request() = comity::testing::FullRequest("uncc", type, priority);
    absl::StatusOr<Change> c =
        Apply(MakeCommand(v1::CREATE, Who(comity::testing::kAlice), create), std::nullopt);
    EXPECT_TRUE(c.ok()) << c.status();
    return Sealed(*c, "h1");
  }

  v1::Request Submitted(v1::RequestType type, v1::Priority priority = v1::ROUTINE) {
    absl::StatusOr<Change> c = Apply(
        On<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, Draft(type, priority)),
        Draft(type, priority));
    EXPECT_TRUE(c.ok()) << c.status();
    return Sealed(*c, "h2");
  }

  // The derived keys of `before`, less the change's deletes, plus its puts.
  static std::set<std::string> Rederived(const v1::Request* before, const Change& change) {
    std::set<std::string> keys = before ? DerivedKeys("r1", *before) : std::set<std::string>();
    for (const auto& k : change.derived_deletes) EXPECT_EQ(keys.erase(k), 1u) << k;
    for (const auto& k : change.derived_puts) EXPECT_TRUE(keys.insert(k).second) << k;
    return keys;
  }

  std::unique_ptr<ProfileSet> profiles_ = comity::testing::ShippedProfiles();
  std::unique_ptr<Directory> directory_ = comity::testing::DemoDirectory();
  MapView view_;
};

TEST_F(ApplierTest, CreateMakesADraftItsFirstEntryAndItsKeys) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
  create.set_request_id("once");
  const Command cmd = MakeCommand(v1::CREATE, Who(comity::testing::kAlice), create);
  absl::StatusOr<Decision> decision = Authorize(cmd, nullptr);
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->side, v1::REQUESTING);
  EXPECT_EQ(decision->role, v1::SUBMITTER);

  absl::StatusOr<Change> c =
      ApplyChange({cmd, *decision, kNow, *profiles_, view_, directory_.get()}, "r1", std::nullopt);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id, "r1");
  EXPECT_EQ(c->record.name(), "requests/r1");
  EXPECT_EQ(c->record.state(), v1::DRAFT);
  EXPECT_EQ(c->record.requesting_authority(), "authorities/FR-CA");
  EXPECT_EQ(c->record.version(), 1);
  EXPECT_EQ(c->record.etag(), "1");
  EXPECT_EQ(FromProto(c->record.update_time()), kNow);
  EXPECT_EQ(c->record.audit_size(), 0u);  // until sealed

  const v1::AuditEntry& e = c->entry;
  EXPECT_EQ(e.request(), "requests/r1");
  EXPECT_EQ(e.sequence(), 1u);
  EXPECT_EQ(e.previous_hash(), std::string(32, '\0'));
  EXPECT_EQ(e.action(), v1::CREATE);
  EXPECT_EQ(e.actor().principal(), comity::testing::kAlice);
  EXPECT_EQ(e.actor().role(), v1::SUBMITTER);
  EXPECT_EQ(e.actor().side(), v1::REQUESTING);
  EXPECT_EQ(e.request_id(), "once");
  EXPECT_EQ(e.state_before(), v1::STATE_UNSPECIFIED);
  EXPECT_EQ(e.state_after(), v1::DRAFT);
  EXPECT_EQ(FromProto(e.time()), kNow);
  EXPECT_TRUE(e.record_digest().empty());  // sealing sets it
  EXPECT_EQ(e.leaf_index(), 0u);

  EXPECT_THAT(c->index_puts, ElementsAre(Pair(storage::PartyKey("authorities/FR-CA", "r1"), "q")));
  EXPECT_TRUE(c->derived_deletes.empty());
  EXPECT_EQ(Rederived(nullptr, *c), DerivedKeys("r1", c->record));
  EXPECT_EQ(c->figures, FigureDelta({}, CountedFigures(c->record)));
}

TEST_F(ApplierTest, SubmitChainsToTheSealedDraftAndMovesItsKeysAndCounters) {
  const v1::Request draft = Draft(v1::STORED_DATA_PRODUCTION);
  absl::StatusOr<Change> c =
      Apply(On<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, draft), draft);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->record.state(), v1::SUBMITTED);
  EXPECT_EQ(c->record.version(), 2);
  EXPECT_EQ(c->record.etag(), "2");
  EXPECT_EQ(c->entry.sequence(), 2u);
  EXPECT_EQ(c->entry.previous_hash(), "h1");
  EXPECT_EQ(c->entry.state_before(), v1::DRAFT);
  EXPECT_EQ(c->entry.state_after(), v1::SUBMITTED);
  EXPECT_EQ(Rederived(&draft, *c), DerivedKeys("r1", c->record));
  EXPECT_FALSE(c->derived_puts.empty());  // now listed for the requested side too
  EXPECT_EQ(c->figures, FigureDelta(CountedFigures(draft), CountedFigures(c->record)));
  EXPECT_FALSE(c->figures.empty());  // a submitted request is counted
}

TEST_F(ApplierTest, AuthorizationDecidesOnceWhoTheCallerIs) {
  const v1::Request submitted = Submitted(v1::STORED_DATA_PRODUCTION);
  auto decide = [&](const std::string& who, v1::Action action) {
    return Authorize(On<v1::AcknowledgeRequestRequest>(who, action, submitted), &submitted);
  };
  absl::StatusOr<Decision> greta = decide(comity::testing::kGreta, v1::ACKNOWLEDGE);
  ASSERT_TRUE(greta.ok()) << greta.status();
  EXPECT_EQ(greta->side, v1::RECEIVING);
  EXPECT_EQ(greta->role, v1::RESPONDER);
  EXPECT_EQ(decide(comity::testing::kAlice, v1::ACKNOWLEDGE).status().code(),
            absl::StatusCode::kPermissionDenied);  // the requesting side never acknowledges
  EXPECT_EQ(decide(comity::testing::kBinh, v1::ACKNOWLEDGE).status().code(),
            absl::StatusCode::kNotFound);  // a third authority sees nothing
  EXPECT_EQ(decide(comity::testing::kAlice, v1::CLOCK_BREACH).status().code(),
            absl::StatusCode::kPermissionDenied);  // only the node fires timers

  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::STORED_DATA_PRODUCTION);
  EXPECT_EQ(Authorize(MakeCommand(v1::CREATE, Who(comity::testing::kGreta), create), nullptr)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);  // a responder drafts nothing
}

TEST_F(ApplierTest, AnActionTheStateDoesNotAllowIsRefused) {
  const v1::Request submitted = Submitted(v1::STORED_DATA_PRODUCTION);
  absl::StatusOr<Change> again = Apply(
      On<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, submitted), submitted);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ApplierTest, TimersWarnThenBreachAndAStaleOneChangesNothing) {
  const v1::Request submitted = Submitted(v1::STORED_DATA_PRODUCTION, v1::EMERGENCY);
  auto timer = [&](bool warning) {
    v1::ClockTimerRequest t;
    t.set_name(submitted.name());
    t.set_clock("emergency-response");
    t.set_warning(warning);
    return MakeTimerCommand(t);
  };
  absl::StatusOr<Change> early = Apply(timer(false), submitted, kNow + absl::Hours(1));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<Change> warned = Apply(timer(true), submitted, kNow + absl::Hours(22));
  ASSERT_TRUE(warned.ok()) << warned.status();
  EXPECT_EQ(warned->entry.action(), v1::CLOCK_WARNING);
  EXPECT_EQ(warned->entry.actor().side(), v1::SYSTEM);
  EXPECT_EQ(warned->entry.clock(), "emergency-response");
  EXPECT_EQ(warned->entry.reasons(), "emergency-response is due in 2h 0m, at 2026-03-03T09:00:00Z");
  EXPECT_EQ(warned->record.state(), v1::SUBMITTED);

  absl::StatusOr<Change> breached = Apply(timer(false), submitted, kNow + absl::Hours(24));
  ASSERT_TRUE(breached.ok()) << breached.status();
  EXPECT_EQ(breached->entry.action(), v1::CLOCK_BREACH);
  EXPECT_EQ(breached->entry.state_before(), v1::SUBMITTED);
  EXPECT_EQ(breached->entry.state_after(), v1::SUBMITTED);
  ASSERT_EQ(breached->record.clocks_size(), 1);
  EXPECT_EQ(FromProto(breached->record.clocks(0).breach_time()), kNow + absl::Hours(24));
  EXPECT_EQ(breached->record.version(), submitted.version() + 1);
}

TEST_F(ApplierTest, AReadIsAnEntryAndNothingElse) {
  const v1::Request submitted = Submitted(v1::STORED_DATA_PRODUCTION);
  v1::RecordAccessRequest read;
  read.set_name(submitted.name());
  read.set_what("the request");
  const Command cmd = MakeCommand(v1::ACCESS, Who(comity::testing::kGreta), read);
  absl::StatusOr<Change> c = Apply(cmd, submitted);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->record.SerializeAsString(), submitted.SerializeAsString());
  EXPECT_EQ(c->entry.action(), v1::ACCESS);
  EXPECT_EQ(c->entry.reasons(), "the request");
  EXPECT_EQ(c->entry.sequence(), 3u);
  EXPECT_EQ(c->entry.actor().role(), v1::RESPONDER);
  EXPECT_TRUE(c->derived_puts.empty());
  EXPECT_TRUE(c->derived_deletes.empty());
  EXPECT_TRUE(c->figures.empty());
}

}  // namespace
}  // namespace comity::workflow
