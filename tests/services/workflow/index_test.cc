// The listing indexes and the statistics counters against a recount from the records alone,
// over a random workload: every filter and order, paged, for every kind of caller; then again
// after the indexes are dropped and rebuilt by the schema upgrade.

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/sha256.h"
#include "common/text.h"
#include "gtest/gtest.h"
#include "services/auth/policy.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/fixtures.h"

namespace comity::workflow {
namespace {

using storage::Column;

const absl::Time kStart = absl::FromUnixSeconds(1795000000);  // 2026-11-18

struct Party {
  const char* submitter;
  const char* responder;
  const char* authority;
};
const Party kParties[] = {
    {comity::testing::kAlice, comity::testing::kFelix, "authorities/FR-CA"},
    {comity::testing::kDieter, comity::testing::kGreta, "authorities/DE-BFJ"},
    {comity::testing::kBinh, comity::testing::kBinh, "authorities/VN-247"},
};

class IndexTest : public comity::testing::EngineFixture {
 protected:
  IndexTest() : EngineFixture(kStart) {}

  template <typename Msg>
  bool Do(const char* who, v1::Action action, const Msg& msg) {
    return engine_->ApplyAndWait(MakeCommand(action, Who(who), msg)).ok();
  }
  template <typename Msg>
  bool Do(const char* who, v1::Action action, const std::string& name) {
    Msg msg;
    msg.set_name(name);
    return Do(who, action, msg);
  }

  // `n` requests between random parties, each taken a random way through its lifecycle, with
  // the clock moving and the timers firing between them.
  void RandomWorkload(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](int k) { return static_cast<int>(rng() % k); };
    const char* instruments[] = {"uncc", "budapest"};
    const v1::RequestType types[] = {v1::PRESERVATION, v1::TRAFFIC_DATA_DISCLOSURE,
                                     v1::STORED_DATA_PRODUCTION, v1::GENERAL_ASSISTANCE};
    const v1::Priority priorities[] = {v1::ROUTINE, v1::URGENT, v1::EMERGENCY};
    for (int i = 0; i < n; ++i) {
      const Party& from = kParties[pick(3)];
      const Party& to = kParties[(&from - kParties + 1 + pick(2)) % 3];
      v1::CreateRequestRequest create;
      *create.mutable_request() =
          comity::testing::FullRequest(instruments[pick(2)], types[pick(4)], priorities[pick(3)]);
      create.mutable_request()->set_requested_authority(to.authority);
      auto r = engine_->ApplyAndWait(MakeCommand(v1::CREATE, Who(from.submitter), create));
      ASSERT_TRUE(r.ok()) << r.status();
      const std::string name = r->name();
      clock_.Advance(absl::Minutes(pick(600)));
      if (pick(8) == 0) continue;  // stays a draft
      if (pick(12) == 0) {
        Do<v1::WithdrawRequestRequest>(from.submitter, v1::WITHDRAW, name);
        continue;
      }
      ASSERT_TRUE(Do<v1::SubmitRequestRequest>(from.submitter, v1::SUBMIT, name));
      if (pick(6) == 0) continue;
      ASSERT_TRUE(Do<v1::AcknowledgeRequestRequest>(to.responder, v1::ACKNOWLEDGE, name));
      if (create.request().type() == v1::PRESERVATION && pick(2) == 0) {
        v1::ConfirmPreservedRequest confirm;
        confirm.set_name(name);
        *confirm.mutable_expire_time() = ToProto(clock_.Now() + absl::Hours(24 * (61 + pick(60))));
        ASSERT_TRUE(Do(to.responder, v1::CONFIRM_PRESERVED, confirm));
        continue;
      }
      switch (pick(6)) {
        case 0: {  // consulted, then refused or postponed
          v1::ConsultRequestRequest consult;
          consult.set_name(name);
          consult.add_intended_grounds("ESSENTIAL_INTERESTS");
          consult.set_reasons("conditions?");
          if (!Do(to.responder, v1::CONSULT, consult)) break;
          if (pick(2) == 0) {
            v1::RefuseRequestRequest refuse;
            refuse.set_name(name);
            refuse.add_grounds("ESSENTIAL_INTERESTS");
            refuse.set_reasons("State security");
            Do(to.responder, v1::REFUSE, refuse);
          }
          break;
        }
        case 1:
          Do<v1::WithdrawRequestRequest>(from.submitter, v1::WITHDRAW, name);
          break;
        case 2:
          Do<v1::ConfirmPreservedRequest>(to.responder, v1::CONFIRM_PRESERVED, name);
          break;
        default: {
          if (!Do<v1::AcceptRequestRequest>(to.responder, v1::ACCEPT, name)) break;
          clock_.Advance(absl::Hours(pick(48)));
          v1::DeliverEvidenceRequest deliver;
          deliver.set_name(name);
          v1::DeliveredItem* item = deliver.mutable_delivery()->add_items();
          item->set_name("subscriber.csv");
          item->set_sha256(ToHex(Sha256(name)));
          item->set_category(v1::SUBSCRIBER);
          deliver.mutable_delivery()->set_final(pick(3) != 0);
          if (Do(to.responder, v1::DELIVER, deliver) && pick(2) == 0) {
            Do<v1::ConfirmReceiptRequest>(from.submitter, v1::CONFIRM_RECEIPT, name);
          }
        }
      }
      // Long waits early on (breaches, expiries), so that the later requests still run.
      if (i < n / 2 && pick(10) == 0) {
        clock_.Advance(absl::Hours(24 * (1 + pick(90))));
        ASSERT_TRUE(scheduler_->RunDue().ok());
      }
    }
    ASSERT_TRUE(scheduler_->RunDue().ok());
  }

