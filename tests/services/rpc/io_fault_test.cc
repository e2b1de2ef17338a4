// I/O faults under a real RocksDB: writes and syncs fail at random points through a RocksDB
// FileSystem wrapper (storage/faults.h). The node stops taking writes (UNAVAILABLE), never
// acknowledges a change that is not durable, answers no read it could not audit, and restarts
// clean with every acknowledged change and every chain intact.

#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/audit/chain.h"
#include "services/server/server.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::kAlice;
using comity::testing::kOdile;
using grpc::StatusCode;
using storage::FaultInjector;

class Node {
 public:
  Node(const std::string& dir, std::shared_ptr<FaultInjector> faults) {
    server::Server::Options options;
    options.faults = std::move(faults);
    options.security_log = &log_;
    auto s = server::Server::Start(comity::testing::TestServerConfig(dir), Clock::Real(), options);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return;
    server_ = *std::move(s);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    requests_ = v1::RequestService::NewStub(channel);
    audit_ = v1::AuditService::NewStub(channel);
  }
  bool up() const { return server_ != nullptr; }

  static std::unique_ptr<grpc::ClientContext> As(const char* principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    return ctx;
  }

  grpc::Status Create(v1::Request* out) {
    v1::CreateRequestRequest create;
    *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
    return requests_->CreateRequest(As(kAlice).get(), create, out);
  }
  grpc::Status Submit(const std::string& name, v1::Request* out) {
    v1::SubmitRequestRequest submit;
    submit.set_name(name);
    return requests_->SubmitRequest(As(kAlice).get(), submit, out);
  }
  grpc::Status Get(const std::string& name, v1::Request* out) {
    v1::GetRequestRequest get;
    get.set_name(name);
    return requests_->GetRequest(As(kAlice).get(), get, out);
  }
  grpc::Status Trail(const std::string& name, v1::Trail* out) {
    v1::GetTrailRequest req;
    req.set_request(name);
    return audit_->GetTrail(As(kOdile).get(), req, out);
  }
  std::string log() const { return log_.str(); }

 private:
  std::ostringstream log_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

void FailStopAndRecover(FaultInjector::Op op, uint32_t seed) {
  comity::testing::TempDir dir;
  std::mt19937 random(seed);
  const int64_t after = std::uniform_int_distribution<int64_t>(0, 60)(random);
  std::map<std::string, int64_t> acknowledged;  // name -> version the node confirmed
  auto faults = std::make_shared<FaultInjector>();
  {
    Node node(dir.path(), faults);
    ASSERT_TRUE(node.up());
    faults->FailAfter(op, after);
    grpc::Status failed;
    for (int i = 0; i < 500 && failed.ok(); ++i) {
      v1::Request r;
      failed = node.Create(&r);
      if (!failed.ok()) break;
      acknowledged[r.name()] = r.version();
      failed = node.Submit(r.name(), &r);
      if (failed.ok()) acknowledged[r.name()] = r.version();
    }
    ASSERT_FALSE(failed.ok()) << "no fault was hit after " << after << " operations";
    EXPECT_EQ(failed.error_code(), StatusCode::UNAVAILABLE) << failed.error_message();
    EXPECT_GE(faults->failures(), 1);
    // The disk is back, but the node takes no more changes, and answers no read it cannot audit.
    faults->Disarm();
    v1::Request r;
    EXPECT_EQ(node.Create(&r).error_code(), StatusCode::UNAVAILABLE);
    if (!acknowledged.empty()) {
      EXPECT_EQ(node.Get(acknowledged.begin()->first, &r).error_code(), StatusCode::UNAVAILABLE);
    }
    EXPECT_NE(node.log().find("event=storage_failure"), std::string::npos) << node.log();
  }
  Node again(dir.path(), nullptr);
  ASSERT_TRUE(again.up());
  for (const auto& [name, version] : acknowledged) {
    v1::Request r;
    ASSERT_TRUE(again.Get(name, &r).ok()) << name;
    EXPECT_GE(r.version(), version) << name;  // a change may be durable though unanswered
    v1::Trail trail;
    ASSERT_TRUE(again.Trail(name, &trail).ok()) << name;
    std::vector<std::string> bytes;
    for (const auto& e : trail.entries()) bytes.push_back(e.data());
    EXPECT_TRUE(audit::VerifyChain(name, bytes, trail.head(), trail.size()).ok()) << name;
  }
  v1::Request fresh;
  EXPECT_TRUE(again.Create(&fresh).ok());
}

TEST(IoFaultTest, AFailedWriteStopsTheNodeAndLosesNothingAcknowledged) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    FailStopAndRecover(FaultInjector::Op::kWrite, seed);
  }
}

TEST(IoFaultTest, AFailedSyncStopsTheNodeAndLosesNothingAcknowledged) {
  for (uint32_t seed : {4u, 5u, 6u}) {
    SCOPED_TRACE(seed);
    FailStopAndRecover(FaultInjector::Op::kSync, seed);
  }
}

// A read that fails under the store is UNAVAILABLE, never a wrong or empty answer, and leaves
// the data as it was.
TEST(IoFaultTest, AFailedReadIsUnavailableAndChangesNothing) {
  comity::testing::TempDir dir;
  std::vector<std::string> names;
  {
    Node node(dir.path(), nullptr);
    ASSERT_TRUE(node.up());
    for (int i = 0; i < 5; ++i) {
      v1::Request r;
      ASSERT_TRUE(node.Create(&r).ok());
      names.push_back(r.name());
    }
  }
  auto faults = std::make_shared<FaultInjector>();
  {
    Node node(dir.path(), faults);  // the records are in table files now, not in memory
    ASSERT_TRUE(node.up());
    faults->FailAfter(FaultInjector::Op::kRead, 0);
    v1::Request r;
    const grpc::Status s = node.Get(names[2], &r);
    EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_GE(faults->failures(), 1);
  }
  Node again(dir.path(), nullptr);
  ASSERT_TRUE(again.up());
  for (const std::string& name : names) {
    v1::Request r;
    EXPECT_TRUE(again.Get(name, &r).ok()) << name;
  }
}

}  // namespace
}  // namespace comity
