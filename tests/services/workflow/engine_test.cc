#include "services/workflow/engine.h"

#include <map>
#include <set>
#include <thread>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/chain.h"
#include "services/audit/log.h"
#include "services/audit/merkle.h"
#include "services/workflow/errors.h"
#include "services/workflow/reader.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/fixtures.h"

namespace comity::workflow {
namespace {

using comity::testing::As;
using comity::testing::FullRequest;
using comity::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

const absl::Time kStart = absl::FromUnixSeconds(1795000000);  // 2026-11-18

class EngineTest : public comity::testing::EngineFixture {
 protected:
  EngineTest() : EngineFixture(kStart) {}

  template <typename Msg>
  absl::StatusOr<v1::Request> Do(const char* who, v1::Action action, const Msg& msg) {
    return engine_->ApplyAndWait(MakeCommand(action, Who(who), msg));
  }

  template <typename Msg>
  absl::StatusOr<v1::Request> Do(const char* who, v1::Action action, const std::string& name) {
    Msg msg;
    msg.set_name(name);
    return Do(who, action, msg);
  }

  absl::StatusOr<v1::Request> Create(const v1::Request& r, const std::string& request_id = "") {
    v1::CreateRequestRequest msg;
    *msg.mutable_request() = r;
    msg.set_request_id(request_id);
    return Do(comity::testing::kAlice, v1::CREATE, msg);
  }

  // Creates and submits a full request from FR-CA (alice) to DE-BFJ, acknowledged by greta.
  std::string Received(const std::string& instrument, v1::RequestType type) {
    auto r = Create(FullRequest(instrument, type));
    EXPECT_TRUE(r.ok()) << r.status();
    auto s = Do<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, r->name());
    EXPECT_TRUE(s.ok()) << s.status();
    auto a = Do<v1::AcknowledgeRequestRequest>(comity::testing::kGreta, v1::ACKNOWLEDGE, r->name());
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->state(), v1::RECEIVED);
    return r->name();
  }

  v1::Trail TrailOf(const std::string& name) {
    auto t = reader_->Trail(Who(comity::testing::kAlice), name);
    EXPECT_TRUE(t.ok()) << t.status();
    std::vector<std::string> bytes;
    for (const auto& e : t->entries()) bytes.push_back(e.data());
    EXPECT_TRUE(audit::VerifyChain(name, bytes, t->head(), t->size()).ok());
    return *t;
  }

  std::vector<v1::Action> ActionsOf(const std::string& name) {
    std::vector<v1::Action> out;
    const v1::Trail trail = TrailOf(name);
    for (const auto& e : trail.entries()) out.push_back(e.entry().action());
    return out;
  }
};

TEST_F(EngineTest, CreateWritesRecordAndFirstAuditEntryTogether) {
  auto r = Create(FullRequest("uncc", v1::PRESERVATION));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state(), v1::DRAFT);
  EXPECT_EQ(r->requesting_authority(), "authorities/FR-CA");
  EXPECT_EQ(r->version(), 1);
  EXPECT_EQ(r->etag(), "1");
  EXPECT_EQ(r->audit_size(), 1u);

  v1::Trail trail = TrailOf(r->name());
  ASSERT_EQ(trail.entries_size(), 1);
  const v1::AuditEntry& e = trail.entries(0).entry();
  EXPECT_EQ(e.sequence(), 1u);
  EXPECT_EQ(e.action(), v1::CREATE);
  EXPECT_EQ(e.actor().principal(), comity::testing::kAlice);
  EXPECT_EQ(e.actor().authority(), "authorities/FR-CA");
  EXPECT_EQ(e.actor().role(), v1::SUBMITTER);
  EXPECT_EQ(e.state_before(), v1::STATE_UNSPECIFIED);
  EXPECT_EQ(e.state_after(), v1::DRAFT);
  EXPECT_EQ(e.previous_hash(), std::string(32, '\0'));
  EXPECT_EQ(FromProto(e.time()), kStart);
  EXPECT_EQ(r->audit_head(), Sha256(trail.entries(0).data()));
}

TEST_F(EngineTest, SubmitListsEveryMissingFieldAtOnce) {
  v1::Request r;
  r.set_instrument("uncc");
  r.set_type(v1::PRESERVATION);
  r.set_priority(v1::EMERGENCY);
  r.set_requested_authority("authorities/DE-BFJ");
  auto draft = Create(r);
  ASSERT_TRUE(draft.ok()) << draft.status();
  auto s = Do<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, draft->name());
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(s.status())) {
    fields.push_back(v.field);
    EXPECT_EQ(v.reason, "REQUIRED_BY_PROFILE");
  }
  EXPECT_THAT(fields, ElementsAreArray({
                          "request.language",
                          "request.case_info.investigating_authority",
                          "request.case_info.nature_of_proceedings",
                          "request.case_info.summary_of_facts",
                          "request.purpose",
                          "request.case_info.offences",
                          "request.data_sought.categories",
                          "request.data_sought.relation_to_offence",
                          "request.data_sought.service_provider",
                          "request.necessity",
                          "request.follow_up_intended",
                          "request.emergency_facts",
                      }));
  // Nothing was written: the draft is unchanged.
  auto again = reader_->Get(Who(comity::testing::kAlice), draft->name());
  EXPECT_EQ(again->state(), v1::DRAFT);
  EXPECT_EQ(again->audit_size(), 1u);
}

TEST_F(EngineTest, CreateValidatesEveryFieldAtTheEdge) {
  v1::Request r = FullRequest("nope", v1::REQUEST_TYPE_UNSPECIFIED);
  r.set_requested_authority("authorities/FR-CA");
  r.set_language("English");
  r.mutable_case_info()->set_max_penalty_months(-1);
  r.mutable_data_sought()->mutable_time_range()->mutable_end_time()->set_seconds(0);
  r.mutable_data_sought()->add_categories(static_cast<v1::DataCategory>(99));
  auto s = Create(r);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> reasons;
  for (const auto& v : FieldViolationsOf(s.status())) reasons.insert(v.field + ":" + v.reason);
  EXPECT_EQ(reasons, (std::set<std::string>{
                         "request.instrument:UNKNOWN_INSTRUMENT",
                         "request.type:REQUIRED",
                         "request.requested_authority:SELF_REQUEST",
                         "request.language:LANGUAGE_FORMAT",
                         "request.case_info.max_penalty_months:OUT_OF_RANGE",
                         "request.data_sought.time_range:TIME_RANGE_ORDER",
                         "request.data_sought.categories[2]:UNKNOWN_ENUM_VALUE",
                     }));
}

