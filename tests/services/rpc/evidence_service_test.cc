// EvidenceService behind a real gRPC server on a loopback port, over a real RocksDB in a temporary
// directory: a package declared, uploaded in chunks, resumed after a dropped stream and after a
// restart, delivered, downloaded from any offset and erased; every entry on the trail; and each
// kind of bad input refused with its code and reason.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/sha256.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/audit/bundle.h"
#include "services/server/server.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::FullRequest;
using comity::testing::kAlice;
using comity::testing::kBinh;
using comity::testing::kGreta;
using comity::testing::kOdile;
using comity::testing::TempDir;

constexpr int kChunk = 1 << 20;

// `n` bytes that differ from chunk to chunk, starting with a marker to look for on disk.
std::string Bytes(size_t n, char seed) {
  std::string out = "EVIDENCE-MARKER-";
  out.reserve(n);
  for (size_t i = out.size(); i < n; ++i) out.push_back(static_cast<char>(seed + (i * 7) % 251));
  out.resize(n);
  return out;
}

// The reason of the first BadRequest violation or PreconditionFailure in `s`'s details.
std::string Reason(const grpc::Status& s) {
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) {
      return bad.field_violations(0).reason();
    }
    google::rpc::PreconditionFailure pre;
    if (any.UnpackTo(&pre) && pre.violations_size() > 0) return pre.violations(0).type();
  }
  return "";
}

// Every BadRequest violation's reason in `s`'s details, in order.
std::vector<std::string> Reasons(const grpc::Status& s) {
  std::vector<std::string> out;
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (!any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) out.push_back(v.reason());
  }
  return out;
}

class EvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    config::v1::ServerConfig config = comity::testing::TestServerConfig(dir_.path());
    config.set_timer_period_ms(-1);
    config.set_evidence_reserve_mb(1);
    config.set_evidence_quota_mb(quota_mb_);
    config.set_metrics_address("127.0.0.1:0");
    config.set_log_origin("comity.test/evidence");
    config.set_log_key_file(dir_.path() + "/log.key");
    comity::testing::WriteFile(config.log_key_file(), std::string(64, 'e'));
    server::Server::Options options;
    options.security_log = &log_;
    options.free_bytes = [this]() -> absl::StatusOr<uint64_t> { return free_; };
    auto server = server::Server::Start(config, Clock::Real(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(8 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials(), args);
    requests_ = v1::RequestService::NewStub(channel_);
    evidence_ = v1::EvidenceService::NewStub(channel_);
    audit_ = v1::AuditService::NewStub(channel_);
  }

  void Restart() {
    requests_.reset();
    evidence_.reset();
    audit_.reset();
    channel_.reset();
    server_.reset();
    Start();
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  template <typename Req>
  v1::Request Act(const std::string& principal,
                  grpc::Status (v1::RequestService::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                   v1::Request*),
                  Req req) {
    v1::Request out;
    grpc::Status s = ((*requests_).*method)(As(principal).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return out;
  }

  // A request from FR-CA to DE-BFJ that DE-BFJ has accepted: IN_EXECUTION.
  std::string InExecution() {
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest("budapest", v1::STORED_DATA_PRODUCTION);
    const std::string name = Act(kAlice, &v1::RequestService::Stub::CreateRequest, create).name();
    v1::SubmitRequestRequest submit;
    submit.set_name(name);
    Act(kAlice, &v1::RequestService::Stub::SubmitRequest, submit);
    v1::AcknowledgeRequestRequest ack;
    ack.set_name(name);
    Act(kGreta, &v1::RequestService::Stub::AcknowledgeRequest, ack);
    v1::AcceptRequestRequest accept;
    accept.set_name(name);
    EXPECT_EQ(Act(kGreta, &v1::RequestService::Stub::AcceptRequest, accept).state(),
              v1::IN_EXECUTION);
    return name;
  }

  grpc::Status Create(const std::string& principal, const std::string& request,
                      const std::vector<std::pair<std::string, std::string>>& items,
                      v1::EvidencePackage* out) {
    v1::CreatePackageRequest req;
    req.set_parent(request);
    for (const auto& [name, data] : items) {
      v1::PackageItem* item = req.add_items();
      item->set_name(name);
      item->set_category(v1::CONTENT);
      item->set_size_bytes(static_cast<int64_t>(data.size()));
      item->set_sha256(ToHex(Sha256(data)));
    }
    return evidence_->CreatePackage(As(principal).get(), req, out);
  }

  struct Uploaded {
    grpc::Status status;
    std::vector<v1::UploadAck> acks;
  };
  // Uploads `data` of `item` from `from` in chunks of `chunk` bytes; stops (closing the stream
  // early) after `max_chunks` if it is not negative. `corrupt` damages the chunk's digest.
  Uploaded Upload(const std::string& principal, const std::string& package, const std::string& item,
                  const std::string& data, int64_t from, int chunk = kChunk, int max_chunks = -1,
                  bool corrupt = false) {
    Uploaded out;
    auto ctx = As(principal);
    auto stream = evidence_->Upload(ctx.get());
    int sent = 0;
    for (int64_t at = from; at < static_cast<int64_t>(data.size()) && sent != max_chunks;
         at += chunk, ++sent) {
      v1::UploadChunk c;
      if (sent == 0) c.set_package(package);
      c.set_item(item);
      c.set_offset(at);
      c.set_data(data.substr(at, chunk));
      c.set_sha256(corrupt ? std::string(64, '0') : ToHex(Sha256(c.data())));
      if (!stream->Write(c)) break;
      v1::UploadAck ack;
      if (!stream->Read(&ack)) break;
      out.acks.push_back(ack);
    }
    stream->WritesDone();
    v1::UploadAck extra;
    while (stream->Read(&extra)) out.acks.push_back(extra);
    out.status = stream->Finish();
    return out;
  }

  struct Downloaded {
    grpc::Status status;
    std::string data;
    std::string item_sha256;
  };
  Downloaded Download(const std::string& principal, const std::string& package,
                      const std::string& item, int64_t offset) {
    Downloaded out;
    v1::DownloadRequest req;
    req.set_name(package);
    req.set_item(item);
    req.set_offset(offset);
    auto ctx = As(principal);
    auto reader = evidence_->Download(ctx.get(), req);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), offset + static_cast<int64_t>(out.data.size()));
      EXPECT_EQ(chunk.sha256(), ToHex(Sha256(chunk.data())));
      out.data += chunk.data();
      out.item_sha256 = chunk.item_sha256();
    }
    out.status = reader->Finish();
    return out;
  }

  v1::UploadStatus Status(const std::string& principal, const std::string& package) {
    v1::GetPackageRequest req;
    req.set_name(package);
    v1::UploadStatus out;
    grpc::Status s = evidence_->GetUploadStatus(As(principal).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::vector<v1::AuditEntry> Trail(const std::string& request) {
    v1::GetTrailRequest req;
    req.set_request(request);
    req.set_page_size(1000);
    v1::Trail trail;
    grpc::Status s = audit_->GetTrail(As(kOdile).get(), req, &trail);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::AuditEntry> out;
    for (const v1::TrailEntry& e : trail.entries()) out.push_back(e.entry());
    return out;
  }

  TempDir dir_;
  std::ostringstream log_;
  uint64_t free_ = uint64_t{1} << 40;
  int64_t quota_mb_ = 0;
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::EvidenceService::Stub> evidence_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

TEST_F(EvidenceTest, APackageIsUploadedResumedDeliveredDownloadedAndErasedOnTheTrail) {
  const std::string request = InExecution();
  const std::string mailbox = Bytes(3 * kChunk + 12345, 'a');
  const std::string logs = Bytes(1000, 'q');
  v1::EvidencePackage package;
  ASSERT_TRUE(
      Create(kGreta, request, {{"mailbox.mbox", mailbox}, {"logs.txt", logs}}, &package).ok());
  EXPECT_EQ(package.name(), request + "/packages/1");
  EXPECT_EQ(package.state(), v1::UPLOADING);
  EXPECT_EQ(package.creator(), kGreta);
  EXPECT_EQ(package.digest(), ToHex(Sha256(absl::StrCat(ToHex(Sha256(mailbox)), "  mailbox.mbox\n",
                                                        ToHex(Sha256(logs)), "  logs.txt\n"))));

  // Two chunks, then the stream drops: the status says where to resume.
  Uploaded first = Upload(kGreta, package.name(), "mailbox.mbox", mailbox, 0, kChunk, 2);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_EQ(first.acks.size(), 2u);
  EXPECT_EQ(first.acks[1].durable_bytes(), 2 * kChunk);
  EXPECT_FALSE(first.acks[1].complete());
  v1::UploadStatus status = Status(kGreta, package.name());
  ASSERT_EQ(status.items_size(), 2);
  EXPECT_EQ(status.items(0).durable_bytes(), 2 * kChunk);
  EXPECT_EQ(status.items(1).durable_bytes(), 0);

  // The node restarts; the upload resumes from the durable offset and completes.
  Restart();
  EXPECT_EQ(Status(kGreta, package.name()).items(0).durable_bytes(), 2 * kChunk);
  Uploaded rest = Upload(kGreta, package.name(), "mailbox.mbox", mailbox, 2 * kChunk);
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_EQ(rest.acks.size(), 2u);
  EXPECT_TRUE(rest.acks.back().complete());
  EXPECT_EQ(rest.acks.back().durable_bytes(), static_cast<int64_t>(mailbox.size()));
  Uploaded small = Upload(kGreta, package.name(), "logs.txt", logs, 0);
  ASSERT_TRUE(small.status.ok()) << small.status.error_message();
  ASSERT_EQ(small.acks.size(), 1u);
  EXPECT_TRUE(small.acks[0].complete());
  status = Status(kGreta, package.name());
  EXPECT_EQ(status.state(), v1::COMPLETE);
  EXPECT_TRUE(status.items(0).complete());
  EXPECT_TRUE(status.items(1).complete());

  // Before delivery the requesting side cannot download it.
  EXPECT_EQ(Download(kAlice, package.name(), "logs.txt", 0).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(request);
  deliver.mutable_delivery()->set_final(true);
  deliver.mutable_delivery()->add_packages(package.name());
  const v1::Request delivered = Act(kGreta, &v1::RequestService::Stub::DeliverEvidence, deliver);
  EXPECT_EQ(delivered.state(), v1::EXECUTED);
  ASSERT_EQ(delivered.deliveries(0).items_size(), 2);
  EXPECT_EQ(delivered.deliveries(0).items(0).sha256(), ToHex(Sha256(mailbox)));
  EXPECT_EQ(delivered.packages(0).state(), v1::DELIVERED);
  EXPECT_EQ(delivered.packages(0).delivery(), 1);

  // After the final delivery nothing more is uploaded.
  Uploaded late = Upload(kGreta, package.name(), "logs.txt", logs, 0);
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // The requesting side downloads, whole and from an offset inside a chunk.
  Downloaded whole = Download(kAlice, package.name(), "mailbox.mbox", 0);
  ASSERT_TRUE(whole.status.ok()) << whole.status.error_message();
  EXPECT_TRUE(whole.data == mailbox);
  EXPECT_EQ(whole.item_sha256, ToHex(Sha256(mailbox)));
  Downloaded tail = Download(kAlice, package.name(), "mailbox.mbox", kChunk + 77);
  ASSERT_TRUE(tail.status.ok()) << tail.status.error_message();
  EXPECT_TRUE(tail.data == mailbox.substr(kChunk + 77));
  // The receiving side's users and third authorities do not.
  EXPECT_EQ(Download(kGreta, package.name(), "mailbox.mbox", 0).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Download(kBinh, package.name(), "mailbox.mbox", 0).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(absl::StrContains(comity::testing::ReadEveryFile(dir_.path()), "EVIDENCE-MARKER-"));

  // The requesting side erases it: downloads fail, the trail stays whole.
  v1::ErasePackageRequest erase;
  erase.set_name(package.name());
  erase.set_reasons("retention period ended");
  v1::EvidencePackage erased;
  grpc::Status e = evidence_->ErasePackage(As(kAlice).get(), erase, &erased);
  ASSERT_TRUE(e.ok()) << e.error_message();
  EXPECT_EQ(erased.state(), v1::ERASED);
  EXPECT_EQ(Download(kAlice, package.name(), "logs.txt", 0).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<v1::AuditEntry> evidence_entries;
  for (const v1::AuditEntry& entry : Trail(request)) {
    if (entry.has_evidence() || entry.action() == v1::DELIVER) evidence_entries.push_back(entry);
  }
  ASSERT_EQ(evidence_entries.size(), 7u);
  EXPECT_EQ(evidence_entries[0].action(), v1::CREATE_PACKAGE);
  EXPECT_EQ(evidence_entries[0].evidence().sha256(), package.digest());
  EXPECT_EQ(evidence_entries[1].action(), v1::UPLOAD_ITEM);
  EXPECT_EQ(evidence_entries[1].evidence().item(), "mailbox.mbox");
  EXPECT_EQ(evidence_entries[1].evidence().sha256(), ToHex(Sha256(mailbox)));
  EXPECT_EQ(evidence_entries[1].actor().principal(), kGreta);
  EXPECT_EQ(evidence_entries[2].action(), v1::UPLOAD_ITEM);
  EXPECT_EQ(evidence_entries[3].action(), v1::DELIVER);
  EXPECT_EQ(evidence_entries[3].attachments_size(), 2);
  ASSERT_EQ(evidence_entries[3].packages_size(), 1);
  EXPECT_EQ(evidence_entries[3].packages(0), package.name());
  EXPECT_EQ(evidence_entries[4].action(), v1::DOWNLOAD);
  EXPECT_EQ(evidence_entries[4].actor().principal(), kAlice);
  EXPECT_EQ(evidence_entries[4].evidence().offset(), 0);
  EXPECT_TRUE(evidence_entries[4].evidence().complete());
  EXPECT_EQ(evidence_entries[5].action(), v1::DOWNLOAD);
  EXPECT_EQ(evidence_entries[5].evidence().offset(), kChunk + 77);
  EXPECT_EQ(evidence_entries[5].evidence().length(),
            static_cast<int64_t>(mailbox.size()) - kChunk - 77);
  // Each download to the item's end carries the node's RETRIEVAL receipt, verified below.
  for (int i : {4, 5}) {
    ASSERT_EQ(evidence_entries[i].receipts_size(), 1);
    EXPECT_EQ(evidence_entries[i].receipts(0).kind(), v1::RETRIEVAL);
    EXPECT_EQ(evidence_entries[i].receipts(0).key(),
              absl::StrCat(package.name(), "/", ToHex(Sha256(mailbox))));
  }
  EXPECT_EQ(evidence_entries[0].receipts_size(), 0);
  EXPECT_EQ(evidence_entries[6].action(), v1::ERASE_PACKAGE);
  EXPECT_EQ(evidence_entries[6].evidence().sha256(), package.digest());
  EXPECT_EQ(evidence_entries[6].reasons(), "retention period ended");

  // An operator sees the bytes moved (the node restarted after the first two chunks).
  const std::string metrics = comity::testing::ScrapeMetrics(server_->metrics_port());
  EXPECT_TRUE(
      absl::StrContains(metrics, absl::StrCat("comity_evidence_bytes_total{direction=\"upload\"} ",
                                              mailbox.size() - 2 * kChunk + logs.size())))
      << metrics;
  EXPECT_TRUE(absl::StrContains(metrics,
                                absl::StrCat("comity_evidence_bytes_total{direction=\"download\"} ",
                                             2 * mailbox.size() - kChunk - 77)))
      << metrics;

  // After the erasure the trail still verifies offline, whole, against the signed checkpoint.
  v1::GetTrailRequest export_req;
  export_req.set_request(request);
  v1::TrailBundle bundle;
  grpc::Status exported = audit_->ExportTrail(As(kOdile).get(), export_req, &bundle);
  ASSERT_TRUE(exported.ok()) << exported.error_message();
  absl::StatusOr<audit::BundleVerdict> verdict =
      audit::VerifyBundle(bundle, bundle.trail().checkpoint().verifier_key());
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_EQ(verdict->entries, static_cast<uint64_t>(bundle.trail().entries_size()));
  EXPECT_EQ(verdict->receipts, 2u);
}

TEST_F(EvidenceTest, BadChunksAndWrongCallersAreRefusedWithTheRuleAndNothingPartialIsComplete) {
  const std::string request = InExecution();
  const std::string data = Bytes(2 * kChunk, 'z');
  v1::EvidencePackage package;
  // Only the receiving side's responder declares packages; items are checked.
  EXPECT_EQ(Create(kAlice, request, {{"a.bin", data}}, &package).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Create(kBinh, request, {{"a.bin", data}}, &package).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::Status bad =
      Create(kGreta, request, {{"dir/a.bin", data}, {"b", data}, {"b", data}}, &package);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reasons(bad), (std::vector<std::string>{"ITEM_NAME_FORMAT", "DUPLICATE"}));
  ASSERT_TRUE(Create(kGreta, request, {{"a.bin", data}}, &package).ok());

  Uploaded wrong_digest = Upload(kGreta, package.name(), "a.bin", data, 0, kChunk, 1, true);
  EXPECT_EQ(wrong_digest.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(wrong_digest.status), "CHUNK_DIGEST_MISMATCH");
  Uploaded gap = Upload(kGreta, package.name(), "a.bin", data, kChunk);
  EXPECT_EQ(gap.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(gap.status.error_message(), "resume from 0"))
      << gap.status.error_message();
  Uploaded oversized = Upload(kGreta, package.name(), "a.bin", Bytes(5 << 20, 'o'), 0, 5 << 20, 1);
  EXPECT_NE(oversized.status.error_code(), grpc::StatusCode::OK);
  Uploaded overrun = Upload(kGreta, package.name(), "a.bin", data + "x", 0, kChunk * 2 + 1, 1);
  EXPECT_EQ(overrun.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(overrun.status), "CHUNK_OVERRUNS_ITEM");
  Uploaded unknown = Upload(kGreta, package.name(), "nope.bin", data, 0);
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  Uploaded requesting = Upload(kAlice, package.name(), "a.bin", data, 0);
  EXPECT_EQ(requesting.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Uploaded hidden = Upload(kBinh, package.name(), "a.bin", data, 0);
  EXPECT_EQ(hidden.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Status(kGreta, package.name()).items(0).durable_bytes(), 0);

  // The whole item hashes to something else than declared: refused with both digests, and the
  // item starts again from 0.
  std::string other = data;
  other[kChunk + 5] ^= 1;
  Uploaded mismatch = Upload(kGreta, package.name(), "a.bin", other, 0);
  EXPECT_EQ(mismatch.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(mismatch.status), "ITEM_DIGEST_MISMATCH");
  EXPECT_TRUE(absl::StrContains(mismatch.status.error_message(), ToHex(Sha256(other))));
  EXPECT_TRUE(absl::StrContains(mismatch.status.error_message(), ToHex(Sha256(data))));
  v1::UploadStatus status = Status(kGreta, package.name());
  EXPECT_EQ(status.items(0).durable_bytes(), 0);
  EXPECT_FALSE(status.items(0).complete());
  EXPECT_EQ(status.state(), v1::UPLOADING);

  // An incomplete package is not delivered.
  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(request);
  deliver.mutable_delivery()->add_packages(package.name());
  v1::Request out;
  grpc::Status early = requests_->DeliverEvidence(As(kGreta).get(), deliver, &out);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(early.error_message(), "a.bin is not uploaded yet"))
      << early.error_message();

  // A nearly full disk refuses the chunk; once space is freed the upload resumes.
  free_ = 1 << 20;
  Uploaded full = Upload(kGreta, package.name(), "a.bin", data, 0);
  EXPECT_EQ(full.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(full.status.error_message(), "resumes from 0"));
  free_ = uint64_t{1} << 40;
  Uploaded done = Upload(kGreta, package.name(), "a.bin", data, 0);
  ASSERT_TRUE(done.status.ok()) << done.status.error_message();
  EXPECT_TRUE(done.acks.back().complete());

  // The receiving side may erase what it has not delivered; then nothing more lands in it.
  v1::ErasePackageRequest erase;
  erase.set_name(package.name());
  EXPECT_EQ(evidence_->ErasePackage(As(kGreta).get(), erase, &package).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // reasons are required
  erase.set_reasons("uploaded to the wrong request");
  EXPECT_EQ(evidence_->ErasePackage(As(kAlice).get(), erase, &package).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // not delivered: not the requesting side's
  grpc::Status e = evidence_->ErasePackage(As(kGreta).get(), erase, &package);
  ASSERT_TRUE(e.ok()) << e.error_message();
  EXPECT_EQ(package.state(), v1::ERASED);
  EXPECT_EQ(evidence_->ErasePackage(As(kGreta).get(), erase, &package).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(EvidenceTest, AnAuthorityQuotaRefusesAPackageThatWouldPassItUntilSpaceIsErased) {
  quota_mb_ = 3;
  Restart();
  const std::string request = InExecution();
  const std::string two = Bytes(2 << 20, 'x');
  v1::EvidencePackage first, second;
  ASSERT_TRUE(Create(kGreta, request, {{"one.bin", two}}, &first).ok());
  grpc::Status over = Create(kGreta, request, {{"two.bin", two}}, &second);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(over.error_message(), "authorities/DE-BFJ holds 2097152 bytes"))
      << over.error_message();
  EXPECT_TRUE(absl::StrContains(over.error_message(), "evidence_quota_mb"));
  // A caller who may not see the request learns nothing of the quota.
  EXPECT_EQ(Create(kBinh, request, {{"two.bin", two}}, &second).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::GetStatisticsRequest stats_req;
  stats_req.set_side(v1::RECEIVING);
  v1::Statistics stats;
  ASSERT_TRUE(audit_->GetStatistics(As(kGreta).get(), stats_req, &stats).ok());
  EXPECT_EQ(stats.evidence_bytes(), 2u << 20);

  v1::ErasePackageRequest erase;
  erase.set_name(first.name());
  erase.set_reasons("declared in error");
  ASSERT_TRUE(evidence_->ErasePackage(As(kGreta).get(), erase, &first).ok());
  ASSERT_TRUE(audit_->GetStatistics(As(kGreta).get(), stats_req, &stats).ok());
  EXPECT_EQ(stats.evidence_bytes(), 0u);
  EXPECT_TRUE(Create(kGreta, request, {{"two.bin", two}}, &second).ok());
}

}  // namespace
}  // namespace comity
