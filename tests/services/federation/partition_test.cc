// A partition between two real nodes, lasting days of fake time, with actions on both sides: the
// network between them is cut (a TCP forwarder between the nodes' federation listeners), each side
// goes on acting, the system of record's clocks run, and when the network heals the requesting
// side's queued actions are applied in the system of record's order, the loser refused and
// recorded, and both nodes serve the same trail.

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/workflow/timeutil.h"
#include "tests/testing/federation.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/node_calls.h"
#include "tests/testing/tcp_proxy.h"

namespace comity {
namespace {

using comity::testing::Call;
using comity::testing::Get;
using comity::testing::LocalTrail;
using comity::testing::Node;
using comity::testing::TcpProxy;
using comity::testing::TrailAt;
using comity::testing::WaitFor;

constexpr absl::Duration kDay = absl::Hours(24);

class PartitionTest : public ::testing::Test, public comity::testing::FederationNodes {
 protected:
  // `id`'s node on `clock`, reaching each peer through `through` (the peer's forwarder port).
  std::unique_ptr<server::Server> Start(const std::string& id, const std::string& peer,
                                        int through) {
    config::v1::ServerConfig c = Config(id, {peer});
    c.mutable_federation()->mutable_peers(0)->set_address(absl::StrCat("127.0.0.1:", through));
    server::Server::Options options;
    options.security_log = &log_;
    auto s = server::Server::Start(c, &clock_, options);
    if (!s.ok()) ADD_FAILURE() << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  static bool Holds(const server::Server& s, const std::string& admin,
                    const std::string& authority) {
    auto stub = v1::DirectoryService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", s.port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", admin);
    v1::ListAuthoritiesResponse out;
    if (!stub->ListAuthorities(&ctx, {}, &out).ok()) return false;
    for (const v1::Authority& a : out.authorities()) {
      if (a.name() == authority) return true;
    }
    return false;
  }

  const absl::Time t0_ =
      absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0), absl::UTCTimeZone());
  FakeClock clock_{t0_};
  std::ostringstream log_;
};