// Each action reads its body as the message the action table gives it; a command carrying
// another is refused at the edge, before anything reads it.
TEST_F(EngineTest, ABodyOfAnotherActionsMessageIsRefused) {
  auto draft = Create(FullRequest("uncc", v1::PRESERVATION));
  ASSERT_TRUE(draft.ok()) << draft.status();
  v1::AcknowledgeRequestRequest wrong;
  wrong.set_name(draft->name());
  auto s = engine_->ApplyAndWait(MakeCommand(v1::REFUSE, Who(comity::testing::kGreta), wrong));
  EXPECT_EQ(s.status(),
            absl::InvalidArgumentError("REFUSE takes a comity.v1.RefuseRequestRequest, not a "
                                       "comity.v1.AcknowledgeRequestRequest"));
  auto timer = engine_->ApplyAndWait(MakeCommand(v1::CLOCK_BREACH, Caller::System(), wrong));
  EXPECT_EQ(timer.status().code(), absl::StatusCode::kInvalidArgument);
  auto held = engine_->ApplyAndWait(MakeCommand(v1::CLOCK_HELD, Caller::System(), wrong));
  EXPECT_EQ(held.status(), absl::InvalidArgumentError("no command takes the action CLOCK_HELD"));
}

TEST_F(EngineTest, LanguageMustBeAcceptedByTheRequestedAuthority) {
  v1::Request r = FullRequest("uncc", v1::PRESERVATION);
  r.set_language("fr");  // DE-BFJ accepts de and en
  auto s = Create(r);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(s.status())[0].reason, "LANGUAGE_NOT_ACCEPTED");
}

TEST_F(EngineTest, SameRequestIdAndBodyReturnsTheFirstAnswer) {
  v1::Request r = FullRequest("uncc", v1::PRESERVATION);
  auto first = Create(r, "client-1");
  ASSERT_TRUE(first.ok());
  clock_.Advance(absl::Minutes(5));
  auto second = Create(r, "client-1");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->name(), first->name());
  EXPECT_EQ(second->SerializeAsString(), first->SerializeAsString());
  auto list = reader_->List(Who(comity::testing::kAlice), v1::ListRequestsRequest());
  EXPECT_EQ(list->requests_size(), 1);

  r.set_purpose("another purpose");
  EXPECT_EQ(Create(r, "client-1").status().code(), absl::StatusCode::kAlreadyExists);
  // Another principal may use the same id.
  v1::CreateRequestRequest msg;
  *msg.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  msg.mutable_request()->set_requested_authority("authorities/FR-CA");
  msg.set_request_id("client-1");
  EXPECT_TRUE(Do(comity::testing::kDieter, v1::CREATE, msg).ok());
}

TEST_F(EngineTest, StaleEtagIsAbortedAndChangesNothing) {
  auto r = Create(FullRequest("uncc", v1::PRESERVATION));
  v1::AddNoteRequest note;
  note.set_name(r->name());
  note.set_kind(v1::COMMENT);
  note.set_text("first");
  note.set_etag(r->etag());
  auto n = Do(comity::testing::kAlice, v1::ADD_NOTE, note);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->etag(), "2");
  note.set_text("second");  // still carries etag 1
  EXPECT_EQ(Do(comity::testing::kAlice, v1::ADD_NOTE, note).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(TrailOf(r->name()).size(), 2u);
}

TEST_F(EngineTest, WhoMaySeeAndActOnARequest) {
  auto r = Create(FullRequest("uncc", v1::PRESERVATION));
  ASSERT_TRUE(r.ok());
  // A draft is invisible to the requested authority.
  EXPECT_EQ(reader_->Get(Who(comity::testing::kGreta), r->name()).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(Do<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, r->name()).ok());
  EXPECT_TRUE(reader_->Get(Who(comity::testing::kGreta), r->name()).ok());
  // An unrelated authority cannot tell it exists.
  auto unrelated =
      Do<v1::AcknowledgeRequestRequest>(comity::testing::kBinh, v1::ACKNOWLEDGE, r->name());
  EXPECT_EQ(unrelated.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader_->Get(Who(comity::testing::kBinh), r->name()).status().code(),
            absl::StatusCode::kNotFound);
  // Roles: the receiving side's submitter may not respond; the auditor may read but not act.
  EXPECT_EQ(Do<v1::AcknowledgeRequestRequest>(comity::testing::kDieter, v1::ACKNOWLEDGE, r->name())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(reader_->Get(Who(comity::testing::kOdile), r->name()).ok());
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(r->name());
  withdraw.set_reason("An auditor tries to act");
  EXPECT_EQ(Do(comity::testing::kOdile, v1::WITHDRAW, withdraw).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The requesting side cannot take the receiving side's actions.
  EXPECT_EQ(Do<v1::AcknowledgeRequestRequest>(comity::testing::kAlice, v1::ACKNOWLEDGE, r->name())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(EngineTest, RefusalRulesComeFromTheProfile) {
  const std::string name = Received("uncc", v1::STORED_DATA_PRODUCTION);
  v1::RefuseRequestRequest refuse;
  refuse.set_name(name);
  refuse.add_grounds("ESSENTIAL_INTERESTS");
  refuse.set_reasons("State security");
  // Without consultation first: refused, with advice.
  auto direct = Do(comity::testing::kGreta, v1::REFUSE, refuse);
  EXPECT_EQ(direct.status().code(), absl::StatusCode::kFailedPrecondition);

  v1::ConsultRequestRequest consult;
  consult.set_name(name);
  consult.add_intended_grounds("ESSENTIAL_INTERESTS");
  consult.set_reasons("Could conditions help?");
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());

  v1::RefuseRequestRequest fiscal = refuse;
  fiscal.clear_grounds();
  fiscal.add_grounds("FISCAL_MATTERS");
  auto s = Do(comity::testing::kGreta, v1::REFUSE, fiscal);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(s.status())[0].reason, "NEVER_SOLE_GROUND");

  v1::RefuseRequestRequest unknown = refuse;
  unknown.add_grounds("BECAUSE");
  s = Do(comity::testing::kGreta, v1::REFUSE, unknown);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(s.status())[0].field, "grounds[1]");
  EXPECT_EQ(FieldViolationsOf(s.status())[0].reason, "GROUND_NOT_ALLOWED");

  v1::RefuseRequestRequest no_reasons = refuse;
  no_reasons.clear_reasons();
  EXPECT_EQ(Do(comity::testing::kGreta, v1::REFUSE, no_reasons).status().code(),
            absl::StatusCode::kInvalidArgument);

  fiscal.add_grounds("ESSENTIAL_INTERESTS");  // fiscal alongside another ground is allowed
  auto done = Do(comity::testing::kGreta, v1::REFUSE, fiscal);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::REFUSED);
  const v1::Trail trail = TrailOf(name);
  const v1::AuditEntry& last = trail.entries().rbegin()->entry();
  EXPECT_EQ(last.action(), v1::REFUSE);
  EXPECT_THAT(last.grounds(), ElementsAre("FISCAL_MATTERS", "ESSENTIAL_INTERESTS"));
  EXPECT_EQ(last.reasons(), "State security");
  EXPECT_EQ(last.legal_basis(), "UNCC 40(21), 40(24) [to be checked]; cf. UNTOC 18(21), 18(23)");
  EXPECT_EQ(last.state_before(), v1::CONSULTATION);
  EXPECT_EQ(last.actor().role(), v1::RESPONDER);
}

