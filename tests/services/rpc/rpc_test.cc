// RequestService, DirectoryService and AuditService on a real gRPC server on a loopback port,
// backed by a real RocksDB in a temporary directory.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/audit/bundle.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/audit/note.h"
#include "services/server/server.h"
#include "services/workflow/timeutil.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::FullRequest;
using comity::testing::SourcePath;
using comity::testing::TempDir;
using ::testing::ElementsAreArray;

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = comity::testing::TestServerConfig(dir_.path());
    config_.set_max_message_bytes(1 << 20);
    auto server = server::Server::Start(config_, Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    requests_ = v1::RequestService::NewStub(channel_);
    audit_ = v1::AuditService::NewStub(channel_);
    directory_ = v1::DirectoryService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!principal.empty()) ctx->AddMetadata("x-comity-principal", principal);
    return ctx;
  }

  // Calls `method` as `principal`; returns the status and fills `out`.
  template <typename Req, typename Resp, typename Method>
  grpc::Status Call(const std::string& principal, Method method, const Req& req, Resp* out) {
    auto ctx = As(principal);
    return ((*requests_).*method)(ctx.get(), req, out);
  }

  template <typename Req>
  v1::Request Must(const std::string& principal,
                   grpc::Status (v1::RequestService::Stub::*method)(grpc::ClientContext*,
                                                                    const Req&, v1::Request*),
                   const Req& req, v1::State want) {
    v1::Request out;
    grpc::Status s = Call(principal, method, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(out.state(), want) << v1::State_Name(out.state());
    return out;
  }

  template <typename Req>
  static Req Named(const std::string& name) {
    Req r;
    r.set_name(name);
    return r;
  }

  std::vector<v1::Action> TrailActions(const std::string& name) {
    v1::GetTrailRequest req;
    req.set_request(name);
    v1::Trail trail;
    auto ctx = As(comity::testing::kOdile);
    grpc::Status s = audit_->GetTrail(ctx.get(), req, &trail);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> bytes;
    std::vector<v1::Action> actions;
    for (const auto& e : trail.entries()) {
      bytes.push_back(e.data());
      actions.push_back(e.entry().action());
    }
    EXPECT_TRUE(audit::VerifyChain(name, bytes, trail.head(), trail.size()).ok());
    return actions;
  }

  TempDir dir_;
  config::v1::ServerConfig config_;
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
};

using Stub = v1::RequestService::Stub;
constexpr const char* kA = comity::testing::kAlice;
constexpr const char* kG = comity::testing::kGreta;

// One full scenario per request type: draft, submit, acknowledge, then preserve and release, or
// accept, deliver in two parts and confirm receipt.
TEST_F(RpcTest, FullScenarioForEveryRequestType) {
  for (int t = v1::RequestType_MIN + 1; t <= v1::RequestType_MAX; ++t) {
    const auto type = static_cast<v1::RequestType>(t);
    SCOPED_TRACE(v1::RequestType_Name(type));
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest("uncc", type);
    const v1::Request draft = Must(kA, &Stub::CreateRequest, create, v1::DRAFT);
    const std::string name = draft.name();
    Must(kA, &Stub::SubmitRequest, Named<v1::SubmitRequestRequest>(name), v1::SUBMITTED);
    Must(kG, &Stub::AcknowledgeRequest, Named<v1::AcknowledgeRequestRequest>(name), v1::RECEIVED);
    if (type == v1::PRESERVATION) {
      auto confirm = Named<v1::ConfirmPreservedRequest>(name);
      *confirm.mutable_expire_time() = workflow::ToProto(absl::Now() + absl::Hours(24 * 90));
      Must(kG, &Stub::ConfirmPreserved, confirm, v1::PRESERVED);
      auto release = Named<v1::ReleasePreservationRequest>(name);
      release.set_reason("No longer needed");
      Must(kA, &Stub::ReleasePreservation, release, v1::CLOSED);
      EXPECT_THAT(TrailActions(name),
                  ElementsAreArray({v1::CREATE, v1::SUBMIT, v1::ACKNOWLEDGE, v1::CONFIRM_PRESERVED,
                                    v1::RELEASE_PRESERVATION}));
      continue;
    }
    Must(kG, &Stub::AcceptRequest, Named<v1::AcceptRequestRequest>(name), v1::IN_EXECUTION);
    auto deliver = Named<v1::DeliverEvidenceRequest>(name);
    auto* item = deliver.mutable_delivery()->add_items();
    item->set_name("part-1.bin");
    item->set_sha256(ToHex(Sha256("part 1")));
    item->set_category(v1::TRAFFIC);
    Must(kG, &Stub::DeliverEvidence, deliver, v1::IN_EXECUTION);
    deliver.mutable_delivery()->set_final(true);
    item->set_sha256(ToHex(Sha256("part 2")));
    Must(kG, &Stub::DeliverEvidence, deliver, v1::EXECUTED);
    Must(kA, &Stub::ConfirmReceipt, Named<v1::ConfirmReceiptRequest>(name), v1::CLOSED);
    EXPECT_THAT(TrailActions(name),
                ElementsAreArray({v1::CREATE, v1::SUBMIT, v1::ACKNOWLEDGE, v1::ACCEPT, v1::DELIVER,
                                  v1::DELIVER, v1::CONFIRM_RECEIPT}));
  }
}

