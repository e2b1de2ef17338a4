// RequestService.WatchEvents and the scheduler behind a real gRPC server on a loopback port,
// backed by a real RocksDB in a temporary directory: visibility, resumption by cursor with
// nothing lost or repeated, lagging streams, and timers that fell due while the node was down.

#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/server/server.h"
#include "services/workflow/timeutil.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::FullRequest;
using comity::testing::kAlice;
using comity::testing::kBinh;
using comity::testing::kGreta;
using comity::testing::TempDir;
using workflow::FromProto;
using workflow::ToProto;

const absl::Time kStart =
    absl::FromCivil(absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone());

class WatchTest : public ::testing::Test {
 protected:
  WatchTest() : clock_(kStart) {}

  void Start(int buffer = 0, bool metrics = false) {
    config::v1::ServerConfig config = comity::testing::TestServerConfig(dir_.path());
    if (metrics) config.set_metrics_address("127.0.0.1:0");
    config.set_timer_period_ms(-1);  // the test fires timers itself
    if (buffer > 0) config.set_watch_buffer_events(buffer);
    auto server = server::Server::Start(config, &clock_, {"", &log_, nullptr, nullptr});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    requests_ = v1::RequestService::NewStub(channel_);
    audit_ = v1::AuditService::NewStub(channel_);
  }