// Budapest art. 29(4): dual criminality is a ground for refusing preservation only to a Party that
// reserved it. Without the reservation in the directory, consulting or refusing on it is
// FAILED_PRECONDITION; an admin of that Party records it (on the directory's trail), and then it
// may be invoked. Only an admin of the Party's own authorities may record or withdraw it.
TEST_F(EngineTest, DualCriminalityForPreservationNeedsTheRequestedPartysReservation) {
  ASSERT_TRUE(engine_->ApplyAndWait(MakeSeedDirectoryCommand(directory_->Config())).ok());
  const std::string name = Received("budapest", v1::PRESERVATION);
  v1::ConsultRequestRequest consult;
  consult.set_name(name);
  consult.add_intended_grounds("NO_DUAL_CRIMINALITY");
  consult.set_reasons("Not an offence here");
  auto without = Do(comity::testing::kGreta, v1::CONSULT, consult);
  ASSERT_EQ(without.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(without.status().message(),
            "NO_DUAL_CRIMINALITY may be invoked for PRESERVATION requests under budapest only by a "
            "Party that made reservation BUDAPEST_29_4 (ETS 185 art. 29(4)); the directory "
            "records none for DE");
  EXPECT_EQ(TrailOf(name).entries().rbegin()->entry().action(), v1::ACKNOWLEDGE);

  v1::SetReservationRequest reserve;
  reserve.mutable_reservation()->set_country("DE");
  reserve.mutable_reservation()->set_instrument("budapest");
  reserve.mutable_reservation()->set_code("BUDAPEST_29_4");
  reserve.mutable_reservation()->set_kind(v1::RESERVATION);
  reserve.mutable_reservation()->set_text("Reservation under art. 29(4), deposited 2009");
  // Not by France's admin, nor by Germany's responder.
  EXPECT_EQ(Do("spiffe://comity.dev/FR-CA/admin", v1::SET_RESERVATION, reserve).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Do(comity::testing::kGreta, v1::SET_RESERVATION, reserve).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::SetReservationRequest unknown = reserve;
  unknown.mutable_reservation()->set_code("BUDAPEST_99");
  auto bad = Do(comity::testing::kDora, v1::SET_RESERVATION, unknown);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(bad.status())[0].reason, "UNKNOWN_RESERVATION");
  ASSERT_TRUE(Do(comity::testing::kDora, v1::SET_RESERVATION, reserve).ok());
  EXPECT_TRUE(directory_->HasReservation("DE", "budapest", "BUDAPEST_29_4"));
  auto directory_trail = reader_->Trail(Who(comity::testing::kOdile), "directory");
  ASSERT_TRUE(directory_trail.ok()) << directory_trail.status();
  const v1::AuditEntry& recorded = directory_trail->entries().rbegin()->entry();
  EXPECT_EQ(recorded.action(), v1::SET_RESERVATION);
  EXPECT_EQ(recorded.actor().principal(), comity::testing::kDora);
  EXPECT_EQ(recorded.reasons(), "recorded: DE/budapest/BUDAPEST_29_4");

  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());
  v1::RefuseRequestRequest refuse;
  refuse.set_name(name);
  refuse.add_grounds("NO_DUAL_CRIMINALITY");
  refuse.set_reasons("Not an offence here, as reserved under art. 29(4)");
  auto refused = Do(comity::testing::kGreta, v1::REFUSE, refuse);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->state(), v1::REFUSED);

  // Withdrawn, the ground is closed again for the next request; withdrawing twice is refused.
  v1::SetReservationRequest withdraw = reserve;
  withdraw.set_withdraw(true);
  ASSERT_TRUE(Do(comity::testing::kDora, v1::SET_RESERVATION, withdraw).ok());
  EXPECT_FALSE(directory_->HasReservation("DE", "budapest", "BUDAPEST_29_4"));
  EXPECT_EQ(Do(comity::testing::kDora, v1::SET_RESERVATION, withdraw).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const std::string next = Received("budapest", v1::PRESERVATION);
  consult.set_name(next);
  EXPECT_EQ(Do(comity::testing::kGreta, v1::CONSULT, consult).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Dual criminality under art. 25(5), for production, needs no reservation.
  const std::string production = Received("budapest", v1::STORED_DATA_PRODUCTION);
  consult.set_name(production);
  EXPECT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());
}

