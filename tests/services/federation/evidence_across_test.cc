// Evidence across the border, between real nodes on loopback: a package the system of record (DE)
// delivers is fetched by the requesting node (FR) over the federation channel, resumed where it
// stopped after an interruption (a full disk, then a restart), checked against the digests of
// DE's signed trail, kept under FR's own key and downloaded at FR; DE's trail shows each fetch
// with its retrieval receipt, FR's the package fetched; an erasure relayed to DE takes FR's copy.

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "comity/v1/federation.grpc.pb.h"
#include "common/sha256.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/audit/receipt.h"
#include "services/rpc/status.h"
#include "services/workflow/errors.h"
#include "tests/testing/federation.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/node_calls.h"

namespace comity {
namespace {

using comity::testing::Call;
using comity::testing::EntriesAt;
using comity::testing::Get;
using comity::testing::LocalTrail;
using comity::testing::Node;
using comity::testing::WaitFor;

constexpr int kChunk = 256 << 10;

std::string Bytes(size_t n, char seed) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(seed + (i * 13) % 241));
  return out;
}

class EvidenceAcrossTest : public ::testing::Test, public comity::testing::FederationNodes {
 protected:
  std::unique_ptr<server::Server> Start(const std::string& id,
                                        const std::vector<std::string>& peers,
                                        server::Server::Options options = {}) {
    options.security_log = &log_;
    auto s = server::Server::Start(Config(id, peers), Clock::Real(), options);
    if (!s.ok()) ADD_FAILURE() << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  static std::unique_ptr<v1::EvidenceService::Stub> Evidence(const server::Server& s) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(8 << 20);
    return v1::EvidenceService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", s.port()), grpc::InsecureChannelCredentials(), args));
  }