  std::vector<v1::Request> Records() {
    std::vector<v1::Request> out;
    EXPECT_TRUE(store_
                    ->Scan(Column::kRequests, "", "",
                           [&](absl::string_view, absl::string_view v) {
                             out.emplace_back();
                             EXPECT_TRUE(out.back().ParseFromArray(v.data(), v.size()));
                             return true;
                           })
                    .ok());
    return out;
  }

  // What a listing must return, from the records alone.
  std::vector<std::string> Expected(const Caller& caller, const v1::ListRequestsRequest& q) {
    const bool all = auth::SeesAllRequests(caller);
    const bool by_due = !q.order_by().empty() || q.has_due_before();
    std::vector<std::pair<std::string, std::string>> keyed;  // sort key, name
    for (const v1::Request& r : Records()) {
      v1::Side side = v1::SIDE_UNSPECIFIED;
      if (caller.authority == r.requesting_authority()) {
        side = v1::REQUESTING;
      } else if (caller.authority == r.requested_authority() && r.has_submit_time()) {
        side = v1::RECEIVING;
      } else if (!(all && r.has_submit_time())) {
        continue;
      }
      if (by_due) {
        if (!r.has_next_due_time()) continue;
        if (all && side != v1::SIDE_UNSPECIFIED && !r.has_submit_time()) continue;
        if (q.has_due_before() && FromProto(r.next_due_time()) >= FromProto(q.due_before())) {
          continue;
        }
      }
      if (q.side() != v1::SIDE_UNSPECIFIED && q.side() != side) continue;
      if (q.state() != v1::STATE_UNSPECIFIED && q.state() != r.state()) continue;
      if (q.type() != v1::REQUEST_TYPE_UNSPECIFIED && q.type() != r.type()) continue;
      if (q.priority() != v1::PRIORITY_UNSPECIFIED && q.priority() != r.priority()) continue;
      if (!q.instrument().empty() && q.instrument() != r.instrument()) continue;
      if (!q.counterpart().empty()) {
        const std::string other = side == v1::REQUESTING  ? r.requested_authority()
                                  : side == v1::RECEIVING ? r.requesting_authority()
                                                          : "";
        if (side != v1::SIDE_UNSPECIFIED && other != q.counterpart()) continue;
        if (side == v1::SIDE_UNSPECIFIED && r.requested_authority() != q.counterpart() &&
            r.requesting_authority() != q.counterpart()) {
          continue;
        }
      }
      const std::string key =
          by_due ? absl::StrCat(absl::ToUnixMicros(FromProto(r.next_due_time())) + 1000000000000000,
                                "/", r.name())
                 : r.name();
      keyed.emplace_back(key, r.name());
    }
    std::sort(keyed.begin(), keyed.end());
    std::vector<std::string> out;
    for (auto& [k, name] : keyed) out.push_back(name);
    return out;
  }