// UNCC (as UNTOC 18(26)), Budapest and the EIO: a refusal on any ground of the refusal paragraph
// follows consultation. e-Evidence: the addressee's Annex III grounds need none.
TEST_F(EngineTest, EachShippedProfilesConsultationRule) {
  struct Case {
    const char* instrument;
    v1::RequestType type;
    const char* ground;
    bool direct;
  };
  const Case cases[] = {
      {"uncc", v1::GENERAL_ASSISTANCE, "NOT_CONFORMING", false},
      {"uncc", v1::GENERAL_ASSISTANCE, "ESSENTIAL_INTERESTS", false},
      {"budapest", v1::GENERAL_ASSISTANCE, "ESSENTIAL_INTERESTS", false},
      {"eu-eio", v1::STORED_DATA_PRODUCTION, "NATIONAL_SECURITY", false},
      {"eu-eevidence", v1::STORED_DATA_PRODUCTION, "FUNDAMENTAL_RIGHTS", false},
      {"eu-eevidence", v1::STORED_DATA_PRODUCTION, "INCOMPLETE", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.instrument, " ", c.ground));
    const std::string name = Received(c.instrument, c.type);
    v1::RefuseRequestRequest refuse;
    refuse.set_name(name);
    refuse.add_grounds(c.ground);
    refuse.set_reasons("The request cannot be executed");
    auto r = Do(comity::testing::kGreta, v1::REFUSE, refuse);
    if (c.direct) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->state(), v1::REFUSED);
      continue;
    }
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
    EXPECT_NE(r.status().message().find("consult the requesting side first"),
              absl::string_view::npos)
        << r.status();
    EXPECT_EQ(ActionsOf(name).back(), v1::ACKNOWLEDGE);
  }
}

TEST_F(EngineTest, PreservationRefusalIsLimitedToItsGrounds) {
  const std::string name = Received("budapest", v1::PRESERVATION);
  v1::ConsultRequestRequest consult;
  consult.set_name(name);
  consult.add_intended_grounds("DOMESTIC_LAW_PROHIBITS");
  consult.set_reasons("r");
  auto s = Do(comity::testing::kGreta, v1::CONSULT, consult);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(s.status())[0].reason, "GROUND_NOT_ALLOWED");
}

TEST_F(EngineTest, ConditionsPostponementAndDelivery) {
  const std::string name = Received("eu-eio", v1::STORED_DATA_PRODUCTION);
  v1::ConsultRequestRequest consult;
  consult.set_name(name);
  consult.set_postponement(true);
  consult.set_reasons("Our own investigation is at a sensitive stage");
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());
  v1::PostponeRequestRequest postpone;
  postpone.set_name(name);
  postpone.set_ground("PREJUDICE_TO_INVESTIGATION");
  postpone.set_reasons("Until our arrests");
  *postpone.mutable_until_time() = ToProto(kStart - absl::Hours(1));
  EXPECT_EQ(Do(comity::testing::kGreta, v1::POSTPONE, postpone).status().code(),
            absl::StatusCode::kInvalidArgument);
  *postpone.mutable_until_time() = ToProto(kStart + absl::Hours(24 * 14));
  auto p = Do(comity::testing::kGreta, v1::POSTPONE, postpone);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->state(), v1::POSTPONED);
  EXPECT_EQ(p->postponement().grounds(0), "PREJUDICE_TO_INVESTIGATION");
  ASSERT_TRUE(Do<v1::ResumeRequestRequest>(comity::testing::kGreta, v1::RESUME, name).ok());

  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(name);
  v1::DeliveredItem* item = deliver.mutable_delivery()->add_items();
  item->set_name("subscriber.csv");
  item->set_sha256(ToHex(Sha256("subscriber data")));
  item->set_category(v1::SUBSCRIBER);
  auto partial = Do(comity::testing::kGreta, v1::DELIVER, deliver);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->state(), v1::IN_EXECUTION);
  EXPECT_EQ(partial->deliveries(0).number(), 1);
  deliver.mutable_delivery()->set_final(true);
  item->set_sha256("NOT-A-DIGEST");
  EXPECT_EQ(Do(comity::testing::kGreta, v1::DELIVER, deliver).status().code(),
            absl::StatusCode::kInvalidArgument);
  item->set_sha256(ToHex(Sha256("traffic data")));
  auto final = Do(comity::testing::kGreta, v1::DELIVER, deliver);
  ASSERT_TRUE(final.ok());
  EXPECT_EQ(final->state(), v1::EXECUTED);
  auto closed = Do<v1::ConfirmReceiptRequest>(comity::testing::kAlice, v1::CONFIRM_RECEIPT, name);
  EXPECT_EQ(closed->state(), v1::CLOSED);
  EXPECT_THAT(ActionsOf(name),
              ElementsAre(v1::CREATE, v1::SUBMIT, v1::ACKNOWLEDGE, v1::CONSULT, v1::POSTPONE,
                          v1::RESUME, v1::DELIVER, v1::DELIVER, v1::CONFIRM_RECEIPT));
  const v1::Trail trail = TrailOf(name);
  EXPECT_THAT(trail.entries(7).entry().attachments(), ElementsAre(ToHex(Sha256("traffic data"))));
}

TEST_F(EngineTest, ConditionsAcceptedBindAndDeclinedWithdraw) {
  for (bool accept : {true, false}) {
    const std::string name = Received("uncc", v1::SUBSCRIBER_INFORMATION);
    v1::ConsultRequestRequest consult;
    consult.set_name(name);
    consult.add_intended_grounds("DOMESTIC_LAW_PROHIBITS");
    consult.set_reasons("Possible on conditions");
    ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());
    v1::ProposeConditionsRequest propose;
    propose.set_name(name);
    auto* c = propose.add_conditions();
    c->set_kind(v1::USE_LIMITATION);
    c->set_text("Only for the proceedings named");
    ASSERT_TRUE(Do(comity::testing::kGreta, v1::PROPOSE_CONDITIONS, propose).ok());
    absl::StatusOr<v1::Request> r;
    if (accept) {
      r = Do<v1::AcceptConditionsRequest>(comity::testing::kAlice, v1::ACCEPT_CONDITIONS, name);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->state(), v1::IN_EXECUTION);
      EXPECT_EQ(r->conditions(0).status(), v1::ACCEPTED);
    } else {
      v1::DeclineConditionsRequest decline;
      decline.set_name(name);
      decline.set_reason("Cannot accept");
      r = Do(comity::testing::kAlice, v1::DECLINE_CONDITIONS, decline);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->state(), v1::WITHDRAWN);
      EXPECT_EQ(r->conditions(0).status(), v1::DECLINED);
    }
  }
}