  void Stop() {
    requests_.reset();
    audit_.reset();
    channel_.reset();
    server_.reset();
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  template <typename Req>
  v1::Request Must(const std::string& principal,
                   grpc::Status (v1::RequestService::Stub::*method)(grpc::ClientContext*,
                                                                    const Req&, v1::Request*),
                   Req req, const std::string& name = "") {
    if constexpr (!std::is_same_v<Req, v1::CreateRequestRequest>) req.set_name(name);
    v1::Request out;
    grpc::Status s = ((*requests_).*method)(As(principal).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return out;
  }

  // A request from FR-CA to DE-BFJ, submitted.
  std::string Submitted(const std::string& instrument, v1::RequestType type) {
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest(instrument, type);
    const std::string name = Must(kAlice, &v1::RequestService::Stub::CreateRequest, create).name();
    Must(kAlice, &v1::RequestService::Stub::SubmitRequest, v1::SubmitRequestRequest(), name);
    return name;
  }

  v1::Request Note(const std::string& principal, const std::string& name, const std::string& text) {
    v1::AddNoteRequest note;
    note.set_kind(v1::COMMENT);
    note.set_text(text);
    return Must(principal, &v1::RequestService::Stub::AddNote, note, name);
  }

  // One open WatchEvents stream.
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader;
    std::vector<v1::Event> events;

    // Reads until `n` events have arrived in all; false if the stream ended first.
    bool Take(size_t n) {
      v1::WatchEventsResponse msg;
      while (events.size() < n) {
        if (!reader->Read(&msg)) return false;
        EXPECT_GE(msg.head_cursor(), msg.events(msg.events_size() - 1).cursor());
        for (const v1::Event& e : msg.events()) events.push_back(e);
      }
      return true;
    }
    uint64_t last() const { return events.empty() ? 0 : events.back().cursor(); }
  };

  std::unique_ptr<Stream> Watch(const std::string& principal, uint64_t after) {
    auto s = std::make_unique<Stream>();
    s->ctx = As(principal);
    v1::WatchEventsRequest req;
    req.set_after_cursor(after);
    s->reader = requests_->WatchEvents(s->ctx.get(), req);
    return s;
  }

  static std::vector<uint64_t> Cursors(const std::vector<v1::Event>& events) {
    std::vector<uint64_t> out;
    for (const v1::Event& e : events) out.push_back(e.cursor());
    return out;
  }

  TempDir dir_;
  std::ostringstream log_;
  FakeClock clock_;
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

TEST_F(WatchTest, EachSideSeesItsOwnAndResumesWithoutLossOrRepeat) {
  Start();
  auto alice = Watch(kAlice, 0);
  auto greta = Watch(kGreta, 0);
  auto binh = Watch(kBinh, 0);

  // A draft is the requesting side's alone; the receiving side sees it from submission on.
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("eu-eevidence", v1::STORED_DATA_PRODUCTION);
  const std::string name = Must(kAlice, &v1::RequestService::Stub::CreateRequest, create).name();
  Must(kAlice, &v1::RequestService::Stub::SubmitRequest, v1::SubmitRequestRequest(), name);
  Must(kGreta, &v1::RequestService::Stub::AcknowledgeRequest, v1::AcknowledgeRequestRequest(),
       name);
  ASSERT_TRUE(alice->Take(3));
  ASSERT_TRUE(greta->Take(2));
  EXPECT_EQ(alice->events[0].entry().action(), v1::CREATE);
  EXPECT_EQ(alice->events[1].entry().action(), v1::SUBMIT);
  EXPECT_EQ(greta->events[0].entry().action(), v1::SUBMIT);
  EXPECT_EQ(greta->events[0].request(), name);
  EXPECT_EQ(greta->events[0].requesting_authority(), "authorities/FR-CA");
  EXPECT_EQ(greta->events[1].entry().action(), v1::ACKNOWLEDGE);

  // Greta goes away; changes, reads and a clock warning happen meanwhile.
  const uint64_t greta_left_at = greta->last();
  greta->ctx->TryCancel();
  greta.reset();
  v1::GetRequestRequest get;
  get.set_name(name);
  v1::Request read;
  ASSERT_TRUE(requests_->GetRequest(As(kGreta).get(), get, &read).ok());  // not an event
  Must(kGreta, &v1::RequestService::Stub::AcceptRequest, v1::AcceptRequestRequest(), name);
  Note(kAlice, name, "Any news?");
  clock_.Set(kStart + absl::Hours(24 * 8));
  ASSERT_TRUE(server_->RunDueTimers().ok());  // production, 48 hours ahead
  Note(kGreta, name, "Soon.");
  ASSERT_TRUE(alice->Take(7));

  // She comes back with her last cursor: exactly what she missed, in order.
  auto again = Watch(kGreta, greta_left_at);
  ASSERT_TRUE(again->Take(4));
  std::vector<v1::Action> missed;
  for (const v1::Event& e : again->events) missed.push_back(e.entry().action());
  EXPECT_THAT(missed,
              ::testing::ElementsAre(v1::ACCEPT, v1::ADD_NOTE, v1::CLOCK_WARNING, v1::ADD_NOTE));
  EXPECT_EQ(again->events[2].entry().clock(), "production");
  std::vector<uint64_t> alice_after;
  for (const v1::Event& e : alice->events) {
    if (e.cursor() > greta_left_at) alice_after.push_back(e.cursor());
  }
  EXPECT_EQ(Cursors(again->events), alice_after);

  // Binh (VN-247) saw none of it: the first event on his stream is his own draft.
  v1::CreateRequestRequest own;
  *own.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  own.mutable_request()->set_requested_authority("authorities/FR-CA");
  const std::string his = Must(kBinh, &v1::RequestService::Stub::CreateRequest, own).name();
  ASSERT_TRUE(binh->Take(1));
  EXPECT_EQ(binh->events[0].request(), his);
  EXPECT_GT(binh->events[0].cursor(), alice->last());
}

TEST_F(WatchTest, StartAtHeadSkipsHistory) {
  Start();
  const std::string old = Submitted("uncc", v1::PRESERVATION);
  auto stream = std::make_unique<Stream>();
  stream->ctx = As(kAlice);
  v1::WatchEventsRequest req;
  req.set_start_at_head(true);
  stream->reader = requests_->WatchEvents(stream->ctx.get(), req);
  const std::string fresh = Submitted("uncc", v1::PRESERVATION);
  ASSERT_TRUE(stream->Take(2));
  EXPECT_EQ(stream->events[0].request(), fresh);
  EXPECT_EQ(stream->events[0].entry().action(), v1::CREATE);
  EXPECT_NE(old, fresh);
}

TEST_F(WatchTest, RefusesCallersWithoutARole) {
  Start();
  auto stream = Watch("spiffe://comity.dev/FR-CA/nobody", 0);
  v1::WatchEventsResponse msg;
  EXPECT_FALSE(stream->reader->Read(&msg));
  const grpc::Status s = stream->reader->Finish();
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
              s.error_code() == grpc::StatusCode::UNAUTHENTICATED)
      << s.error_code();
}

TEST_F(WatchTest, ASlowStreamIsToldToResumeAndMissesNothing) {
  Start(/*buffer=*/16);
  const std::string name = Submitted("uncc", v1::STORED_DATA_PRODUCTION);
  auto slow = Watch(kAlice, 0);
  // The stream is not read while many changes are made: the node does not wait for it.
  const std::string text(8000, 'x');
  constexpr int kNotes = 600;
  for (int i = 0; i < kNotes; ++i) Note(kAlice, name, text);
  const size_t total = kNotes + 2;
  slow->Take(total);  // until the node ends the stream
  grpc::Status ended = grpc::Status::OK;
  if (slow->events.size() < total) ended = slow->reader->Finish();
  ASSERT_EQ(ended.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << ended.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(ended.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "WATCH_LAGGING");
  EXPECT_EQ(info.metadata().at("resume_after"), absl::StrCat(slow->last()));

  auto resumed = Watch(kAlice, slow->last());
  ASSERT_TRUE(resumed->Take(total - slow->events.size()));
  std::vector<v1::Event> all = slow->events;
  all.insert(all.end(), resumed->events.begin(), resumed->events.end());
  std::set<uint64_t> distinct;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_TRUE(distinct.insert(all[i].cursor()).second) << "repeated " << all[i].cursor();
    if (i > 0) {
      EXPECT_GT(all[i].cursor(), all[i - 1].cursor());
    }
  }
  EXPECT_EQ(all.size(), total);
  EXPECT_EQ(all.back().entry().action(), v1::ADD_NOTE);
}

TEST_F(WatchTest, CatchingUpSkipsLongStretchesOfOthersEvents) {
  Start(/*buffer=*/16);
  const std::string name = Submitted("uncc", v1::STORED_DATA_PRODUCTION);
  for (int i = 0; i < 1200; ++i) Note(kAlice, name, "status?");
  v1::CreateRequestRequest own;
  *own.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  own.mutable_request()->set_requested_authority("authorities/FR-CA");
  const std::string his = Must(kBinh, &v1::RequestService::Stub::CreateRequest, own).name();
  // Binh may see one event among more than a thousand, all older than the ring.
  auto binh = Watch(kBinh, 0);
  ASSERT_TRUE(binh->Take(1));
  EXPECT_EQ(binh->events[0].request(), his);
  // And he goes on live from there.
  Note(kBinh, his, "draft note");
  ASSERT_TRUE(binh->Take(2));
  EXPECT_EQ(binh->events[1].entry().action(), v1::ADD_NOTE);
}

TEST_F(WatchTest, TimedEntriesAndOpenStreamsAreCounted) {
  Start(/*buffer=*/0, /*metrics=*/true);
  const std::string name = Submitted("eu-eio", v1::SUBSCRIBER_INFORMATION);
  auto stream = Watch(kGreta, 0);
  ASSERT_TRUE(stream->Take(1));
  clock_.Set(kStart + absl::Hours(24 * 6));
  ASSERT_TRUE(server_->RunDueTimers().ok());  // the acknowledgement's warning
  clock_.Set(kStart + absl::Hours(24 * 7));
  ASSERT_TRUE(server_->RunDueTimers().ok());  // and its breach
  ASSERT_TRUE(stream->Take(3));
  EXPECT_EQ(stream->events[2].entry().action(), v1::CLOCK_BREACH);
  const std::string metrics = comity::testing::ScrapeMetrics(server_->metrics_port());
  EXPECT_THAT(metrics,
              ::testing::HasSubstr("comity_timed_entries_total{action=\"CLOCK_WARNING\"} 1"));
  EXPECT_THAT(metrics,
              ::testing::HasSubstr("comity_timed_entries_total{action=\"CLOCK_BREACH\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("comity_watch_streams 1"));
}

TEST_F(WatchTest, PreservationDueWhileTheNodeWasDownExpiresAtStartUp) {
  Start();
  const std::string name = Submitted("budapest", v1::PRESERVATION);
  Must(kGreta, &v1::RequestService::Stub::AcknowledgeRequest, v1::AcknowledgeRequestRequest(),
       name);
  v1::ConfirmPreservedRequest confirm;
  *confirm.mutable_expire_time() = ToProto(kStart + absl::Hours(24 * 60));
  v1::Request preserved = Must(kGreta, &v1::RequestService::Stub::ConfirmPreserved, confirm, name);
  ASSERT_EQ(preserved.clocks_size(), 1);
  EXPECT_EQ(FromProto(preserved.next_due_time()), kStart + absl::Hours(24 * 60));
  Stop();

  clock_.Set(kStart + absl::Hours(24 * 62));
  Start();  // no RunDueTimers: the start-up itself fires what fell due
  v1::GetRequestRequest get;
  get.set_name(name);
  v1::Request after;
  ASSERT_TRUE(requests_->GetRequest(As(kAlice).get(), get, &after).ok());
  EXPECT_EQ(after.state(), v1::EXPIRED);
  v1::GetTrailRequest trail_req;
  trail_req.set_request(name);
  v1::Trail trail;
  ASSERT_TRUE(audit_->GetTrail(As(kAlice).get(), trail_req, &trail).ok());
  const v1::AuditEntry* expiry = nullptr;
  for (const v1::TrailEntry& e : trail.entries()) {
    if (e.entry().action() == v1::EXPIRE_PRESERVATION) expiry = &e.entry();
  }
  ASSERT_NE(expiry, nullptr);
  EXPECT_EQ(expiry->actor().side(), v1::SYSTEM);
  EXPECT_EQ(expiry->clock(), "preservation");
  EXPECT_EQ(expiry->legal_basis(), "ETS 185 art. 29(7)");
  EXPECT_EQ(FromProto(expiry->time()), kStart + absl::Hours(24 * 62));
  EXPECT_EQ(expiry->state_after(), v1::EXPIRED);
}

}  // namespace
}  // namespace comity