  // Every page of the listing, in small pages.
  std::vector<std::string> Listed(const Caller& caller, v1::ListRequestsRequest q) {
    std::vector<std::string> out;
    q.set_page_size(7);
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = reader_->List(caller, q);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& r : page->requests()) out.push_back(r.name());
      if (page->next_page_token().empty()) break;
      q.set_page_token(page->next_page_token());
    }
    return out;
  }

  // The statistics as the reader kept them before counters: every visible submitted record,
  // the delivery time from its trail.
  v1::Statistics Recount(const Caller& caller, v1::Side side_filter,
                         const std::string& instrument) {
    v1::Statistics out;
    double hours = 0;
    for (const v1::Request& r : Records()) {
      if (!r.has_submit_time()) continue;
      absl::StatusOr<v1::Side> side = auth::SideOf(caller, r);
      if (!side.ok() && !auth::SeesAllRequests(caller)) continue;
      if (side_filter != v1::SIDE_UNSPECIFIED && (!side.ok() || *side != side_filter)) continue;
      if (!instrument.empty() && r.instrument() != instrument) continue;
      out.set_requests(out.requests() + 1);
      (*out.mutable_by_type())[v1::RequestType_Name(r.type())]++;
      if (r.priority() == v1::EMERGENCY) out.set_emergency(out.emergency() + 1);
      switch (r.state()) {
        case v1::REFUSED:
          out.set_refused(out.refused() + 1);
          for (const std::string& g : r.refusal().grounds()) (*out.mutable_refusal_grounds())[g]++;
          break;
        case v1::WITHDRAWN:
          out.set_withdrawn(out.withdrawn() + 1);
          break;
        case v1::PRESERVED:
          out.set_preserved(out.preserved() + 1);
          break;
        case v1::EXECUTED:
        case v1::CLOSED:
        case v1::EXPIRED:
          break;
        default:
          out.set_pending(out.pending() + 1);
      }
      if (std::none_of(r.deliveries().begin(), r.deliveries().end(),
                       [](const v1::Delivery& d) { return d.final(); })) {
        continue;
      }
      out.set_complied(out.complied() + 1);
      auto trail = reader_->Trail(Caller::System(), r.name());
      EXPECT_TRUE(trail.ok()) << trail.status();
      absl::Time submitted = absl::InfinitePast(), done = absl::InfinitePast();
      for (const v1::TrailEntry& e : trail->entries()) {
        if (e.entry().action() == v1::SUBMIT) submitted = FromProto(e.entry().time());
        if (e.entry().action() == v1::DELIVER && e.entry().state_after() == v1::EXECUTED) {
          done = FromProto(e.entry().time());
        }
      }
      hours += absl::ToDoubleHours(done - submitted);
    }
    if (out.complied() > 0) out.set_mean_hours_to_delivery(hours / out.complied());
    return out;
  }

  std::vector<Caller> Callers() {
    std::vector<Caller> out;
    for (const Party& p : kParties) {
      out.push_back(Who(p.submitter));
      out.push_back(Who(p.responder));
    }
    out.push_back(Who(comity::testing::kOdile));  // an auditor of FR-CA
    out.push_back(
        Caller{"spiffe://comity.dev/UN-OVERSIGHT/olga", "", {v1::OVERSIGHT_AUDITOR}, false, ""});
    return out;
  }

  std::vector<v1::ListRequestsRequest> Queries() {
    std::vector<v1::ListRequestsRequest> out;
    std::vector<v1::ListRequestsRequest> base(1);
    base.emplace_back().set_order_by("next_due_time");
    *base.emplace_back().mutable_due_before() = ToProto(clock_.Now() + absl::Hours(24 * 3));
    for (const v1::ListRequestsRequest& b : base) {
      out.push_back(b);
      for (v1::Side side : {v1::REQUESTING, v1::RECEIVING}) {
        out.push_back(b);
        out.back().set_side(side);
      }
      for (v1::State state : {v1::SUBMITTED, v1::RECEIVED, v1::PRESERVED, v1::IN_EXECUTION,
                              v1::EXECUTED, v1::REFUSED, v1::DRAFT, v1::CONSULTATION}) {
        out.push_back(b);
        out.back().set_state(state);
      }
      out.push_back(b);
      out.back().set_type(v1::PRESERVATION);
      out.push_back(b);
      out.back().set_priority(v1::URGENT);
      out.push_back(b);
      out.back().set_instrument("budapest");
      out.push_back(b);
      out.back().set_counterpart("authorities/DE-BFJ");
      // Combined.
      out.push_back(b);
      out.back().set_side(v1::RECEIVING);
      out.back().set_state(v1::RECEIVED);
      out.back().set_type(v1::STORED_DATA_PRODUCTION);
      out.push_back(b);
      out.back().set_counterpart("authorities/FR-CA");
      out.back().set_instrument("uncc");
      out.back().set_priority(v1::ROUTINE);
      out.push_back(b);
      out.back().set_side(v1::REQUESTING);
      out.back().set_state(v1::IN_EXECUTION);
      out.back().set_counterpart("authorities/VN-247");
      out.back().set_instrument("uncc");
    }
    return out;
  }

  // Every query by every caller, and every statistics filter, against the recount.
  void CheckAgainstRecount() {
    std::map<std::string, int> found;  // per query: requests found by every caller
    for (const Caller& caller : Callers()) {
      for (const v1::ListRequestsRequest& q : Queries()) {
        const std::vector<std::string> expected = Expected(caller, q);
        found[q.ShortDebugString()] += expected.size();
        EXPECT_EQ(Listed(caller, q), expected)
            << caller.principal << " listing " << q.ShortDebugString();
      }
      for (v1::Side side : {v1::SIDE_UNSPECIFIED, v1::REQUESTING, v1::RECEIVING}) {
        for (const char* instrument : {"", "uncc", "budapest"}) {
          v1::GetStatisticsRequest sq;
          sq.set_side(side);
          sq.set_instrument(instrument);
          auto stats = reader_->Statistics(caller, sq);
          ASSERT_TRUE(stats.ok()) << stats.status();
          v1::Statistics want = Recount(caller, side, instrument);
          EXPECT_NEAR(stats->mean_hours_to_delivery(), want.mean_hours_to_delivery(), 1e-9);
          stats->clear_mean_hours_to_delivery();
          want.clear_mean_hours_to_delivery();
          EXPECT_EQ(stats->ShortDebugString(), want.ShortDebugString())
              << caller.principal << " statistics " << sq.ShortDebugString();
        }
      }
    }
    // The workload reaches most queries (some cannot match: nothing EXECUTED is due).
    const int reached =
        std::count_if(found.begin(), found.end(), [](const auto& f) { return f.second > 0; });
    EXPECT_GE(reached, 30) << "of " << found.size();
  }
};

