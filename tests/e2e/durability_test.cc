// Durability of the real comityd binary: every change a client heard OK for survives kill -9,
// and every audit chain still verifies. Also: SIGTERM drains and exits 0.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/audit/chain.h"
#include "tests/testing/daemon.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::Daemon;
using comity::testing::FullRequest;
using comity::testing::SourcePath;
using comity::testing::TempDir;

std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("x-comity-principal", principal);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

TEST(DurabilityTest, EveryAcknowledgedChangeSurvivesKill9) {
  TempDir dir;
  std::map<std::string, uint64_t> acknowledged;  // request -> audit size the client was told
  std::mutex mu;
  {
    Daemon daemon(dir.path());
    ASSERT_GT(daemon.port(), 0);
    auto channel = Connect(daemon.port());
    std::atomic<bool> stop{false};
    std::atomic<int> writes{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&] {
        auto stub = v1::RequestService::NewStub(channel);
        while (!stop.load()) {
          v1::CreateRequestRequest create;
          *create.mutable_request() = FullRequest("uncc", v1::GENERAL_ASSISTANCE);
          v1::Request r;
          if (!stub->CreateRequest(As(comity::testing::kAlice).get(), create, &r).ok()) return;
          {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged[r.name()] = r.audit_size();
          }
          ++writes;
          for (int i = 0; i < 3 && !stop.load(); ++i) {
            v1::AddNoteRequest note;
            note.set_name(r.name());
            note.set_kind(v1::COMMENT);
            note.set_text(absl::StrCat("note ", i));
            v1::Request after;
            if (!stub->AddNote(As(comity::testing::kAlice).get(), note, &after).ok()) return;
            std::lock_guard<std::mutex> lock(mu);
            acknowledged[r.name()] = after.audit_size();
            ++writes;
          }
        }
      });
    }
    // Let the load run, then kill the node in the middle of it.
    while (writes.load() < 600) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(daemon.Kill(SIGKILL), -SIGKILL);
    stop = true;
    for (auto& t : clients) t.join();
  }
  ASSERT_GE(acknowledged.size(), 100u);

  Daemon restarted(dir.path());
  ASSERT_GT(restarted.port(), 0);
  auto channel = Connect(restarted.port());
  auto requests = v1::RequestService::NewStub(channel);
  auto audit = v1::AuditService::NewStub(channel);
  for (const auto& [name, size] : acknowledged) {
    v1::GetTrailRequest req;
    req.set_request(name);
    v1::Trail trail;
    grpc::Status s = audit->GetTrail(As(comity::testing::kAlice).get(), req, &trail);
    ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
    EXPECT_GE(trail.size(), size) << name << " lost an acknowledged change";
    std::vector<std::string> bytes;
    for (const auto& e : trail.entries()) bytes.push_back(e.data());
    absl::Status chain = audit::VerifyChain(name, bytes, trail.head(), trail.size());
    EXPECT_TRUE(chain.ok()) << name << ": " << chain;
  }
  // The node keeps working after recovery.
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  v1::Request r;
  EXPECT_TRUE(requests->CreateRequest(As(comity::testing::kAlice).get(), create, &r).ok());
}

// SIGTERM in the middle of a load: the node lets the calls in flight finish, refuses new ones
// (UNAVAILABLE: retry), exits 0 at once, and every change it acknowledged is there after it.
TEST(DurabilityTest, SigtermUnderLoadAnswersEveryCallAndLosesNothing) {
  TempDir dir;
  std::map<std::string, uint64_t> acknowledged;
  std::map<grpc::StatusCode, int> failures;
  std::mutex mu;
  {
    Daemon daemon(dir.path());
    ASSERT_GT(daemon.port(), 0);
    auto channel = Connect(daemon.port());
    std::atomic<int> writes{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&] {
        auto stub = v1::RequestService::NewStub(channel);
        v1::CreateRequestRequest create;
        *create.mutable_request() = FullRequest("uncc", v1::GENERAL_ASSISTANCE);
        v1::Request r;
        if (!stub->CreateRequest(As(comity::testing::kAlice).get(), create, &r).ok()) return;
        for (int i = 0;; ++i) {
          v1::AddNoteRequest note;
          note.set_name(r.name());
          note.set_kind(v1::COMMENT);
          note.set_text(absl::StrCat("note ", i));
          v1::Request after;
          grpc::Status s = stub->AddNote(As(comity::testing::kAlice).get(), note, &after);
          std::lock_guard<std::mutex> lock(mu);
          if (!s.ok()) {
            ++failures[s.error_code()];
            return;
          }
          acknowledged[r.name()] = after.audit_size();
          ++writes;
        }
      });
    }
    while (writes.load() < 300) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(daemon.Kill(SIGTERM), 0);
    for (auto& t : clients) t.join();
  }
  for (const auto& [code, n] : failures) {
    EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED)
        << n << " call(s) ended with code " << code;
  }
  Daemon again(dir.path());
  ASSERT_GT(again.port(), 0);
  auto audit = v1::AuditService::NewStub(Connect(again.port()));
  for (const auto& [name, size] : acknowledged) {
    v1::GetTrailRequest req;
    req.set_request(name);
    v1::Trail trail;
    ASSERT_TRUE(audit->GetTrail(As(comity::testing::kAlice).get(), req, &trail).ok());
    EXPECT_GE(trail.size(), size) << name << " lost an acknowledged change";
  }
}

TEST(DurabilityTest, SigtermDrainsAndExitsCleanly) {
  TempDir dir;
  std::string name;
  {
    Daemon daemon(dir.path());
    ASSERT_GT(daemon.port(), 0);
    auto stub = v1::RequestService::NewStub(Connect(daemon.port()));
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
    v1::Request r;
    ASSERT_TRUE(stub->CreateRequest(As(comity::testing::kAlice).get(), create, &r).ok());
    name = r.name();
    EXPECT_EQ(daemon.Kill(SIGTERM), 0);
  }
  Daemon again(dir.path());
  ASSERT_GT(again.port(), 0) << "the store was not closed cleanly";
  auto stub = v1::RequestService::NewStub(Connect(again.port()));
  v1::GetRequestRequest get;
  get.set_name(name);
  v1::Request r;
  EXPECT_TRUE(stub->GetRequest(As(comity::testing::kAlice).get(), get, &r).ok());
  EXPECT_EQ(r.state(), v1::DRAFT);
}

}  // namespace
}  // namespace comity
