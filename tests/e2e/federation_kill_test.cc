// Federation across kill -9: two real comityd processes, each with its own CA, log key, data
// directory and directory. Actions queued for a peer that was killed, by a node then killed too,
// reach the peer exactly once and in order once both are back.

#include <signal.h>

#include <chrono>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon.h"
#include "tests/testing/federation.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::Daemon;
using comity::testing::WaitFor;

class FederationKillTest : public ::testing::Test, public comity::testing::FederationNodes {
 protected:
  // comityd for `id`, federated with `peer`, on its data directory (kept across restarts).
  std::unique_ptr<Daemon> Run(const std::string& id, const std::string& peer) {
    config::v1::ServerConfig c = Config(id, {peer});
    std::string text;
    google::protobuf::TextFormat::PrintToString(c, &text);
    const std::string path = Path(nodes_[id], "comityd.textproto");
    std::ofstream(path) << text;
    auto d = std::make_unique<Daemon>(
        c.data_dir(),
        std::vector<std::string>{"--config=" + path, "--directory=" + c.directory_file()});
    EXPECT_GT(d->port(), 0) << id << " did not start";
    return d;
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }
  static std::unique_ptr<v1::RequestService::Stub> Requests(const Daemon& d) {
    return v1::RequestService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", d.port()),
                                                           grpc::InsecureChannelCredentials()));
  }
  absl::StatusOr<v1::Request> Get(const Daemon& d, const std::string& principal,
                                  const std::string& name) {
    v1::GetRequestRequest req;
    req.set_name(name);
    v1::Request out;
    grpc::Status st = Requests(d)->GetRequest(As(principal).get(), req, &out);
    if (!st.ok()) return absl::UnavailableError(st.error_message());
    return out;
  }
  bool Knows(const Daemon& d, const std::string& principal, const std::string& authority) {
    auto stub = v1::DirectoryService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", d.port()), grpc::InsecureChannelCredentials()));
    v1::GetAuthorityRequest req;
    req.set_name(authority);
    v1::Authority out;
    return stub->GetAuthority(As(principal).get(), req, &out).ok();
  }
};

TEST_F(FederationKillTest, ActionsQueuedAcrossKill9AreDeliveredExactlyOnceInOrder) {
  const comity::testing::Node& fr = nodes_["fr"];
  const comity::testing::Node& de = nodes_["de"];
  std::unique_ptr<Daemon> de_node = Run("de", "fr");
  std::unique_ptr<Daemon> fr_node = Run("fr", "de");
  ASSERT_TRUE(WaitFor([&] { return Knows(*fr_node, fr.Principal("clerk"), de.authority); }));
  ASSERT_TRUE(WaitFor([&] { return Knows(*de_node, de.Principal("clerk"), fr.authority); }));

  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  v1::Request draft;
  ASSERT_TRUE(
      Requests(*fr_node)->CreateRequest(As(fr.Principal("clerk")).get(), create, &draft).ok());
  v1::SubmitRequestRequest submit;
  submit.set_name(draft.name());
  v1::Request submitted;
  ASSERT_TRUE(
      Requests(*fr_node)->SubmitRequest(As(fr.Principal("clerk")).get(), submit, &submitted).ok());
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft.name());
    return r.ok() && r->relayed(0).state() == v1::RELAY_DELIVERED;
  }));

  // DE dies; FR takes eight notes, each acknowledged as queued; then FR dies too.
  EXPECT_EQ(de_node->Kill(SIGKILL), -SIGKILL);
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    v1::AddNoteRequest note;
    note.set_name(draft.name());
    note.set_kind(v1::COMMENT);
    note.set_text(absl::StrCat("note ", i));
    v1::Request out;
    grpc::Status st = Requests(*fr_node)->AddNote(As(fr.Principal("clerk")).get(), note, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(out.relayed_size(), i + 2);
    EXPECT_EQ(out.relayed(i + 1).state(), v1::RELAY_QUEUED);
    keys.push_back(out.relayed(i + 1).key());
  }
  EXPECT_EQ(fr_node->Kill(SIGKILL), -SIGKILL);

  // Both back: every note reaches DE once, in the order FR took them.
  de_node = Run("de", "fr");
  fr_node = Run("fr", "de");
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft.name());
    if (!r.ok() || r->relayed_size() != 9) return false;
    for (const v1::RelayedAction& a : r->relayed()) {
      if (a.state() != v1::RELAY_DELIVERED) return false;
    }
    return true;
  }));
  auto audit = v1::AuditService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", de_node->port()), grpc::InsecureChannelCredentials()));
  v1::GetTrailRequest treq;
  treq.set_request(draft.name());
  v1::Trail trail;
  ASSERT_TRUE(audit->GetTrail(As(de.Principal("eve")).get(), treq, &trail).ok());
  std::vector<std::string> delivered;
  for (const v1::TrailEntry& e : trail.entries()) {
    if (e.entry().action() == v1::ADD_NOTE) delivered.push_back(e.entry().request_id());
  }
  EXPECT_EQ(delivered, keys);
}

}  // namespace
}  // namespace comity