TEST_F(IndexTest, ListingsAndStatisticsMatchARecountFromTheRecords) {
  RandomWorkload(300, 7);
  CheckAgainstRecount();
  // The same after a restart: nothing lived only in memory.
  Restart();
  CheckAgainstRecount();
}

TEST_F(IndexTest, ASchemaOneStoreGetsItsIndexesAndCountersAtStart) {
  RandomWorkload(150, 11);
  // Make the store as schema 1 left it: no listing keys, no counters.
  storage::WriteSet strip;
  for (const char* prefix : {"list/", "listdue/"}) {
    ASSERT_TRUE(store_
                    ->Scan(Column::kIndex, prefix, "",
                           [&](absl::string_view k, absl::string_view) {
                             strip.Delete(Column::kIndex, std::string(k));
                             return true;
                           })
                    .ok());
  }
  ASSERT_TRUE(store_
                  ->Scan(Column::kCounters, "", "",
                         [&](absl::string_view k, absl::string_view) {
                           strip.Delete(Column::kCounters, std::string(k));
                           return true;
                         })
                  .ok());
  ASSERT_GT(strip.writes().size(), 1000u);
  strip.Put(Column::kMeta, storage::kSchemaVersionKey, storage::kSchemaVersion1);
  ASSERT_TRUE(store_->Commit(strip).ok());
  Restart();
  EXPECT_EQ(*store_->Get(Column::kMeta, storage::kSchemaVersionKey), storage::kSchemaVersion);
  CheckAgainstRecount();
  // And the engine goes on from there.
  RandomWorkload(30, 12);
  CheckAgainstRecount();
}

// A version 2 store knew nothing of fetching: a mirrored request's delivered package gets its
// fetch key at start, and one already fetched does not.
TEST_F(IndexTest, ASchemaTwoStoreGetsItsFetchIndexAtStart) {
  v1::Request mirrored;
  mirrored.set_name("requests/01M99AAAAAAAAAAAAAAAAAAAAA");
  mirrored.set_system_of_record("de");
  for (int n : {1, 2}) {
    v1::EvidencePackage* p = mirrored.add_packages();
    p->set_name(MakePackageName("01M99AAAAAAAAAAAAAAAAAAAAA", n));
    p->set_state(v1::DELIVERED);
  }
  mirrored.add_fetched(MakePackageName("01M99AAAAAAAAAAAAAAAAAAAAA", 2));
  storage::WriteSet old;
  old.Put(Column::kRequests, "01M99AAAAAAAAAAAAAAAAAAAAA", mirrored.SerializeAsString());
  old.Put(Column::kMeta, storage::kSchemaVersionKey, storage::kSchemaVersion2);
  ASSERT_TRUE(store_->Commit(old).ok());
  Restart();
  EXPECT_EQ(*store_->Get(Column::kMeta, storage::kSchemaVersionKey), storage::kSchemaVersion);
  std::vector<std::string> fetch;
  ASSERT_TRUE(store_
                  ->Scan(Column::kIndex, storage::kFetchPrefix, "",
                         [&](absl::string_view k, absl::string_view) {
                           fetch.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(fetch, std::vector<std::string>{storage::FetchKey("01M99AAAAAAAAAAAAAAAAAAAAA", 1)});
}

}  // namespace
}  // namespace comity::workflow