TEST_F(EngineTest, InformationRequestedAndSupplied) {
  const std::string name = Received("budapest", v1::GENERAL_ASSISTANCE);
  v1::RequestInformationRequest ask;
  ask.set_name(name);
  ask.set_questions("Which account exactly?");
  EXPECT_EQ(Do(comity::testing::kGreta, v1::REQUEST_INFORMATION, ask)->state(),
            v1::AWAITING_INFORMATION);
  v1::SupplementRequestRequest supply;
  supply.set_name(name);
  supply.set_information("ransom@example.org");
  auto r = Do(comity::testing::kAlice, v1::SUPPLEMENT, supply);
  EXPECT_EQ(r->state(), v1::RECEIVED);
  EXPECT_THAT(r->supplements(), ElementsAre("ransom@example.org"));
}

TEST_F(EngineTest, NotesKeepTheStateAndComeFromTheRightSide) {
  const std::string name = Received("uncc", v1::GENERAL_ASSISTANCE);
  v1::AddNoteRequest note;
  note.set_name(name);
  note.set_kind(v1::STATUS_ENQUIRY);
  note.set_text("Any news?");
  auto r = Do(comity::testing::kAlice, v1::ADD_NOTE, note);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state(), v1::RECEIVED);
  auto wrong = Do(comity::testing::kGreta, v1::ADD_NOTE, note);
  EXPECT_EQ(FieldViolationsOf(wrong.status())[0].reason, "NOTE_KIND_SIDE");
  note.set_kind(v1::DELAY_NOTICE);
  EXPECT_EQ(Do(comity::testing::kGreta, v1::ADD_NOTE, note).status().code(),
            absl::StatusCode::kInvalidArgument);  // a delay notice needs a new estimate
  *note.mutable_new_estimate_time() = ToProto(kStart + absl::Hours(72));
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::ADD_NOTE, note).ok());
  const auto trail = TrailOf(name);
  EXPECT_EQ(trail.entries(4).entry().note_kind(), v1::DELAY_NOTICE);
  EXPECT_EQ(trail.entries(4).entry().state_before(), v1::RECEIVED);
  EXPECT_EQ(trail.entries(4).entry().state_after(), v1::RECEIVED);
}

// A person meets the minimum: "60 days from now" computed a little before the node's clock, and
// the earliest expiry the refusal names, are both accepted.
TEST_F(EngineTest, SixtyDaysAreCountedInWholeDays) {
  const std::string pres = Received("uncc", v1::PRESERVATION);
  const absl::Time asked = clock_.Now();
  clock_.Advance(absl::Seconds(3));  // the call reaches the node a moment later
  v1::ConfirmPreservedRequest confirm;
  confirm.set_name(pres);
  *confirm.mutable_expire_time() = ToProto(asked + absl::Hours(24 * 59));
  auto refused = Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(refused.status().message());
  const std::string marker = "the earliest expiry is ";
  const size_t at = message.find(marker);
  ASSERT_NE(at, std::string::npos) << message;
  absl::Time earliest;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", message.substr(at + marker.size(), 20),
                              absl::UTCTimeZone(), &earliest, &error))
      << error;
  EXPECT_EQ(earliest, absl::FromCivil(absl::CivilDay(2027, 1, 17), absl::UTCTimeZone()));
  *confirm.mutable_expire_time() = ToProto(earliest - absl::Seconds(1));
  EXPECT_EQ(Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm).status().code(),
            absl::StatusCode::kInvalidArgument);
  *confirm.mutable_expire_time() = ToProto(earliest);
  EXPECT_TRUE(Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm).ok());
  // The same with the client's own "60d".
  const std::string other = Received("uncc", v1::PRESERVATION);
  const absl::Time client_now = clock_.Now();
  clock_.Advance(absl::Seconds(3));
  confirm.set_name(other);
  *confirm.mutable_expire_time() = ToProto(client_now + absl::Hours(24 * 60));
  auto r = Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state(), v1::PRESERVED);
}

TEST_F(EngineTest, PreservationLastsSixtyDaysAndIsHeldByItsFollowUp) {
  const std::string pres = Received("uncc", v1::PRESERVATION);
  v1::ConfirmPreservedRequest confirm;
  confirm.set_name(pres);
  *confirm.mutable_expire_time() = ToProto(kStart + absl::Hours(24 * 59));
  auto short_one = Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm);
  ASSERT_EQ(short_one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(short_one.status())[0].reason, "PRESERVATION_TOO_SHORT");
  *confirm.mutable_expire_time() = ToProto(kStart + absl::Hours(24 * 60));
  auto preserved = Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm);
  ASSERT_TRUE(preserved.ok()) << preserved.status();
  EXPECT_EQ(preserved->state(), v1::PRESERVED);

  // The follow-up production request.
  v1::Request follow = FullRequest("uncc", v1::STORED_DATA_PRODUCTION);
  follow.set_follows(pres);
  auto f = Create(follow);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(Do<v1::SubmitRequestRequest>(comity::testing::kAlice, v1::SUBMIT, f->name()).ok());

  v1::ExpirePreservationRequest expire;
  expire.set_name(pres);
  auto early =
      engine_->ApplyAndWait(MakeCommand(v1::EXPIRE_PRESERVATION, Caller::System(), expire));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("expiry"), std::string::npos);

  clock_.Advance(absl::Hours(24 * 61));
  auto held = engine_->ApplyAndWait(MakeCommand(v1::EXPIRE_PRESERVATION, Caller::System(), expire));
  ASSERT_EQ(held.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(held.status().message().find(f->name()), std::string::npos) << held.status();

  // Once the follow-up's data are delivered the hold ends.
  ASSERT_TRUE(
      Do<v1::AcknowledgeRequestRequest>(comity::testing::kGreta, v1::ACKNOWLEDGE, f->name()).ok());
  ASSERT_TRUE(Do<v1::AcceptRequestRequest>(comity::testing::kGreta, v1::ACCEPT, f->name()).ok());
  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(f->name());
  deliver.mutable_delivery()->set_final(true);
  auto* item = deliver.mutable_delivery()->add_items();
  item->set_name("mailbox.mbox");
  item->set_sha256(ToHex(Sha256("mailbox")));
  item->set_category(v1::CONTENT);
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::DELIVER, deliver).ok());
  auto expired =
      engine_->ApplyAndWait(MakeCommand(v1::EXPIRE_PRESERVATION, Caller::System(), expire));
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(expired->state(), v1::EXPIRED);
  const v1::AuditEntry last = TrailOf(pres).entries().rbegin()->entry();
  EXPECT_EQ(last.actor().side(), v1::SYSTEM);
  EXPECT_EQ(last.actor().principal(), "system");
}