TEST_F(RpcTest, WhoIsCallingDecidesWhatTheySee) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::GENERAL_ASSISTANCE);
  v1::Request r = Must(kA, &Stub::CreateRequest, create, v1::DRAFT);
  v1::Request out;
  // No identity at all.
  EXPECT_EQ(Call("", &Stub::GetRequest, Named<v1::GetRequestRequest>(r.name()), &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A principal the directory does not know.
  EXPECT_EQ(Call("spiffe://comity.dev/FR-CA/mallory", &Stub::GetRequest,
                 Named<v1::GetRequestRequest>(r.name()), &out)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Another authority: as if it did not exist.
  grpc::Status unrelated =
      Call(comity::testing::kBinh, &Stub::GetRequest, Named<v1::GetRequestRequest>(r.name()), &out);
  grpc::Status missing =
      Call(comity::testing::kBinh, &Stub::GetRequest,
           Named<v1::GetRequestRequest>("requests/01ARZ3NDEKTSV4RRFFQ69G5FAV"), &out);
  EXPECT_EQ(unrelated.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  // The requested authority does not see a draft.
  EXPECT_EQ(Call(kG, &Stub::GetRequest, Named<v1::GetRequestRequest>(r.name()), &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The auditor of the requesting authority reads it, but cannot act.
  EXPECT_TRUE(
      Call(comity::testing::kOdile, &Stub::GetRequest, Named<v1::GetRequestRequest>(r.name()), &out)
          .ok());
  EXPECT_EQ(Call(comity::testing::kOdile, &Stub::SubmitRequest,
                 Named<v1::SubmitRequestRequest>(r.name()), &out)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RpcTest, InvalidArgumentCarriesFieldViolations) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority("authorities/XX-NOPE");
  create.mutable_request()->set_instrument("");
  v1::Request out;
  grpc::Status s = Call(kA, &Stub::CreateRequest, create, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(0).field(), "request.instrument");
  EXPECT_EQ(bad.field_violations(0).reason(), "REQUIRED");
  EXPECT_EQ(bad.field_violations(1).field(), "request.requested_authority");
  EXPECT_EQ(bad.field_violations(1).reason(), "UNKNOWN_AUTHORITY");
}

TEST_F(RpcTest, OversizedMessagesAreRefused) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  create.mutable_request()->mutable_case_info()->set_summary_of_facts(std::string(2 << 20, 'x'));
  v1::Request out;
  EXPECT_EQ(Call(kA, &Stub::CreateRequest, create, &out).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  create.mutable_request()->mutable_case_info()->set_summary_of_facts(std::string(40000, 'x'));
  grpc::Status s = Call(kA, &Stub::CreateRequest, create, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "request.case_info.summary_of_facts: is 40000 bytes; at most 32768");
}

TEST_F(RpcTest, IdempotentRetryAndStaleEtag) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  create.set_request_id("retry-me");
  v1::Request first = Must(kA, &Stub::CreateRequest, create, v1::DRAFT);
  v1::Request again = Must(kA, &Stub::CreateRequest, create, v1::DRAFT);
  EXPECT_EQ(again.name(), first.name());
  create.mutable_request()->set_purpose("changed");
  v1::Request out;
  EXPECT_EQ(Call(kA, &Stub::CreateRequest, create, &out).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  auto submit = Named<v1::SubmitRequestRequest>(first.name());
  submit.set_etag("7");
  EXPECT_EQ(Call(kA, &Stub::SubmitRequest, submit, &out).error_code(), grpc::StatusCode::ABORTED);
}

TEST_F(RpcTest, DirectoryShowsMembersOnlyOfTheCallersAuthority) {
  v1::ListAuthoritiesResponse list;
  auto ctx = As(kA);
  ASSERT_TRUE(directory_->ListAuthorities(ctx.get(), v1::ListAuthoritiesRequest(), &list).ok());
  ASSERT_EQ(list.authorities_size(), 5);
  for (const auto& a : list.authorities()) {
    EXPECT_EQ(a.members_size() > 0, a.name() == "authorities/FR-CA") << a.name();
  }
  v1::WhoAmIResponse me;
  auto ctx2 = As(kG);
  ASSERT_TRUE(directory_->WhoAmI(ctx2.get(), v1::WhoAmIRequest(), &me).ok());
  EXPECT_EQ(me.authority(), "authorities/DE-BFJ");
}

TEST_F(RpcTest, AdminsManageTheirAuthorityAndEveryChangeIsAudited) {
  const std::string admin = "spiffe://comity.dev/FR-CA/admin";
  auto upsert = [&](const std::string& who, const v1::Authority& a) {
    v1::UpsertAuthorityRequest req;
    *req.mutable_authority() = a;
    v1::Authority out;
    auto ctx = As(who);
    return directory_->UpsertAuthority(ctx.get(), req, &out);
  };
  auto get = [&](const std::string& name) {
    v1::GetAuthorityRequest req;
    req.set_name(name);
    v1::Authority out;
    auto ctx = As(admin);
    EXPECT_TRUE(directory_->GetAuthority(ctx.get(), req, &out).ok());
    return out;
  };
  // An admin adds a member to its own authority; the new principal is known at once.
  v1::Authority fr = get("authorities/FR-CA");
  auto* nadia = fr.add_members();
  nadia->set_principal("spiffe://comity.dev/FR-CA/nadia");
  nadia->add_roles(v1::SUBMITTER);
  ASSERT_TRUE(upsert(admin, fr).ok());
  v1::WhoAmIResponse me;
  auto ctx = As("spiffe://comity.dev/FR-CA/nadia");
  ASSERT_TRUE(directory_->WhoAmI(ctx.get(), v1::WhoAmIRequest(), &me).ok());
  EXPECT_EQ(me.authority(), "authorities/FR-CA");
  // Not an admin; another authority's entry; a malformed entry.
  EXPECT_EQ(upsert(kA, fr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::Authority de = get("authorities/DE-BFJ");
  de.set_display_name("changed by France");
  EXPECT_EQ(upsert(admin, de).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  fr.set_country("France");
  EXPECT_EQ(upsert(admin, fr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A new authority.
  v1::Authority it;
  it.set_name("authorities/IT-MG");
  it.set_country("IT");
  it.add_languages("it");
  ASSERT_TRUE(upsert(admin, it).ok());
  EXPECT_EQ(get("authorities/IT-MG").country(), "IT");

  // The directory's trail: seed, then the two changes, chained.
  v1::GetTrailRequest req;
  req.set_request("directory");
  v1::Trail trail;
  auto actx = As(comity::testing::kOdile);
  ASSERT_TRUE(audit_->GetTrail(actx.get(), req, &trail).ok());
  ASSERT_EQ(trail.entries_size(), 3);
  EXPECT_EQ(trail.entries(0).entry().action(), v1::SEED_DIRECTORY);
  EXPECT_EQ(trail.entries(1).entry().action(), v1::UPSERT_AUTHORITY);
  EXPECT_EQ(trail.entries(1).entry().actor().principal(), admin);
  EXPECT_EQ(trail.entries(1).entry().reasons(), "authorities/FR-CA");
  EXPECT_EQ(trail.entries(2).entry().reasons(), "authorities/IT-MG");
  std::vector<std::string> bytes;
  for (const auto& e : trail.entries()) bytes.push_back(e.data());
  EXPECT_TRUE(audit::VerifyChain("directory", bytes, trail.head(), trail.size()).ok());
  auto sctx = As(kA);
  EXPECT_EQ(audit_->GetTrail(sctx.get(), req, &trail).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The store holds the directory from now on: a restart keeps the changes.
  server_.reset();
  auto server = server::Server::Start(config_, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  directory_ = v1::DirectoryService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(get("authorities/IT-MG").name(), "authorities/IT-MG");
  auto nctx = As("spiffe://comity.dev/FR-CA/nadia");
  EXPECT_TRUE(directory_->WhoAmI(nctx.get(), v1::WhoAmIRequest(), &me).ok());
}

// A development-mode server configuration whose log checkpoints are signed with a key made of
// `seed` and named `origin`.
config::v1::ServerConfig SignedLogConfig(const TempDir& dir, const std::string& origin, char seed) {
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path() + "/data");
  config.set_log_origin(origin);
  config.set_log_key_file(dir.path() + "/log.key");
  comity::testing::WriteFile(config.log_key_file(), std::string(64, seed));
  return config;
}

TEST(CheckpointTest, SignedCheckpointsCoverEveryEntry) {
  TempDir dir;
  config::v1::ServerConfig config = SignedLogConfig(dir, "comity.test/node-1", '5');
  config.set_skip_read_entries(true);  // this test counts entries exactly
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto requests = v1::RequestService::NewStub(channel);
  auto audit = v1::AuditService::NewStub(channel);
  auto checkpoint = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::Checkpoint c;
    EXPECT_TRUE(audit->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &c).ok());
    return c;
  };
  auto trail = [&](const std::string& name) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::GetTrailRequest req;
    req.set_request(name);
    v1::Trail t;
    EXPECT_TRUE(audit->GetTrail(&ctx, req, &t).ok());
    return t;
  };
  // The seeded directory is the first leaf.
  v1::Checkpoint first = checkpoint();
  EXPECT_EQ(first.size(), 1u);
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
  v1::Request r;
  grpc::ClientContext cctx;
  cctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
  ASSERT_TRUE(requests->CreateRequest(&cctx, create, &r).ok());
  grpc::ClientContext sctx;
  sctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
  v1::SubmitRequestRequest submit;
  submit.set_name(r.name());
  ASSERT_TRUE(requests->SubmitRequest(&sctx, submit, &r).ok());

  v1::Checkpoint c = checkpoint();
  auto text = audit::OpenNote(c.note(), c.verifier_key());
  ASSERT_TRUE(text.ok()) << text.status();
  auto parsed = audit::ParseCheckpoint(*text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->origin, "comity.test/node-1");
  EXPECT_EQ(parsed->size, 3u);
  EXPECT_EQ(parsed->root_hash, c.root_hash());
  EXPECT_EQ(c.verifier_key(), first.verifier_key());
  // The root is the tree over every entry, in leaf order: directory seed, create, submit.
  std::map<uint64_t, std::string> leaves;
  for (const std::string& name : {std::string("directory"), r.name()}) {
    const v1::Trail t = trail(name);
    for (const v1::TrailEntry& e : t.entries()) {
      leaves[e.entry().leaf_index()] = audit::LeafHash(e.data());
    }
  }
  std::vector<std::string> ordered;
  for (const auto& [i, h] : leaves) ordered.push_back(h);
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(audit::MerkleTree(ordered).Root(3), c.root_hash());
  // Every entry of the trail comes with its proof against the checkpoint it was served with.
  const v1::Trail t = trail(r.name());
  ASSERT_EQ(t.checkpoint().size(), 3u);
  for (const v1::TrailEntry& e : t.entries()) {
    std::vector<std::string> proof(e.inclusion_proof().begin(), e.inclusion_proof().end());
    EXPECT_TRUE(audit::VerifyInclusion(e.entry().leaf_index(), t.checkpoint().size(),
                                       audit::LeafHash(e.data()), proof, t.checkpoint().root_hash())
                    .ok());
    // A proof for another entry's bytes fails.
    EXPECT_FALSE(audit::VerifyInclusion(e.entry().leaf_index(), t.checkpoint().size(),
                                        audit::LeafHash(e.data() + "x"), proof,
                                        t.checkpoint().root_hash())
                     .ok());
  }
  // The later checkpoint extends the first.
  grpc::ClientContext pctx;
  pctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
  v1::GetConsistencyProofRequest preq;
  preq.set_from_size(first.size());
  preq.set_to_size(c.size());
  v1::ConsistencyProof proof;
  ASSERT_TRUE(audit->GetConsistencyProof(&pctx, preq, &proof).ok());
  std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
  EXPECT_TRUE(
      audit::VerifyConsistency(first.size(), c.size(), hashes, first.root_hash(), c.root_hash())
          .ok());
  grpc::ClientContext bctx;
  bctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
  preq.set_to_size(c.size() + 5);
  EXPECT_EQ(audit->GetConsistencyProof(&bctx, preq, &proof).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Another node key cannot open it.
  auto other = audit::NoteSigner::FromSeed("comity.test/node-1", std::string(32, '\x09'));
  EXPECT_EQ(audit::OpenNote(c.note(), (*other)->VerifierKey()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(CheckpointTest, ProofsFromALargerLog) {
  TempDir dir;
  config::v1::ServerConfig config = SignedLogConfig(dir, "comity.test/node-2", 'a');
  config.set_skip_read_entries(true);  // this test counts entries exactly
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto requests = v1::RequestService::NewStub(channel);
  auto audit = v1::AuditService::NewStub(channel);
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    v1::CreateRequestRequest create;
    *create.mutable_request() = comity::testing::FullRequest("uncc", v1::GENERAL_ASSISTANCE);
    v1::Request r;
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    ASSERT_TRUE(requests->CreateRequest(&ctx, create, &r).ok());
    names.push_back(r.name());
  }
  uint64_t proofs = 0;
  v1::Checkpoint latest;
  std::map<uint64_t, std::string> leaves;  // every leaf, from the entries themselves
  for (const std::string& name : names) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::GetTrailRequest req;
    req.set_request(name);
    v1::Trail t;
    ASSERT_TRUE(audit->GetTrail(&ctx, req, &t).ok());
    latest = t.checkpoint();
    for (const v1::TrailEntry& e : t.entries()) {
      leaves[e.entry().leaf_index()] = audit::LeafHash(e.data());
      std::vector<std::string> proof(e.inclusion_proof().begin(), e.inclusion_proof().end());
      ASSERT_TRUE(audit::VerifyInclusion(e.entry().leaf_index(), t.checkpoint().size(),
                                         audit::LeafHash(e.data()), proof,
                                         t.checkpoint().root_hash())
                      .ok())
          << name;
      ++proofs;
    }
  }
  EXPECT_EQ(proofs, 40u);
  ASSERT_EQ(latest.size(), 41u);  // the directory seed and 40 creations
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::GetTrailRequest req;
    req.set_request("directory");
    v1::Trail t;
    ASSERT_TRUE(audit->GetTrail(&ctx, req, &t).ok());
    for (const v1::TrailEntry& e : t.entries()) {
      leaves[e.entry().leaf_index()] = audit::LeafHash(e.data());
    }
  }
  std::vector<std::string> ordered;
  for (const auto& [i, h] : leaves) ordered.push_back(h);
  ASSERT_EQ(ordered.size(), 41u);
  audit::MerkleTree tree(ordered);
  ASSERT_EQ(tree.Root(41), latest.root_hash());
  for (uint64_t from = 1; from <= latest.size(); ++from) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::GetConsistencyProofRequest req;
    req.set_from_size(from);
    req.set_to_size(latest.size());
    v1::ConsistencyProof p;
    ASSERT_TRUE(audit->GetConsistencyProof(&ctx, req, &p).ok());
    std::vector<std::string> hashes(p.hashes().begin(), p.hashes().end());
    EXPECT_TRUE(
        audit::VerifyConsistency(from, latest.size(), hashes, tree.Root(from), latest.root_hash())
            .ok())
        << from;
  }
}

// The offline verifier is tested as hard as the writer: every tampering must be caught.
TEST(BundleTest, ExportedTrailsVerifyOfflineAndEveryTamperingIsCaught) {
  TempDir dir;
  config::v1::ServerConfig config = SignedLogConfig(dir, "comity.test/node-3", 'c');
  config.set_skip_read_entries(true);  // this test counts entries exactly
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto requests = v1::RequestService::NewStub(channel);
  auto audit = v1::AuditService::NewStub(channel);
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::GENERAL_ASSISTANCE);
  v1::Request r;
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    ASSERT_TRUE(requests->CreateRequest(&ctx, create, &r).ok());
  }
  auto note = [&](const std::string& text) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::AddNoteRequest req;
    req.set_name(r.name());
    req.set_kind(v1::COMMENT);
    req.set_text(text);
    v1::Request out;
    ASSERT_TRUE(requests->AddNote(&ctx, req, &out).ok());
  };
  auto export_trail = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::GetTrailRequest req;
    req.set_request(r.name());
    v1::TrailBundle b;
    EXPECT_TRUE(audit->ExportTrail(&ctx, req, &b).ok());
    return b;
  };
  note("one");
  const v1::TrailBundle older = export_trail();
  note("two");
  note("three");
  const v1::TrailBundle bundle = export_trail();
  const std::string key = bundle.trail().checkpoint().verifier_key();
  ASSERT_EQ(bundle.trail().entries_size(), 4);

  auto verdict = audit::VerifyBundle(bundle, key);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_EQ(verdict->entries, 4u);
  EXPECT_EQ(verdict->checkpoint.origin, "comity.test/node-3");
  ASSERT_TRUE(audit::VerifyBundle(older, key).ok());

  auto expect_caught = [&](const v1::TrailBundle& b, const std::string& what,
                           const std::string& message) {
    auto v = audit::VerifyBundle(b, key);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_NE(v.status().message().find(message), std::string::npos)
        << what << ": " << v.status().message();
  };
  {  // A byte flipped in an entry (in its note text, "one").
    v1::TrailBundle b = bundle;
    std::string* data = b.mutable_trail()->mutable_entries(1)->mutable_data();
    ASSERT_NE(data->find("one"), std::string::npos);
    (*data)[data->find("one")] ^= 0x01;
    expect_caught(b, "flipped byte", "entry 3 does not link to entry 2");
  }
  {  // An entry dropped from the middle.
    v1::TrailBundle b = bundle;
    b.mutable_trail()->mutable_entries()->DeleteSubrange(1, 1);
    expect_caught(b, "dropped entry", "entry 2 is numbered 3");
  }
  {  // Two entries swapped.
    v1::TrailBundle b = bundle;
    b.mutable_trail()->mutable_entries()->SwapElements(1, 2);
    expect_caught(b, "reordered", "entry 2 is numbered 3");
  }
  {  // The trail truncated, its size and head made to match.
    v1::TrailBundle b = bundle;
    b.mutable_trail()->mutable_entries()->DeleteSubrange(3, 1);
    b.mutable_trail()->set_size(3);
    b.mutable_trail()->set_head(Sha256(b.trail().entries(2).data()));
    expect_caught(b, "truncated", "does not match what the node signed");
  }
  {  // A proof swapped with another entry's.
    v1::TrailBundle b = bundle;
    b.mutable_trail()->mutable_entries(0)->mutable_inclusion_proof()->Swap(
        b.mutable_trail()->mutable_entries(1)->mutable_inclusion_proof());
    expect_caught(b, "swapped proof", "is not in the signed log");
  }
  {  // Verified with another key.
    auto other = audit::NoteSigner::FromSeed("comity.test/node-3", std::string(32, '\x02'));
    auto v = audit::VerifyBundle(bundle, (*other)->VerifierKey());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("not signed by this key"), std::string::npos);
  }
  {  // An older checkpoint (validly signed) replayed in place of the newer one.
    v1::TrailBundle b = bundle;
    *b.mutable_trail()->mutable_checkpoint() = older.trail().checkpoint();
    expect_caught(b, "older checkpoint", "does not match what the node signed");
  }
  {  // Consistency with a checkpoint the auditor kept from before.
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    v1::GetTrailRequest req;
    req.set_request(r.name());
    req.set_consistency_from(older.trail().checkpoint().size());
    v1::TrailBundle b;
    ASSERT_TRUE(audit->ExportTrail(&ctx, req, &b).ok());
    const std::string old_note = older.trail().checkpoint().note();
    EXPECT_TRUE(audit::VerifyBundle(b, key, old_note).ok());
    v1::TrailBundle forged = b;
    (*forged.mutable_consistency()->mutable_hashes(0))[0] ^= 0x01;
    auto v = audit::VerifyBundle(forged, key, old_note);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("does not extend the old checkpoint"), std::string::npos);
    v = audit::VerifyBundle(bundle, key, old_note);  // exported without the proof
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("proves no consistency"), std::string::npos);
    auto stranger = audit::NoteSigner::FromSeed("comity.test/node-3", std::string(32, '\x03'));
    const std::string foreign_old = (*stranger)->Sign(audit::CheckpointText(
        {"comity.test/node-3", older.trail().checkpoint().size(), std::string(32, '\x00')}));
    EXPECT_EQ(audit::VerifyBundle(b, key, foreign_old).status().code(),
              absl::StatusCode::kDataLoss);
  }
  {  // The older trail note with the newer trail.
    v1::TrailBundle b = bundle;
    b.set_trail_note(older.trail_note());
    expect_caught(b, "older trail note", "does not match what the node signed");
  }
  // What a lenient verifier accepts. With the node's own key, so that only the rule tested trips.
  auto node_key = audit::NoteSigner::FromSeed("comity.test/node-3", std::string(32, '\xcc'));
  ASSERT_TRUE(node_key.ok());
  ASSERT_EQ((*node_key)->VerifierKey(), key);
  auto resign = [&](v1::TrailBundle& b) {
    b.set_trail_note((*node_key)->Sign(audit::TrailNoteText(b.trail(), verdict->checkpoint.size)));
  };
  {  // A checkpoint of another origin, signed by a key of another name with the same seed.
    auto renamed = audit::NoteSigner::FromSeed("comity.test/node-9", std::string(32, '\xcc'));
    v1::TrailBundle b = bundle;
    b.mutable_trail()->mutable_checkpoint()->set_note(
        (*renamed)->Sign(audit::CheckpointText(verdict->checkpoint)));
    b.set_trail_note((*renamed)->Sign(audit::TrailNoteText(b.trail(), verdict->checkpoint.size)));
    auto v = audit::VerifyBundle(b, (*renamed)->VerifierKey());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("is not the key's name"), std::string::npos)
        << v.status().message();
  }
  {  // A second, invalid signature line by the pinned key beside the good one.
    v1::TrailBundle b = bundle;
    std::string note = b.trail().checkpoint().note();
    const size_t line = note.rfind("\n\xe2\x80\x94 ");
    ASSERT_NE(line, std::string::npos);
    std::string forged = note.substr(line + 1);  // "— name base64\n"
    forged[forged.size() - 6] = forged[forged.size() - 6] == 'A' ? 'B' : 'A';
    b.mutable_trail()->mutable_checkpoint()->set_note(note + forged);
    expect_caught(b, "second signature", "does not verify");
  }
  {  // The last entry with its sequence field written twice, head and trail note made to match.
    v1::TrailBundle b = bundle;
    v1::TrailEntry* last = b.mutable_trail()->mutable_entries(3);
    last->mutable_data()->append(std::string("\x10\x04", 2));  // sequence = 4, again
    b.mutable_trail()->set_head(Sha256(last->data()));
    resign(b);
    expect_caught(b, "repeated field", "not in the node's serialization");
  }
  {  // An empty trail that names a head.
    v1::TrailBundle b = bundle;
    b.mutable_trail()->clear_entries();
    b.mutable_trail()->set_size(0);
    b.mutable_trail()->set_head(std::string(32, '\x07'));
    resign(b);
    expect_caught(b, "empty trail with a head", "an empty trail has no head");
  }
  // --since: the same checkpoint kept before passes without a proof; a larger one is a rollback.
  EXPECT_TRUE(audit::VerifyBundle(bundle, key, bundle.trail().checkpoint().note()).ok());
  {
    auto v = audit::VerifyBundle(older, key, bundle.trail().checkpoint().note());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("a rollback"), std::string::npos) << v.status().message();
  }
}