TEST_F(PartitionTest, ActionsOnBothSidesOfAPartitionOfDaysAreReconciledWhenItHeals) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  TcpProxy to_de(de.federation_port), to_fr(fr.federation_port);
  std::unique_ptr<server::Server> fr_node = Start("fr", "de", to_de.port());
  std::unique_ptr<server::Server> de_node = Start("de", "fr", to_fr.port());
  ASSERT_NE(fr_node, nullptr);
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Holds(*fr_node, fr.Principal("admin"), de.authority); }));
  ASSERT_TRUE(WaitFor([&] { return Holds(*de_node, de.Principal("admin"), fr.authority); }));

  // Day 0: FR asks DE to preserve; DE preserves for 60 days.
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  absl::StatusOr<v1::Request> draft =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
  ASSERT_TRUE(draft.ok()) << draft.status();
  const std::string name = draft->name();
  v1::SubmitRequestRequest submit;
  submit.set_name(name);
  ASSERT_TRUE(
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit).ok());
  ASSERT_TRUE(WaitFor([&] { return Get(*de_node, de.Principal("clerk"), name).ok(); }));
  v1::AcknowledgeRequestRequest ack;
  ack.set_name(name);
  ASSERT_TRUE(
      Call(*de_node, de.Principal("clerk"), &v1::RequestService::Stub::AcknowledgeRequest, ack)
          .ok());
  v1::ConfirmPreservedRequest confirm;
  confirm.set_name(name);
  *confirm.mutable_expire_time() = workflow::ToProto(t0_ + 60 * kDay);
  ASSERT_TRUE(
      Call(*de_node, de.Principal("clerk"), &v1::RequestService::Stub::ConfirmPreserved, confirm)
          .ok());
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), name);
    return r.ok() && r->state() == v1::PRESERVED;
  }));

  // The network between the two nodes is cut, for 59 days.
  to_de.Cut();
  to_fr.Cut();
  // Day 10: each side writes a note.
  clock_.Advance(10 * kDay);
  v1::AddNoteRequest de_note;
  de_note.set_name(name);
  de_note.set_kind(v1::COMMENT);
  de_note.set_text("the provider was told to keep the data");
  ASSERT_TRUE(
      Call(*de_node, de.Principal("clerk"), &v1::RequestService::Stub::AddNote, de_note).ok());
  v1::AddNoteRequest fr_note;
  fr_note.set_name(name);
  fr_note.set_kind(v1::COMMENT);
  fr_note.set_text("a production request follows");
  absl::StatusOr<v1::Request> noted =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::AddNote, fr_note);
  ASSERT_TRUE(noted.ok()) << noted.status();
  const std::string note_key = noted->relayed(noted->relayed_size() - 1).key();
  EXPECT_EQ(noted->relayed(noted->relayed_size() - 1).state(), v1::RELAY_QUEUED);
  // Day 54: DE's clock warns that the preservation ends in a week.
  clock_.Advance(44 * kDay);
  absl::StatusOr<int> fired = de_node->RunDueTimers();
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(*fired, 1);
  // Day 59: FR asks for the preservation to be extended, a day before it ends.
  clock_.Advance(5 * kDay);
  v1::ExtendPreservationRequest extend;
  extend.set_name(name);
  *extend.mutable_expire_time() = workflow::ToProto(t0_ + 150 * kDay);
  extend.set_reasons("the production request is on its way");
  absl::StatusOr<v1::Request> extending =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::ExtendPreservation, extend);
  ASSERT_TRUE(extending.ok()) << extending.status();
  const std::string extend_key = extending->relayed(extending->relayed_size() - 1).key();
  EXPECT_EQ(extending->state(), v1::PRESERVED);

  // The network heals before the expiry: FR's actions reach DE in order, at the times they were
  // taken but never before DE's own last change, and the preservation runs on to day 150.
  clock_.Advance(absl::Hours(1));
  to_de.Heal();
  to_fr.Heal();
  auto relay_state = [&](const std::string& key) {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), name);
    if (!r.ok()) return v1::RELAY_STATE_UNSPECIFIED;
    for (const v1::RelayedAction& a : r->relayed()) {
      if (a.key() == key) return a.state();
    }
    return v1::RELAY_STATE_UNSPECIFIED;
  };
  ASSERT_TRUE(WaitFor([&] {
    return relay_state(note_key) == v1::RELAY_DELIVERED &&
           relay_state(extend_key) == v1::RELAY_DELIVERED;
  })) << log_.str();
  clock_.Advance(2 * kDay);  // day 61: the old expiry is no longer due
  ASSERT_TRUE(de_node->RunDueTimers().ok());
  EXPECT_EQ(Get(*de_node, de.Principal("clerk"), name)->state(), v1::PRESERVED);

  // Cut again. Day 100: FR releases the preservation; DE never hears of it while its clock runs
  // to the new expiry, and expires it.
  to_de.Cut();
  to_fr.Cut();
  clock_.Advance(39 * kDay);
  v1::ReleasePreservationRequest release;
  release.set_name(name);
  release.set_reason("the case was closed");
  absl::StatusOr<v1::Request> releasing = Call(
      *fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::ReleasePreservation, release);
  ASSERT_TRUE(releasing.ok()) << releasing.status();
  const std::string release_key = releasing->relayed(releasing->relayed_size() - 1).key();
  int timers = 0;
  for (absl::Duration to :
       {143 * kDay + absl::Hours(12), 149 * kDay + absl::Hours(12), 150 * kDay + absl::Hours(1)}) {
    clock_.Set(t0_ + to);
    absl::StatusOr<int> n = de_node->RunDueTimers();
    ASSERT_TRUE(n.ok()) << n.status();
    timers += *n;
  }
  EXPECT_EQ(timers, 3);  // the warnings 7 days and 1 day before, then the expiry
  EXPECT_EQ(Get(*de_node, de.Principal("clerk"), name)->state(), v1::EXPIRED);

  // Healed: DE's order decides. The release comes after the expiry there, and loses.
  to_de.Heal();
  to_fr.Heal();
  ASSERT_TRUE(WaitFor([&] { return relay_state(release_key) == v1::RELAY_REFUSED; })) << log_.str();
  absl::StatusOr<v1::Request> refused = Get(*fr_node, fr.Principal("clerk"), name);
  ASSERT_TRUE(refused.ok()) << refused.status();
  for (const v1::RelayedAction& a : refused->relayed()) {
    if (a.key() == release_key) {
      EXPECT_EQ(a.code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
    }
  }
  ASSERT_TRUE(
      WaitFor([&] { return Get(*fr_node, fr.Principal("clerk"), name)->state() == v1::EXPIRED; }));

  // DE's trail, as both nodes serve it: what each side did, in DE's order and at DE's times.
  const v1::Trail at_de = TrailAt(*de_node, de.Principal("eve"), name);
  ASSERT_TRUE(
      WaitFor([&] { return TrailAt(*fr_node, fr.Principal("eve"), name).size() >= at_de.size(); }));
  const v1::Trail at_fr = TrailAt(*fr_node, fr.Principal("eve"), name);
  for (int i = 0; i < at_de.entries_size(); ++i) {
    EXPECT_EQ(at_fr.entries(i).data(), at_de.entries(i).data()) << "entry " << i + 1;
  }
  std::vector<std::pair<v1::Action, std::string>> changes;
  std::vector<absl::Time> times;
  std::vector<std::string> keys;
  for (const v1::TrailEntry& e : at_de.entries()) {
    if (e.entry().action() == v1::ACCESS) continue;
    changes.emplace_back(e.entry().action(), e.entry().actor().principal());
    times.push_back(workflow::FromProto(e.entry().time()));
    keys.push_back(e.entry().request_id());
  }
  const std::vector<std::pair<v1::Action, std::string>> expected = {
      {v1::SUBMIT, fr.Principal("clerk")},
      {v1::ACKNOWLEDGE, de.Principal("clerk")},
      {v1::CONFIRM_PRESERVED, de.Principal("clerk")},
      {v1::ADD_NOTE, de.Principal("clerk")},
      {v1::CLOCK_WARNING, "system"},
      {v1::ADD_NOTE, fr.Principal("clerk")},
      {v1::EXTEND_PRESERVATION, fr.Principal("clerk")},
      {v1::CLOCK_WARNING, "system"},
      {v1::CLOCK_WARNING, "system"},
      {v1::EXPIRE_PRESERVATION, "system"},
  };
  EXPECT_EQ(changes, expected);
  ASSERT_EQ(times.size(), expected.size());
  EXPECT_EQ(times[0], t0_);              // the submission, when FR's clerk made it
  EXPECT_EQ(times[3], t0_ + 10 * kDay);  // DE's note
  EXPECT_EQ(times[5], times[4]);         // FR's note of day 10, never before DE's warning
  EXPECT_EQ(times[6], t0_ + 59 * kDay);  // FR's extension, when it was asked for
  EXPECT_EQ(keys[5], note_key);
  EXPECT_EQ(keys[6], extend_key);

  // FR's own trail: the refusal, with DE's reason.
  int refusals = 0;
  for (const v1::AuditEntry& e : LocalTrail(*fr_node, fr.Principal("eve"), name)) {
    if (e.action() != v1::RELAY_STATE) continue;
    ++refusals;
    EXPECT_TRUE(absl::StartsWith(
        e.reasons(),
        absl::StrCat("node de refused the RELEASE_PRESERVATION relayed as ", release_key,
                     ": FAILED_PRECONDITION: RELEASE_PRESERVATION is not allowed")))
        << e.reasons();
    EXPECT_TRUE(absl::StrContains(e.reasons(), "EXPIRED")) << e.reasons();
  }
  EXPECT_EQ(refusals, 1);
}

}  // namespace
}  // namespace comity