TEST_F(EngineTest, FollowUpMustFollowAPreservationToTheSameAuthority) {
  const std::string prod = Received("uncc", v1::STORED_DATA_PRODUCTION);
  v1::Request follow = FullRequest("uncc", v1::STORED_DATA_PRODUCTION);
  follow.set_follows(prod);
  EXPECT_EQ(FieldViolationsOf(Create(follow).status())[0].reason, "FOLLOWS_NOT_PRESERVATION");
  follow.set_follows("requests/01ARZ3NDEKTSV4RRFFQ69G5FAV");
  EXPECT_EQ(Create(follow).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EEvidencePreservationExtendsOnceByThirtyDays) {
  const std::string pres = Received("eu-eevidence", v1::PRESERVATION);
  v1::ConfirmPreservedRequest confirm;
  confirm.set_name(pres);
  const absl::Time expiry = kStart + absl::Hours(24 * 60);
  *confirm.mutable_expire_time() = ToProto(expiry);
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm).ok());
  v1::ExtendPreservationRequest extend;
  extend.set_name(pres);
  *extend.mutable_expire_time() = ToProto(expiry + absl::Hours(24 * 31));
  EXPECT_EQ(
      FieldViolationsOf(Do(comity::testing::kAlice, v1::EXTEND_PRESERVATION, extend).status())[0]
          .reason,
      "EXTENSION_TOO_LONG");
  *extend.mutable_expire_time() = ToProto(expiry + absl::Hours(24 * 30));
  auto once = Do(comity::testing::kAlice, v1::EXTEND_PRESERVATION, extend);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ(once->preservation().extensions(), 1);
  *extend.mutable_expire_time() = ToProto(expiry + absl::Hours(24 * 40));
  EXPECT_EQ(Do(comity::testing::kAlice, v1::EXTEND_PRESERVATION, extend).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto released =
      Do<v1::ReleasePreservationRequest>(comity::testing::kAlice, v1::RELEASE_PRESERVATION, pres);
  EXPECT_EQ(released->state(), v1::CLOSED);
}

TEST_F(EngineTest, WithdrawFromAnyLiveStateButNotAfterTheEnd) {
  const std::string name = Received("uncc", v1::GENERAL_ASSISTANCE);
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(name);
  EXPECT_EQ(Do(comity::testing::kAlice, v1::WITHDRAW, withdraw).status().code(),
            absl::StatusCode::kInvalidArgument);  // a reason is required
  withdraw.set_reason("No longer needed: the suspect confessed");
  auto r = Do(comity::testing::kAlice, v1::WITHDRAW, withdraw);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state(), v1::WITHDRAWN);
  EXPECT_EQ(Do(comity::testing::kAlice, v1::WITHDRAW, withdraw).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, AnEndedRequestTakesNoMoreNotes) {
  const std::string name = Received("uncc", v1::GENERAL_ASSISTANCE);
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(name);
  withdraw.set_reason("No longer needed");
  ASSERT_TRUE(Do(comity::testing::kAlice, v1::WITHDRAW, withdraw).ok());
  const v1::Trail before = TrailOf(name);
  v1::AddNoteRequest note;
  note.set_name(name);
  note.set_kind(v1::COMMENT);
  note.set_text("one more thing");
  for (const char* who : {comity::testing::kAlice, comity::testing::kGreta}) {
    absl::Status s = Do(who, v1::ADD_NOTE, note).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << who << ": " << s;
    EXPECT_NE(s.message().find("ADD_NOTE is not allowed"), absl::string_view::npos) << s;
  }
  const v1::Trail after = TrailOf(name);
  ASSERT_EQ(after.entries_size(), before.entries_size());
  EXPECT_EQ(after.entries().rbegin()->entry().action(), v1::WITHDRAW);
}