// A signed node with one request of `notes` + 1 entries, for the paging tests.
class PagedTrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server =
        server::Server::Start(SignedLogConfig(dir_, "comity.test/node-7", '7'), Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    requests_ = v1::RequestService::NewStub(channel);
    audit_ = v1::AuditService::NewStub(channel);
    v1::CreateRequestRequest create;
    *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::Request r;
    ASSERT_TRUE(requests_->CreateRequest(&ctx, create, &r).ok());
    name_ = r.name();
    for (int i = 0; i < 9; ++i) Note(absl::StrCat("note ", i));
  }

  void Note(const std::string& text) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::AddNoteRequest req;
    req.set_name(name_);
    req.set_kind(v1::COMMENT);
    req.set_text(text);
    v1::Request out;
    ASSERT_TRUE(requests_->AddNote(&ctx, req, &out).ok());
  }

  grpc::Status Page(const std::string& who, const v1::GetTrailRequest& req, v1::Trail* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", who);
    return audit_->GetTrail(&ctx, req, out);
  }

  grpc::Status Part(const v1::GetTrailRequest& req, v1::TrailBundle* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
    return audit_->ExportTrail(&ctx, req, out);
  }

  TempDir dir_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::string name_;
};

// GetTrail in pages: every page shows the trail as the first page found it (its size, head and
// checkpoint), although each page read adds an ACCESS entry; the joined pages chain and prove.
TEST_F(PagedTrailTest, EveryPageShowsTheTrailOfTheFirstPage) {
  v1::GetTrailRequest req;
  req.set_request(name_);
  req.set_page_size(3);
  v1::Trail first;
  ASSERT_TRUE(Page(comity::testing::kOdile, req, &first).ok());
  ASSERT_EQ(first.size(), 10u);
  ASSERT_EQ(first.entries_size(), 3);
  ASSERT_TRUE(first.has_checkpoint());
  ASSERT_FALSE(first.next_page_token().empty());
  std::vector<std::string> bytes;
  std::vector<v1::TrailEntry> entries(first.entries().begin(), first.entries().end());
  int pages = 1;
  for (std::string token = first.next_page_token(); !token.empty(); ++pages) {
    req.set_page_token(token);
    v1::Trail page;
    ASSERT_TRUE(Page(comity::testing::kOdile, req, &page).ok());
    EXPECT_EQ(page.size(), 10u);
    EXPECT_EQ(page.head(), first.head());
    EXPECT_FALSE(page.has_checkpoint());
    entries.insert(entries.end(), page.entries().begin(), page.entries().end());
    token = page.next_page_token();
  }
  EXPECT_EQ(pages, 4);  // 3 + 3 + 3 + 1
  ASSERT_EQ(entries.size(), 10u);
  for (const v1::TrailEntry& e : entries) {
    bytes.push_back(e.data());
    std::vector<std::string> proof(e.inclusion_proof().begin(), e.inclusion_proof().end());
    EXPECT_TRUE(audit::VerifyInclusion(e.entry().leaf_index(), first.checkpoint().size(),
                                       audit::LeafHash(e.data()), proof,
                                       first.checkpoint().root_hash())
                    .ok());
  }
  EXPECT_TRUE(audit::VerifyChain(name_, bytes, first.head(), 10).ok());
  // Each page read was recorded: the trail now has 4 more entries, the last an ACCESS.
  v1::GetTrailRequest all;
  all.set_request(name_);
  v1::Trail now;
  ASSERT_TRUE(Page(comity::testing::kOdile, all, &now).ok());
  EXPECT_EQ(now.size(), 14u);
  EXPECT_EQ(now.entries(13).entry().action(), v1::ACCESS);
  EXPECT_TRUE(now.next_page_token().empty());

  // Bad page requests name their field; a hidden trail is NOT_FOUND whatever the token.
  auto refused = [&](const v1::GetTrailRequest& bad, const std::string& who) {
    v1::Trail out;
    return Page(who, bad, &out);
  };
  v1::GetTrailRequest bad = all;
  bad.set_page_size(1001);
  grpc::Status s = refused(bad, comity::testing::kOdile);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size: must be 0-1000");
  bad = all;
  bad.set_page_token("not-a-token");
  s = refused(bad, comity::testing::kOdile);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_token: is not a token this server returned for this trail");
  bad = all;
  bad.set_request("directory");
  bad.set_page_token(first.next_page_token());  // another trail's
  EXPECT_EQ(refused(bad, comity::testing::kOdile).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad = all;
  bad.set_page_token(first.next_page_token());
  EXPECT_EQ(refused(bad, comity::testing::kBinh).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ExportTrail in parts: the first carries the note and checkpoint, the later ones entries with
// proofs against it; joined they verify, although the trail grew between the parts. A part
// dropped, altered or out of another export is caught.
TEST_F(PagedTrailTest, AnExportInPartsJoinsIntoOneVerifiedBundle) {
  v1::GetTrailRequest req;
  req.set_request(name_);
  req.set_page_size(4);
  std::vector<v1::TrailBundle> parts;
  do {
    v1::TrailBundle part;
    ASSERT_TRUE(Part(req, &part).ok());
    if (parts.empty()) {
      EXPECT_FALSE(part.trail_note().empty());
      EXPECT_TRUE(part.trail().has_checkpoint());
    } else {
      EXPECT_TRUE(part.trail_note().empty());
      EXPECT_FALSE(part.trail().has_checkpoint());
    }
    req.set_page_token(part.trail().next_page_token());
    parts.push_back(std::move(part));
    Note("written between the parts");
  } while (!req.page_token().empty());
  ASSERT_EQ(parts.size(), 3u);  // 4 + 4 + 2
  absl::StatusOr<v1::TrailBundle> joined = audit::JoinBundleParts(parts);
  ASSERT_TRUE(joined.ok()) << joined.status();
  const std::string key = joined->trail().checkpoint().verifier_key();
  auto verdict = audit::VerifyBundle(*joined, key);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_EQ(verdict->entries, 10u);

  {  // The middle part dropped.
    auto j = audit::JoinBundleParts({parts[0], parts[2]});
    ASSERT_TRUE(j.ok());
    auto v = audit::VerifyBundle(*j, key);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(v.status().message()), ::testing::StartsWith("entry 5 is numbered 9"));
  }
  {  // A byte flipped in the last part.
    std::vector<v1::TrailBundle> altered = parts;
    std::string* data = altered[2].mutable_trail()->mutable_entries(0)->mutable_data();
    const size_t at = data->find("note 7");
    ASSERT_NE(at, std::string::npos);
    (*data)[at] ^= 0x01;
    auto j = audit::JoinBundleParts(altered);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(audit::VerifyBundle(*j, key).status().code(), absl::StatusCode::kDataLoss);
  }
  {  // A later part that names another head, or carries a note of its own.
    std::vector<v1::TrailBundle> altered = parts;
    altered[1].mutable_trail()->set_head(std::string(32, '\x01'));
    auto j = audit::JoinBundleParts(altered);
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(j.status().message(), "part 2 of the export is not a later part of the same trail");
    altered = parts;
    altered[2].set_trail_note(parts[0].trail_note());
    EXPECT_EQ(audit::JoinBundleParts(altered).status().code(), absl::StatusCode::kInvalidArgument);
  }
  {  // The first part of a later export, whose trail is longer, with this export's later parts.
    v1::GetTrailRequest again;
    again.set_request(name_);
    again.set_page_size(4);
    v1::TrailBundle later;
    ASSERT_TRUE(Part(again, &later).ok());
    EXPECT_EQ(audit::JoinBundleParts({later, parts[1], parts[2]}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(CheckpointTest, CheckpointsStayConsistentAcrossRestarts) {
  TempDir dir;
  config::v1::ServerConfig config = SignedLogConfig(dir, "comity.test/node-4", 'd');
  auto call_as = [](const char* who) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", who);
    return ctx;
  };
  auto create_some = [&](server::Server& s, int n) {
    auto stub = v1::RequestService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", s.port()), grpc::InsecureChannelCredentials()));
    for (int i = 0; i < n; ++i) {
      v1::CreateRequestRequest create;
      *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
      v1::Request r;
      ASSERT_TRUE(stub->CreateRequest(call_as(comity::testing::kAlice).get(), create, &r).ok());
    }
  };
  auto checkpoint = [&](server::Server& s) {
    auto stub = v1::AuditService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.port()),
                                                              grpc::InsecureChannelCredentials()));
    v1::Checkpoint c;
    EXPECT_TRUE(
        stub->GetCheckpoint(call_as(comity::testing::kOdile).get(), v1::GetCheckpointRequest(), &c)
            .ok());
    return c;
  };
  v1::Checkpoint before;
  {
    auto s = server::Server::Start(config, Clock::Real());
    ASSERT_TRUE(s.ok()) << s.status();
    create_some(**s, 5);
    before = checkpoint(**s);
  }
  auto s = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(s.ok()) << s.status();
  // The same head after the restart gives the same signed note.
  EXPECT_EQ(checkpoint(**s).note(), before.note());
  create_some(**s, 4);
  const v1::Checkpoint after = checkpoint(**s);
  EXPECT_EQ(after.size(), before.size() + 4);
  auto stub = v1::AuditService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*s)->port()), grpc::InsecureChannelCredentials()));
  v1::GetConsistencyProofRequest req;
  req.set_from_size(before.size());
  req.set_to_size(after.size());
  v1::ConsistencyProof p;
  ASSERT_TRUE(stub->GetConsistencyProof(call_as(comity::testing::kOdile).get(), req, &p).ok());
  EXPECT_TRUE(
      audit::VerifyConsistency(before.size(), after.size(),
                               std::vector<std::string>(p.hashes().begin(), p.hashes().end()),
                               before.root_hash(), after.root_hash())
          .ok());
}