  struct Downloaded {
    grpc::Status status;
    std::string data;
  };
  static Downloaded Download(const server::Server& s, const std::string& principal,
                             const std::string& package, const std::string& item) {
    v1::DownloadRequest req;
    req.set_name(package);
    req.set_item(item);
    auto ctx = As(principal);
    auto stub = Evidence(s);
    auto reader = stub->Download(ctx.get(), req);
    Downloaded out;
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) out.data += chunk.data();
    out.status = reader->Finish();
    return out;
  }

  static v1::UploadStatus Status(const server::Server& s, const std::string& principal,
                                 const std::string& package) {
    v1::GetPackageRequest req;
    req.set_name(package);
    v1::UploadStatus out;
    grpc::Status st = Evidence(s)->GetUploadStatus(As(principal).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  // FR's clerk asks DE's authority to produce stored data; DE's clerk accepts it at DE: the
  // request's name, IN_EXECUTION at both nodes.
  std::string InExecutionAcross(const server::Server& fr_node, const server::Server& de_node) {
    const Node& fr = nodes_["fr"];
    const Node& de = nodes_["de"];
    auto directory = [](const server::Server& s, const std::string& admin,
                        const std::string& authority) {
      return WaitFor([&] {
        auto stub = v1::DirectoryService::NewStub(grpc::CreateChannel(
            absl::StrCat("127.0.0.1:", s.port()), grpc::InsecureChannelCredentials()));
        v1::ListAuthoritiesResponse out;
        if (!stub->ListAuthorities(As(admin).get(), {}, &out).ok()) return false;
        for (const v1::Authority& a : out.authorities()) {
          if (a.name() == authority) return true;
        }
        return false;
      });
    };
    if (!directory(fr_node, fr.Principal("admin"), de.authority) ||
        !directory(de_node, de.Principal("admin"), fr.authority)) {
      ADD_FAILURE() << "the nodes never held each other's directories";
      return "";
    }
    v1::CreateRequestRequest create;
    *create.mutable_request() =
        comity::testing::FullRequest("budapest", v1::STORED_DATA_PRODUCTION);
    create.mutable_request()->set_requested_authority(de.authority);
    absl::StatusOr<v1::Request> draft =
        Call(fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
    if (!draft.ok()) {
      ADD_FAILURE() << draft.status();
      return "";
    }
    const std::string name = draft->name();
    v1::SubmitRequestRequest submit;
    submit.set_name(name);
    EXPECT_TRUE(
        Call(fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit)
            .ok());
    if (!WaitFor([&] { return Get(de_node, de.Principal("clerk"), name).ok(); })) {
      ADD_FAILURE() << "the submission did not cross";
      return "";
    }
    v1::AcknowledgeRequestRequest ack;
    ack.set_name(name);
    EXPECT_TRUE(
        Call(de_node, de.Principal("clerk"), &v1::RequestService::Stub::AcknowledgeRequest, ack)
            .ok());
    v1::AcceptRequestRequest accept;
    accept.set_name(name);
    absl::StatusOr<v1::Request> accepted =
        Call(de_node, de.Principal("clerk"), &v1::RequestService::Stub::AcceptRequest, accept);
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    EXPECT_EQ(accepted.ok() ? accepted->state() : v1::STATE_UNSPECIFIED, v1::IN_EXECUTION);
    return name;
  }

  // DE's clerk declares, uploads and delivers (finally) a package of `items`: its name.
  std::string DeliverAtDe(const server::Server& de_node, const std::string& request,
                          const std::vector<std::pair<std::string, std::string>>& items) {
    const Node& de = nodes_["de"];
    auto stub = Evidence(de_node);
    v1::CreatePackageRequest create;
    create.set_parent(request);
    for (const auto& [name, data] : items) {
      v1::PackageItem* item = create.add_items();
      item->set_name(name);
      item->set_category(v1::CONTENT);
      item->set_size_bytes(static_cast<int64_t>(data.size()));
      item->set_sha256(ToHex(Sha256(data)));
    }
    v1::EvidencePackage package;
    grpc::Status created = stub->CreatePackage(As(de.Principal("clerk")).get(), create, &package);
    EXPECT_TRUE(created.ok()) << created.error_message();
    for (const auto& [name, data] : items) {
      auto ctx = As(de.Principal("clerk"));
      auto upload = stub->Upload(ctx.get());
      for (size_t at = 0; at < data.size(); at += kChunk) {
        v1::UploadChunk c;
        c.set_package(package.name());
        c.set_item(name);
        c.set_offset(static_cast<int64_t>(at));
        c.set_data(data.substr(at, kChunk));
        c.set_sha256(ToHex(Sha256(c.data())));
        v1::UploadAck ack;
        EXPECT_TRUE(upload->Write(c) && upload->Read(&ack));
      }
      upload->WritesDone();
      grpc::Status uploaded = upload->Finish();
      EXPECT_TRUE(uploaded.ok()) << uploaded.error_message();
    }
    v1::DeliverEvidenceRequest deliver;
    deliver.set_name(request);
    deliver.mutable_delivery()->set_final(true);
    deliver.mutable_delivery()->add_packages(package.name());
    absl::StatusOr<v1::Request> delivered =
        Call(de_node, de.Principal("clerk"), &v1::RequestService::Stub::DeliverEvidence, deliver);
    EXPECT_TRUE(delivered.ok()) << delivered.status();
    return package.name();
  }

  std::ostringstream log_;
};

TEST_F(EvidenceAcrossTest, ADeliveredPackageIsFetchedResumedAfterAnInterruptionAndKeptHere) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  // FR's disk takes the first chunk it fetches, then reports itself full until `full` is cleared.
  std::atomic<int> appends{0};
  std::atomic<bool> full{true};
  server::Server::Options filling;
  filling.free_bytes = [&]() -> absl::StatusOr<uint64_t> {
    return appends.fetch_add(1) >= 1 && full.load() ? 0 : uint64_t{1} << 40;
  };
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"}, filling);
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  ASSERT_NE(fr_node, nullptr);
  ASSERT_NE(de_node, nullptr);
  const std::string request = InExecutionAcross(*fr_node, *de_node);
  ASSERT_FALSE(request.empty());
  const std::string mailbox = Bytes(3 * kChunk + 4321, 'm');
  const std::string logs = Bytes(999, 'l');
  const std::string package =
      DeliverAtDe(*de_node, request, {{"mailbox.mbox", mailbox}, {"logs.txt", logs}});
  const std::string fr_node_id = "spiffe://fr.comity.test/node/fr";

  // The fetch stops after the first chunk (FR's disk is full) and is tried again from there.
  auto fetches = [&](const server::Server& s, const std::string& reader) {
    std::vector<v1::AuditEntry> out;
    for (const v1::AuditEntry& e : EntriesAt(s, reader, request)) {
      if (e.action() == v1::DOWNLOAD && e.actor().principal() == fr_node_id) out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return fetches(*de_node, de.Principal("eve")).size() >= 2; }));
  v1::UploadStatus partial = Status(*fr_node, fr.Principal("clerk"), package);
  ASSERT_EQ(partial.items_size(), 2);
  EXPECT_EQ(partial.items(0).fetched_bytes(), kChunk);
  EXPECT_EQ(partial.items(1).fetched_bytes(), 0);
  // Until the package is here whole, FR's users are told how far it has got.
  Downloaded early = Download(*fr_node, fr.Principal("clerk"), package, "mailbox.mbox");
  EXPECT_EQ(early.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(
      early.status.error_message(),
      absl::StrCat("item mailbox.mbox has ", kChunk, " of ", mailbox.size(), " bytes here")))
      << early.status.error_message();
  EXPECT_EQ(workflow::PreconditionViolationsOf(rpc::FromGrpcStatus(early.status)).at(0).type,
            "FETCHING");

  // FR restarts with room on its disk: the fetch resumes from the durable chunk.
  fr_node->Shutdown(absl::Seconds(1));
  fr_node.reset();
  full = false;
  fr_node = Start("fr", {"de"}, filling);
  ASSERT_NE(fr_node, nullptr);
  auto fetched = [&]() -> std::vector<v1::AuditEntry> {
    std::vector<v1::AuditEntry> out;
    for (const v1::AuditEntry& e : LocalTrail(*fr_node, fr.Principal("eve"), request)) {
      if (e.action() == v1::FETCH_PACKAGE) out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return !fetched().empty(); })) << log_.str();

  // FR's trail: the package fetched once, whole, by the node.
  const std::vector<v1::AuditEntry> recorded = fetched();
  ASSERT_EQ(recorded.size(), 1u);
  const v1::AuditEntry& f = recorded[0];
  EXPECT_EQ(f.actor().principal(), "system");
  EXPECT_EQ(f.actor().side(), v1::SYSTEM);
  EXPECT_EQ(f.evidence().package(), package);
  EXPECT_EQ(f.evidence().length(), static_cast<int64_t>(mailbox.size() + logs.size()));
  EXPECT_EQ(f.reasons(),
            absl::StrCat("fetched from node de: 2 items, ", mailbox.size() + logs.size(),
                         " bytes, each item's SHA-256 checked; held under this node's key"));
  absl::StatusOr<v1::Request> held = Get(*fr_node, fr.Principal("clerk"), request);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(f.evidence().sha256(), held->packages(0).digest());
  ASSERT_EQ(held->fetched_size(), 1);
  EXPECT_EQ(held->fetched(0), package);

  // DE's trail: every fetch of the mailbox after the first resumed where FR stood (never from 0
  // again), each recorded for FR's authority by FR's node, with DE's signed retrieval receipt.
  std::vector<v1::AuditEntry> at_de = fetches(*de_node, de.Principal("eve"));
  int mailbox_fetches = 0, logs_fetches = 0;
  for (const v1::AuditEntry& e : at_de) {
    EXPECT_EQ(e.actor().authority(), fr.authority);
    EXPECT_EQ(e.actor().side(), v1::REQUESTING);
    if (e.evidence().item() == "mailbox.mbox") {
      EXPECT_EQ(e.evidence().offset(), mailbox_fetches == 0 ? 0 : kChunk);
      ++mailbox_fetches;
    } else {
      EXPECT_EQ(e.evidence().item(), "logs.txt");
      EXPECT_EQ(e.evidence().offset(), 0);
      ++logs_fetches;
    }
    ASSERT_EQ(e.receipts_size(), 1);
    EXPECT_EQ(e.receipts(0).kind(), v1::RETRIEVAL);
    EXPECT_TRUE(audit::VerifyReceipt(e.receipts(0), e, de.verifier_key).ok());
  }
  EXPECT_GE(mailbox_fetches, 2);
  EXPECT_EQ(logs_fetches, 1);

  // FR's users download it at FR, from FR's own copy; the download is on FR's trail.
  Downloaded here = Download(*fr_node, fr.Principal("clerk"), package, "mailbox.mbox");
  ASSERT_TRUE(here.status.ok()) << here.status.error_message();
  EXPECT_TRUE(here.data == mailbox);  // (not EXPECT_EQ: a mismatch would print 800 KB)
  EXPECT_EQ(Download(*fr_node, fr.Principal("clerk"), package, "logs.txt").data, logs);
  const std::vector<v1::AuditEntry> local = LocalTrail(*fr_node, fr.Principal("eve"), request);
  const v1::AuditEntry& last = local.back();
  EXPECT_EQ(last.action(), v1::DOWNLOAD);
  EXPECT_EQ(last.actor().principal(), fr.Principal("clerk"));
  ASSERT_EQ(last.receipts_size(), 1);
  EXPECT_TRUE(audit::VerifyReceipt(last.receipts(0), last, fr.verifier_key).ok());
  v1::UploadStatus whole = Status(*fr_node, fr.Principal("clerk"), package);
  EXPECT_EQ(whole.items(0).fetched_bytes(), static_cast<int64_t>(mailbox.size()));
  EXPECT_EQ(whole.items(1).fetched_bytes(), static_cast<int64_t>(logs.size()));

  // FR's clerk erases the package: relayed to DE, and FR's copy goes when DE's erasure is back.
  const std::string package_dir = absl::StrCat(fr.dir, "/evidence/", request.substr(9), "/000001");
  struct stat st {};
  ASSERT_EQ(stat(package_dir.c_str(), &st), 0) << package_dir;
  v1::ErasePackageRequest erase;
  erase.set_name(package);
  erase.set_reasons("retention ended");
  v1::EvidencePackage erased;
  grpc::Status erasing =
      Evidence(*fr_node)->ErasePackage(As(fr.Principal("clerk")).get(), erase, &erased);
  ASSERT_TRUE(erasing.ok()) << erasing.error_message();
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), request);
    return r.ok() && r->packages(0).state() == v1::ERASED && stat(package_dir.c_str(), &st) != 0;
  })) << Get(*fr_node, fr.Principal("clerk"), request)->DebugString()
      << log_.str();
  EXPECT_EQ(Download(*fr_node, fr.Principal("clerk"), package, "logs.txt").status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// A node that serves the requesting node bytes other than those its trail names: each chunk and
// the whole item are checked before they are kept, so nothing of them is kept, and the fetch
// starts again from 0 with the genuine node.
class Forger final : public v1::FederationService::Service {
 public:
  // `consistent`: each chunk's digest matches its (altered) bytes, so only the item's whole
  // digest can tell.
  explicit Forger(bool consistent) : consistent_(consistent) {}
  grpc::Status FetchEvidence(grpc::ServerContext*, const v1::DownloadRequest* req,
                             grpc::ServerWriter<v1::DownloadChunk>* writer) override {
    offsets_.push_back(req->offset());
    v1::DownloadChunk chunk;
    chunk.set_offset(req->offset());
    chunk.set_data(std::string(static_cast<size_t>(size_ - req->offset()), 'X'));
    chunk.set_sha256(consistent_ ? ToHex(Sha256(chunk.data())) : std::string(64, '0'));
    chunk.set_size_bytes(size_);
    chunk.set_item_sha256(sha256_);
    writer->Write(chunk);
    return grpc::Status::OK;
  }
  void Item(int64_t size, const std::string& sha256) {
    size_ = size;
    sha256_ = sha256;
  }
  // The offsets asked for, in order. Read once the server is shut down.
  std::vector<int64_t> offsets_;

 private:
  const bool consistent_;
  int64_t size_ = 0;
  std::string sha256_;
};

TEST_F(EvidenceAcrossTest, BytesOtherThanTheTrailNamesAreNeverKept) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  std::atomic<bool> full{true};  // FR's disk takes nothing until the forger is in place
  server::Server::Options filling;
  filling.free_bytes = [&]() -> absl::StatusOr<uint64_t> {
    return full.load() ? 0 : uint64_t{1} << 40;
  };
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"}, filling);
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  const std::string request = InExecutionAcross(*fr_node, *de_node);
  ASSERT_FALSE(request.empty());
  const std::string data = Bytes(5000, 'd');
  const std::string package = DeliverAtDe(*de_node, request, {{"a.bin", data}});
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), request);
    return r.ok() && r->packages_size() == 1 && r->packages(0).state() == v1::DELIVERED;
  }));
  de_node->Shutdown(absl::Seconds(1));
  de_node.reset();

  for (bool consistent : {false, true}) {
    SCOPED_TRACE(consistent ? "self-consistent chunks" : "damaged chunks");
    // A server with DE's node certificate on DE's federation port, serving other bytes.
    Forger forger(consistent);
    forger.Item(static_cast<int64_t>(data.size()), ToHex(Sha256(data)));
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = fr.ca.cert_pem;
    tls.pem_key_cert_pairs.push_back({de.cert.key_pem, de.cert.cert_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", de.federation_port),
                             grpc::SslServerCredentials(tls));
    builder.RegisterService(&forger);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    const uint64_t before = fr_node->federation()->fetcher().Packages();
    const uint64_t asked = fr_node->federation()->fetcher().Attempts();
    full = false;
    // FR asks, is refused what it gets, and asks again from 0: it kept nothing.
    ASSERT_TRUE(WaitFor([&] {
      return Status(*fr_node, fr.Principal("clerk"), package).items(0).fetched_bytes() == 0 &&
             fr_node->federation()->fetcher().Attempts() >= asked + 3;
    }));
    full = true;
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    ASSERT_GE(forger.offsets_.size(), 2u);
    for (int64_t offset : forger.offsets_) EXPECT_EQ(offset, 0);
    EXPECT_EQ(fr_node->federation()->fetcher().Packages(), before);
    EXPECT_EQ(Status(*fr_node, fr.Principal("clerk"), package).items(0).fetched_bytes(), 0);
  }
  for (const v1::AuditEntry& e : LocalTrail(*fr_node, fr.Principal("eve"), request)) {
    EXPECT_NE(e.action(), v1::FETCH_PACKAGE);
  }

  // The genuine node back: the genuine bytes, fetched whole.
  full = false;
  de_node = Start("de", {"fr"});
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), request);
    return r.ok() && r->fetched_size() == 1;
  }));
  EXPECT_EQ(Download(*fr_node, fr.Principal("clerk"), package, "a.bin").data, data);
}