TEST_F(EngineTest, AWithdrawnDraftStaysTheRequestingSidesAlone) {
  auto draft = Create(FullRequest("uncc", v1::GENERAL_ASSISTANCE));
  ASSERT_TRUE(draft.ok());
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(draft->name());
  withdraw.set_reason("drafted by mistake");
  auto r = Do(comity::testing::kAlice, v1::WITHDRAW, withdraw);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state(), v1::WITHDRAWN);
  EXPECT_TRUE(reader_->Get(Who(comity::testing::kAlice), draft->name()).ok());
  // Germany never received it: it does not exist for her, nor for an oversight body.
  EXPECT_EQ(reader_->Get(Who(comity::testing::kGreta), draft->name()).status().code(),
            absl::StatusCode::kNotFound);
  v1::AddNoteRequest note;
  note.set_name(draft->name());
  note.set_kind(v1::COMMENT);
  note.set_text("?");
  EXPECT_EQ(Do(comity::testing::kGreta, v1::ADD_NOTE, note).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, PaginationIsStableWhileRequestsArrive) {
  std::vector<std::string> created;
  for (int i = 0; i < 25; ++i) {
    clock_.Advance(absl::Milliseconds(1));
    created.push_back(Create(FullRequest("uncc", v1::PRESERVATION))->name());
  }
  std::vector<std::string> seen;
  v1::ListRequestsRequest q;
  q.set_page_size(10);
  do {
    auto page = reader_->List(Who(comity::testing::kAlice), q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : page->requests()) seen.push_back(r.name());
    q.set_page_token(page->next_page_token());
    clock_.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(Create(FullRequest("uncc", v1::GENERAL_ASSISTANCE))
                    .ok());  // arrives between pages, sorts last
  } while (!q.page_token().empty());
  ASSERT_GE(seen.size(), created.size());
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 25), created);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());

  q.set_page_token("garbage!");
  EXPECT_EQ(reader_->List(Who(comity::testing::kAlice), q).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, ListFiltersBySideStateTypeAndCounterpart) {
  const std::string a = Received("uncc", v1::PRESERVATION);
  ASSERT_TRUE(Create(FullRequest("budapest", v1::GENERAL_ASSISTANCE)).ok());  // a draft
  v1::ListRequestsRequest q;
  q.set_state(v1::RECEIVED);
  auto fr = reader_->List(Who(comity::testing::kAlice), q);
  ASSERT_EQ(fr->requests_size(), 1);
  EXPECT_EQ(fr->requests(0).name(), a);
  q.Clear();
  q.set_side(v1::RECEIVING);
  auto de = reader_->List(Who(comity::testing::kGreta), q);
  ASSERT_EQ(de->requests_size(), 1);  // the draft is not visible to DE
  q.set_side(v1::REQUESTING);
  EXPECT_EQ(reader_->List(Who(comity::testing::kGreta), q)->requests_size(), 0);
  q.Clear();
  q.set_instrument("budapest");
  q.set_counterpart("authorities/DE-BFJ");
  EXPECT_EQ(reader_->List(Who(comity::testing::kAlice), q)->requests_size(), 1);
  q.set_type(v1::PRESERVATION);
  EXPECT_EQ(reader_->List(Who(comity::testing::kAlice), q)->requests_size(), 0);
  EXPECT_EQ(reader_->List(Who(comity::testing::kBinh), v1::ListRequestsRequest())->requests_size(),
            0);
}

TEST_F(EngineTest, EverythingSurvivesARestartAndTheChainContinues) {
  const std::string name = Received("uncc", v1::GENERAL_ASSISTANCE);
  Restart();
  auto r = reader_->Get(Who(comity::testing::kAlice), name);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state(), v1::RECEIVED);
  auto accepted = Do<v1::AcceptRequestRequest>(comity::testing::kGreta, v1::ACCEPT, name);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->audit_size(), 4u);
  EXPECT_THAT(ActionsOf(name), ElementsAre(v1::CREATE, v1::SUBMIT, v1::ACKNOWLEDGE, v1::ACCEPT));
}

TEST_F(EngineTest, ConcurrentChangesToOneRequestAreAllChained) {
  auto r = Create(FullRequest("uncc", v1::GENERAL_ASSISTANCE));
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        v1::AddNoteRequest note;
        note.set_name(r->name());
        note.set_kind(v1::COMMENT);
        note.set_text("thread " + std::to_string(t) + " note " + std::to_string(i));
        if (Do(comity::testing::kAlice, v1::ADD_NOTE, note).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(TrailOf(r->name()).size(), 1u + kThreads * kEach);
}

// The real store, with commits failing on demand (an injected I/O error).
class FaultyStore : public storage::Store {
 public:
  explicit FaultyStore(storage::Store* real) : real_(real) {}
  absl::StatusOr<std::string> Get(storage::Column c, absl::string_view key) const override {
    return real_->Get(c, key);
  }
  absl::Status Scan(storage::Column c, absl::string_view prefix, absl::string_view start_after,
                    const ScanFn& fn) const override {
    return real_->Scan(c, prefix, start_after, fn);
  }
  std::unique_ptr<storage::Cursor> NewCursor(storage::Column c,
                                             absl::string_view prefix) const override {
    return real_->NewCursor(c, prefix);
  }
  absl::Status Commit(const storage::WriteSet& batch) override {
    if (fail_.load()) return absl::UnavailableError("commit: I/O error");
    return real_->Commit(batch);
  }
  void Fail(bool fail) { fail_ = fail; }

 private:
  storage::Store* real_;
  std::atomic<bool> fail_{false};
};

TEST_F(EngineTest, AFailedWriteStopsAllWritesAndLeavesNothingHalfDone) {
  engine_.reset();
  FaultyStore faulty(store_.get());
  std::vector<absl::Status> causes;  // written on the committer thread, read after it stops
  workflow::EngineOptions options;
  options.on_storage_failure = [&causes](const absl::Status& s) { causes.push_back(s); };
  auto engine = Engine::Start(&faulty, &clock_, profiles_.get(), directory_.get(), options);
  ASSERT_TRUE(engine.ok());
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::GENERAL_ASSISTANCE);
  auto kept =
      (*engine)->ApplyAndWait(MakeCommand(v1::CREATE, Who(comity::testing::kAlice), create));
  ASSERT_TRUE(kept.ok());

  faulty.Fail(true);
  v1::SubmitRequestRequest submit;
  submit.set_name(kept->name());
  auto failed =
      (*engine)->ApplyAndWait(MakeCommand(v1::SUBMIT, Who(comity::testing::kAlice), submit));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  faulty.Fail(false);
  // Fail-stop: the disk may be back, but the engine writes nothing more.
  auto after =
      (*engine)->ApplyAndWait(MakeCommand(v1::CREATE, Who(comity::testing::kAlice), create));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
  engine->reset();
  // The cause reached the operator once; callers were told only that the change is not durable.
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0], absl::UnavailableError("commit: I/O error"));
  EXPECT_EQ(failed.status().message().find("I/O"), absl::string_view::npos);

  Restart();
  auto r = reader_->Get(Who(comity::testing::kAlice), kept->name());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state(), v1::DRAFT);  // the failed submit left no trace
  EXPECT_EQ(TrailOf(kept->name()).size(), 1u);
  EXPECT_EQ(reader_->List(Who(comity::testing::kAlice), v1::ListRequestsRequest())->requests_size(),
            1);
}