TEST(AccessTest, ReadsAreRecordedOnTheTrailWithoutChangingTheEtag) {
  TempDir dir;
  auto server = server::Server::Start(comity::testing::TestServerConfig(dir.path()), Clock::Real());
  ASSERT_TRUE(server.ok());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto requests = v1::RequestService::NewStub(channel);
  auto audit = v1::AuditService::NewStub(channel);
  auto as = [](const char* who) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", who);
    return ctx;
  };
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::GENERAL_ASSISTANCE);
  v1::Request r;
  ASSERT_TRUE(requests->CreateRequest(as(comity::testing::kAlice).get(), create, &r).ok());
  v1::GetRequestRequest get;
  get.set_name(r.name());
  v1::Request read;
  ASSERT_TRUE(requests->GetRequest(as(comity::testing::kOdile).get(), get, &read).ok());
  // The access entry is written with the next commit group, not on the read's path: wait for it.
  v1::Trail trail;
  for (int i = 0; i < 100 && trail.entries_size() < 2; ++i) {
    v1::GetTrailRequest req;
    req.set_request(r.name());
    ASSERT_TRUE(audit->GetTrail(as(comity::testing::kAlice).get(), req, &trail).ok());
    if (trail.entries_size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(trail.entries_size(), 2);
  const v1::AuditEntry& access = trail.entries(1).entry();
  EXPECT_EQ(access.action(), v1::ACCESS);
  EXPECT_EQ(access.actor().principal(), comity::testing::kOdile);
  EXPECT_EQ(access.actor().role(), v1::AUDITOR);
  EXPECT_EQ(access.reasons(), "GetRequest");
  EXPECT_EQ(access.state_before(), v1::DRAFT);
  EXPECT_EQ(access.state_after(), v1::DRAFT);
  std::vector<std::string> bytes;
  for (const auto& e : trail.entries()) bytes.push_back(e.data());
  EXPECT_TRUE(audit::VerifyChain(r.name(), bytes, trail.head(), trail.size()).ok());
  // Reading changes no etag: a change made with the etag read before still applies.
  v1::Request again;
  ASSERT_TRUE(requests->GetRequest(as(comity::testing::kAlice).get(), get, &again).ok());
  EXPECT_EQ(again.etag(), r.etag());
  v1::SubmitRequestRequest submit;
  submit.set_name(r.name());
  submit.set_etag(r.etag());
  EXPECT_TRUE(requests->SubmitRequest(as(comity::testing::kAlice).get(), submit, &again).ok());
  // An unrelated authority's failed read records nothing.
  const uint64_t before = again.audit_size();
  ASSERT_EQ(requests->GetRequest(as(comity::testing::kBinh).get(), get, &read).error_code(),
            grpc::StatusCode::NOT_FOUND);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  grpc::ClientContext lctx;
  lctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
  v1::GetTrailRequest treq;
  treq.set_request(r.name());
  ASSERT_TRUE(audit->GetTrail(&lctx, treq, &trail).ok());
  for (const auto& e : trail.entries()) {
    EXPECT_NE(e.entry().actor().principal(), comity::testing::kBinh);
  }
  EXPECT_GE(trail.size(), before);
}

TEST(CheckpointTest, WithoutAKeyNoCheckpointIsServed) {
  TempDir dir;
  auto server = server::Server::Start(comity::testing::TestServerConfig(dir.path()), Clock::Real());
  ASSERT_TRUE(server.ok());
  auto audit = v1::AuditService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", comity::testing::kOdile);
  v1::Checkpoint c;
  EXPECT_EQ(audit->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &c).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(RpcTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ServerConfigTest, RefusedCallsAreCountedInMetrics) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path());
  config.set_metrics_address("127.0.0.1:0");
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->metrics_port(), 0);
  auto stub = v1::RequestService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  for (const char* who : {"spiffe://comity.dev/FR-CA/admin", "spiffe://comity.dev/XX/nobody"}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", who);
    v1::ListRequestsResponse out;
    EXPECT_EQ(stub->ListRequests(&ctx, v1::ListRequestsRequest(), &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  const std::string metrics = comity::testing::ScrapeMetrics((*server)->metrics_port());
  EXPECT_NE(metrics.find("comity_denied_calls_total{code=\"PERMISSION_DENIED\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("comity_denied_calls_total{code=\"NOT_FOUND\"} 0"), std::string::npos);
}

// The value on the exposition line that starts with `series` (a name and its labels), or -1.
double MetricValue(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double v = -1;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
  }
  return -1;
}

TEST(ServerConfigTest, MetricsShowCallsCommitGroupsAndTheStore) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path());
  config.set_metrics_address("127.0.0.1:0");
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::RequestService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::CreateRequestRequest req;
    *req.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
    v1::Request out;
    ASSERT_TRUE(stub->CreateRequest(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    v1::SubmitRequestRequest req;
    req.set_name("requests/nope");
    v1::Request out;
    ASSERT_EQ(stub->SubmitRequest(&ctx, req, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  const std::string m = comity::testing::ScrapeMetrics((*server)->metrics_port());
  const std::string svc = "grpc_service=\"comity.v1.RequestService\"";
  EXPECT_EQ(
      MetricValue(m, "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"CreateRequest\"," +
                         svc + "}"),
      1)
      << m;
  EXPECT_EQ(MetricValue(m,
                        "grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\","
                        "grpc_method=\"SubmitRequest\"," +
                            svc + "}"),
            1);
  EXPECT_EQ(MetricValue(
                m, "grpc_server_handling_seconds_count{grpc_method=\"CreateRequest\"," + svc + "}"),
            1);
  // The directory's seed and the draft: two durable groups of one change each.
  EXPECT_EQ(MetricValue(m, "comity_commit_group_changes_count"), 2);
  EXPECT_EQ(MetricValue(m, "comity_commit_group_changes_sum"), 2);
  EXPECT_EQ(MetricValue(m, "comity_commit_seconds_count"), 2);
  EXPECT_GT(MetricValue(m, "comity_commit_group_bytes_sum"), 1000);
  EXPECT_GE(MetricValue(m, "comity_engine_queue_depth"), 0);
  EXPECT_GT(MetricValue(m, "comity_data_dir_bytes"), 0);
  EXPECT_GE(MetricValue(m, "comity_store_pending_compaction_bytes"), 0);
  EXPECT_EQ(MetricValue(m, "comity_store_write_stalls_total"), 0);
  EXPECT_EQ(MetricValue(m, "comity_store_writes_stopped"), 0);
  // The default budget, and what is charged to it: at least the memtables of the writes above.
  EXPECT_EQ(MetricValue(m, "comity_store_cache_capacity_bytes"), 512 << 20);
  EXPECT_GT(MetricValue(m, "comity_store_memtable_bytes"), 0);
  EXPECT_GE(MetricValue(m, "comity_store_cache_usage_bytes"),
            MetricValue(m, "comity_store_memtable_bytes"));
  EXPECT_GE(MetricValue(m, "comity_store_table_reader_bytes"), 0);
}

TEST(ServerConfigTest, EncryptionKeyFileMustBePrivateAndWellFormed) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path() + "/data");
  const std::string key_file = dir.path() + "/node.key";
  config.set_encryption_key_file(key_file);
  comity::testing::WriteFile(key_file, std::string(64, 'a') + "\n");
  chmod(key_file.c_str(), 0644);
  auto server = server::Server::Start(config, Clock::Real());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("chmod 600"), std::string::npos);
  chmod(key_file.c_str(), 0600);
  ASSERT_TRUE(server::Server::Start(config, Clock::Real()).ok());
  // The same data with another key (from the environment): refused, cleanly.
  server = server::Server::Start(config, Clock::Real(),
                                 {std::string(64, 'b'), &std::cerr, nullptr, nullptr});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("wrong encryption key"), std::string::npos);
  EXPECT_EQ(server::LoadEncryptionKey(config, "xyz").status().code(),
            absl::StatusCode::kInvalidArgument);
  config.set_encryption_key_file(dir.path() + "/data/inside.key");
  comity::testing::WriteFile(config.encryption_key_file(), std::string(64, 'a'));
  EXPECT_EQ(server::LoadEncryptionKey(config, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ServerConfigTest, RefusesPlaintextOffLoopback) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path());
  config.set_listen_address("0.0.0.0:0");
  auto server = server::Server::Start(config, Clock::Real());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  config.set_listen_address("127.0.0.1:0");
  config.set_insecure_dev(false);
  EXPECT_EQ(server::Server::Start(config, Clock::Real()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(server::IsLoopbackAddress("[::1]:7700"));
  EXPECT_TRUE(server::IsLoopbackAddress("localhost:7700"));
  EXPECT_FALSE(server::IsLoopbackAddress("10.0.0.1:7700"));
}

TEST(ServerConfigTest, AMemoryBudgetTooSmallIsRefusedAndAGivenOneIsUsed) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path() + "/data");
  config.set_cache_mb(8);
  absl::Status small = server::Server::CheckConfig(config, "");
  EXPECT_EQ(small.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(small.message(), "cache_mb is 8")) << small;
  EXPECT_EQ(server::Server::Start(config, Clock::Real()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  config.set_cache_mb(64);
  config.set_metrics_address("127.0.0.1:0");
  auto server = server::Server::Start(config, Clock::Real());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(MetricValue(comity::testing::ScrapeMetrics((*server)->metrics_port()),
                        "comity_store_cache_capacity_bytes"),
            64 << 20);
}

}  // namespace
}  // namespace comity