// Only the requesting authority's node fetches, and only from the node that keeps the request.
TEST_F(EvidenceAcrossTest, OnlyTheRequestingNodeFetches) {
  const Node& fr = nodes_["fr"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de", "xx"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr", "xx"});
  std::unique_ptr<server::Server> xx_node = Start("xx", {"fr", "de"});
  ASSERT_NE(xx_node, nullptr);
  const std::string request = InExecutionAcross(*fr_node, *de_node);
  ASSERT_FALSE(request.empty());
  const std::string package = DeliverAtDe(*de_node, request, {{"a.bin", Bytes(1000, 'a')}});

  auto fetch = [&](const Node& to, const Node& as) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = to.ca.cert_pem;
    tls.pem_cert_chain = as.cert.cert_pem;
    tls.pem_private_key = as.cert.key_pem;
    auto stub = v1::FederationService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", to.federation_port), grpc::SslCredentials(tls)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DownloadRequest req;
    req.set_name(package);
    req.set_item("a.bin");
    auto reader = stub->FetchEvidence(&ctx, req);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  // A third node, whose authority is neither party, learns nothing of the request.
  EXPECT_EQ(fetch(nodes_["de"], nodes_["xx"]).error_code(), grpc::StatusCode::NOT_FOUND);
  // FR's own fetch goes through.
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), request);
    return r.ok() && r->fetched_size() == 1;
  }));
  EXPECT_TRUE(fetch(nodes_["de"], nodes_["fr"]).ok());
}

}  // namespace
}  // namespace comity