// The Merkle log as stored: every audit entry a leaf, in commit order, nodes in the same batches.
TEST_F(EngineTest, EveryAuditEntryIsALeafOfTheStoredMerkleLog) {
  std::vector<std::string> names;
  auto check = [&] {
    // The leaves, from the entries themselves, placed by their leaf index.
    std::map<uint64_t, std::string> by_index;
    for (const std::string& name : names) {
      const v1::Trail trail = TrailOf(name);
      for (const v1::TrailEntry& e : trail.entries()) {
        ASSERT_TRUE(by_index.emplace(e.entry().leaf_index(), e.data()).second)
            << "two entries at leaf " << e.entry().leaf_index();
      }
    }
    std::vector<std::string> leaves;
    for (const auto& [index, bytes] : by_index) {
      ASSERT_EQ(index, leaves.size()) << "the log has a gap";
      leaves.push_back(audit::LeafHash(bytes));
    }
    // The root rebuilt from the stored nodes alone.
    auto size = store_->Get(storage::Column::kMeta, storage::kTlogSizeKey);
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(*size, absl::StrCat(leaves.size()));
    auto stored = audit::LogAppender::Resume(leaves.size(), [this](int level, uint64_t index) {
      return store_->Get(storage::Column::kTlog, storage::TlogNodeKey(level, index));
    });
    ASSERT_TRUE(stored.ok()) << stored.status();
    audit::MerkleTree tree(leaves);
    EXPECT_EQ(stored->Root(), tree.Root(leaves.size()));
  };
  for (int i = 0; i < 5; ++i) names.push_back(Received("uncc", v1::GENERAL_ASSISTANCE));
  check();
  Restart();  // the log resumes where it stopped
  for (int i = 0; i < 4; ++i) names.push_back(Received("budapest", v1::PRESERVATION));
  v1::AddNoteRequest note;
  note.set_name(names[0]);
  note.set_kind(v1::COMMENT);
  note.set_text("after the restart");
  ASSERT_TRUE(Do(comity::testing::kAlice, v1::ADD_NOTE, note).ok());
  check();
}

TEST_F(EngineTest, StatisticsAreComputedFromRecordsAndTrails) {
  auto deliver_final = [&](const std::string& name) {
    ASSERT_TRUE(Do<v1::AcceptRequestRequest>(comity::testing::kGreta, v1::ACCEPT, name).ok());
    v1::DeliverEvidenceRequest d;
    d.set_name(name);
    d.mutable_delivery()->set_final(true);
    auto* item = d.mutable_delivery()->add_items();
    item->set_name("x");
    item->set_sha256(ToHex(Sha256("x")));
    item->set_category(v1::TRAFFIC);
    ASSERT_TRUE(Do(comity::testing::kGreta, v1::DELIVER, d).ok());
  };
  const std::string r1 = Received("uncc", v1::GENERAL_ASSISTANCE);
  clock_.Advance(absl::Hours(48));
  deliver_final(r1);  // 48 hours from submission
  const std::string r2 = Received("eu-eevidence", v1::EMERGENCY_DISCLOSURE);
  clock_.Advance(absl::Hours(8));
  deliver_final(r2);  // 8 hours, an emergency
  const std::string r3 = Received("uncc", v1::STORED_DATA_PRODUCTION);
  v1::ConsultRequestRequest consult;
  consult.set_name(r3);
  consult.add_intended_grounds("ESSENTIAL_INTERESTS");
  consult.set_reasons("r");
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONSULT, consult).ok());
  v1::RefuseRequestRequest refuse;
  refuse.set_name(r3);
  refuse.add_grounds("ESSENTIAL_INTERESTS");
  refuse.add_grounds("FISCAL_MATTERS");
  refuse.set_reasons("r");
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::REFUSE, refuse).ok());
  const std::string r4 = Received("uncc", v1::GENERAL_ASSISTANCE);
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(r4);
  withdraw.set_reason("No longer needed");
  ASSERT_TRUE(Do(comity::testing::kAlice, v1::WITHDRAW, withdraw).ok());
  Received("uncc", v1::GENERAL_ASSISTANCE);  // pending
  const std::string r7 = Received("uncc", v1::PRESERVATION);
  v1::ConfirmPreservedRequest confirm;
  confirm.set_name(r7);
  *confirm.mutable_expire_time() = ToProto(clock_.Now() + absl::Hours(24 * 90));
  ASSERT_TRUE(Do(comity::testing::kGreta, v1::CONFIRM_PRESERVED, confirm).ok());
  ASSERT_TRUE(Create(FullRequest("uncc", v1::GENERAL_ASSISTANCE)).ok());  // a draft: not counted

  auto stats = reader_->Statistics(Who(comity::testing::kOdile), v1::GetStatisticsRequest());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->requests(), 6u);
  EXPECT_EQ(stats->by_type().at("GENERAL_ASSISTANCE"), 3u);
  EXPECT_EQ(stats->by_type().at("EMERGENCY_DISCLOSURE"), 1u);
  EXPECT_EQ(stats->by_type().at("STORED_DATA_PRODUCTION"), 1u);
  EXPECT_EQ(stats->by_type().at("PRESERVATION"), 1u);
  EXPECT_EQ(stats->emergency(), 1u);
  EXPECT_EQ(stats->complied(), 2u);
  EXPECT_EQ(stats->refused(), 1u);
  EXPECT_EQ(stats->refusal_grounds().at("ESSENTIAL_INTERESTS"), 1u);
  EXPECT_EQ(stats->refusal_grounds().at("FISCAL_MATTERS"), 1u);
  EXPECT_EQ(stats->withdrawn(), 1u);
  EXPECT_EQ(stats->preserved(), 1u);
  EXPECT_EQ(stats->pending(), 1u);
  EXPECT_DOUBLE_EQ(stats->mean_hours_to_delivery(), 28.0);
  // Another state sees none of them.
  auto other = reader_->Statistics(Who(comity::testing::kBinh), v1::GetStatisticsRequest());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->requests(), 0u);
}

TEST_F(EngineTest, StoppedEngineRefusesWithUnavailable) {
  engine_->Stop();
  EXPECT_EQ(Create(FullRequest("uncc", v1::PRESERVATION)).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace comity::workflow
