// Federation between real nodes on loopback, each with its own CA, trust domain, log key and
// directory: the peers' signed directory snapshots, and who may speak for a peer.

#include "tests/testing/federation.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/federation.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/files.h"
#include "common/sha256.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/audit/bundle.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/audit/note.h"
#include "services/audit/receipt.h"
#include "services/federation/snapshot.h"
#include "services/rpc/status.h"
#include "services/server/server.h"
#include "services/workflow/errors.h"
#include "services/workflow/timeutil.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/node_calls.h"

namespace comity {
namespace {

using comity::testing::Call;
using comity::testing::ExpectLastEntry;
using comity::testing::FreePort;
using comity::testing::Get;
using comity::testing::KeyAndCert;
using comity::testing::LocalTrail;
using comity::testing::MakeCa;
using comity::testing::MakeLeaf;
using comity::testing::Node;
using comity::testing::TempDir;
using comity::testing::WaitFor;
using comity::testing::WriteFile;

class FederationTest : public ::testing::Test, public comity::testing::FederationNodes {
 protected:
  std::unique_ptr<server::Server> Start(const std::string& id,
                                        const std::vector<std::string>& peers) {
    return Start(Config(id, peers));
  }
  std::unique_ptr<server::Server> Start(const config::v1::ServerConfig& config) {
    auto s = server::Server::Start(config, Clock::Real());
    if (!s.ok()) ADD_FAILURE() << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const server::Server& s) {
    return Service::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.port()),
                                                grpc::InsecureChannelCredentials()));
  }

  // The authorities `s` lists, as `principal` (development header) sees them.
  std::map<std::string, v1::Authority> Authorities(const server::Server& s,
                                                   const std::string& principal) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", principal);
    v1::ListAuthoritiesResponse out;
    EXPECT_TRUE(Stub<v1::DirectoryService>(s)->ListAuthorities(&ctx, {}, &out).ok());
    std::map<std::string, v1::Authority> by_name;
    for (const v1::Authority& a : out.authorities()) by_name[a.name()] = a;
    return by_name;
  }

  // The entries of `s`'s directory trail.
  std::vector<v1::AuditEntry> DirectoryTrail(const server::Server& s, const Node& n) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", n.Principal("eve"));
    v1::GetTrailRequest req;
    req.set_request("directory");
    v1::Trail trail;
    grpc::Status st = Stub<v1::AuditService>(s)->GetTrail(&ctx, req, &trail);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<v1::AuditEntry> out;
    for (const auto& e : trail.entries()) out.push_back(e.entry());
    return out;
  }

  // A FederationService stub on `to`'s federation listener, presenting `cert`.
  std::unique_ptr<v1::FederationService::Stub> PeerStub(const Node& to, const KeyAndCert& cert) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = to.ca.cert_pem;
    tls.pem_cert_chain = cert.cert_pem;
    tls.pem_private_key = cert.key_pem;
    grpc::ChannelArguments args;
    args.SetInt("comity.test.connection", ++connections_);  // never reuse a connection
    return v1::FederationService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", to.federation_port), grpc::SslCredentials(tls), args));
  }

  grpc::Status Publish(v1::FederationService::Stub& stub, const v1::PublishDirectoryRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::PublishDirectoryResponse out;
    return stub.PublishDirectory(&ctx, req, &out);
  }

  // `n`'s own snapshot at `version`, signed with the seed given.
  v1::PublishDirectoryRequest Signed(const Node& n, uint64_t version, const std::string& seed,
                                     const std::vector<std::string>& authorities) {
    v1::DirectorySnapshot snapshot;
    snapshot.set_node(n.id);
    snapshot.set_version(version);
    for (const std::string& name : authorities) {
      v1::Authority* a = snapshot.add_authorities();
      a->set_name(name);
      a->set_country(n.country);
    }
    auto signer = audit::NoteSigner::FromSeed(absl::StrCat(n.trust_domain, "/log"), seed);
    return federation::SignSnapshot(snapshot, **signer);
  }

  // `as` shows `to` a checkpoint to cosign (AddCheckpoint).
  grpc::Status AddCheckpoint(const Node& to, const Node& as, const v1::AddCheckpointRequest& req,
                             v1::AddCheckpointResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return PeerStub(to, as.cert)->AddCheckpoint(&ctx, req, out);
  }

  // A checkpoint of `n`'s log, signed with `seed`, of the first `size` leaves of `tree`.
  std::string CheckpointOf(const Node& n, const std::string& seed, audit::MerkleTree& tree,
                           uint64_t size, const std::string& origin = "") {
    auto signer = audit::NoteSigner::FromSeed(absl::StrCat(n.trust_domain, "/log"), seed);
    return (*signer)->Sign(audit::CheckpointText(
        {origin.empty() ? absl::StrCat(n.trust_domain, "/log") : origin, size, tree.Root(size)}));
  }

  // The types and subjects of a status's precondition violations, "TYPE:subject" each.
  static std::vector<std::string> Violations(const grpc::Status& st) {
    std::vector<std::string> out;
    for (const workflow::PreconditionViolation& v :
         workflow::PreconditionViolationsOf(rpc::FromGrpcStatus(st))) {
      out.push_back(absl::StrCat(v.type, ":", v.subject));
    }
    return out;
  }

  size_t PeerEntries(const std::vector<v1::AuditEntry>& trail) {
    size_t n = 0;
    for (const v1::AuditEntry& e : trail) n += e.action() == v1::PEER_DIRECTORY;
    return n;
  }

  // DE's clerk acknowledges `name` at DE; true once FR's mirror shows it RECEIVED.
  bool AcknowledgedAcross(const server::Server& fr_node, const server::Server& de_node,
                          const std::string& name) {
    v1::AcknowledgeRequestRequest ack;
    ack.set_name(name);
    if (!Call(de_node, nodes_["de"].Principal("clerk"),
              &v1::RequestService::Stub::AcknowledgeRequest, ack)
             .ok()) {
      return false;
    }
    return WaitFor([&] {
      absl::StatusOr<v1::Request> r = Get(fr_node, nodes_["fr"].Principal("clerk"), name);
      return r.ok() && r->state() == v1::RECEIVED;
    });
  }

  // Waits until `a`, the node of `x`, and `b`, the node of `y`, hold each other's directories.
  bool Peered(const server::Server& a, const Node& x, const server::Server& b, const Node& y) {
    return WaitFor([&] { return Authorities(a, x.Principal("admin")).count(y.authority) > 0; }) &&
           WaitFor([&] { return Authorities(b, y.Principal("admin")).count(x.authority) > 0; });
  }

  // Waits until the two nodes hold each other's directories; then FR's clerk submits a
  // preservation request to DE's authority at FR, and this waits until DE has it (the submission
  // DELIVERED at FR). The request's name, or "" after a failure.
  std::string SubmitAcross(const server::Server& fr_node, const server::Server& de_node);

  int connections_ = 0;
};

TEST_F(FederationTest, PeersHoldEachOthersSignedDirectory) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  // DE also lists xx, which never answers: the other peers are served all the same.
  std::unique_ptr<server::Server> de_node = Start("de", {"fr", "xx"});
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  ASSERT_NE(de_node, nullptr);
  ASSERT_NE(fr_node, nullptr);

  ASSERT_TRUE(Peered(*fr_node, fr, *de_node, de));
  v1::Authority seen = Authorities(*fr_node, fr.Principal("admin"))[de.authority];
  EXPECT_EQ(seen.node(), "de");
  EXPECT_EQ(seen.country(), "DE");
  EXPECT_EQ(seen.members_size(), 0);  // a peer's members stay with it
  EXPECT_EQ(Authorities(*fr_node, fr.Principal("admin"))[fr.authority].node(), "");

  // DE's reservation travelled with its directory.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", fr.Principal("admin"));
    v1::ListReservationsRequest req;
    req.set_country("DE");
    v1::ListReservationsResponse out;
    ASSERT_TRUE(Stub<v1::DirectoryService>(*fr_node)->ListReservations(&ctx, req, &out).ok());
    ASSERT_EQ(out.reservations_size(), 1);
    EXPECT_EQ(out.reservations(0).code(), "BUDAPEST_29_4");
  }

  // FR's directory trail records DE's snapshot: who sent it, which version, its digest.
  std::vector<v1::AuditEntry> trail = DirectoryTrail(*fr_node, fr);
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[0].action(), v1::SEED_DIRECTORY);
  const v1::AuditEntry& recorded = trail[1];
  EXPECT_EQ(recorded.action(), v1::PEER_DIRECTORY);
  EXPECT_EQ(recorded.actor().principal(), "spiffe://de.comity.test/node/de");
  EXPECT_EQ(recorded.actor().side(), v1::SYSTEM);
  EXPECT_EQ(recorded.peer_snapshot().node(), "de");
  EXPECT_EQ(recorded.peer_snapshot().version(), 1u);
  EXPECT_EQ(recorded.peer_snapshot().digest().size(), 32u);
  EXPECT_EQ(recorded.reasons(), "node de version 1: 1 authorities, 1 reservations");
  EXPECT_EQ(de_node->federation()->publisher().Acknowledged("fr"), 1u);

  // A change to DE's directory reaches FR as version 2.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", de.Principal("admin"));
    v1::UpsertAuthorityRequest req;
    req.mutable_authority()->set_name("authorities/DE-LKA");
    req.mutable_authority()->set_country("DE");
    req.mutable_authority()->set_display_name("Bundeskriminalamt");
    v1::Authority out;
    grpc::Status st = Stub<v1::DirectoryService>(*de_node)->UpsertAuthority(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_TRUE(WaitFor(
      [&] { return Authorities(*fr_node, fr.Principal("admin")).count("authorities/DE-LKA"); }));
  trail = DirectoryTrail(*fr_node, fr);
  ASSERT_EQ(trail.size(), 3u);
  EXPECT_EQ(trail[2].peer_snapshot().version(), 2u);
  EXPECT_EQ(trail[2].peer_snapshot().node(), "de");

  // Restarted, DE still knows FR's authorities, and publishing the same directory again records
  // nothing new at FR.
  de_node->Shutdown(absl::Seconds(1));
  de_node.reset();
  de_node = Start("de", {"fr", "xx"});
  ASSERT_NE(de_node, nullptr);
  EXPECT_EQ(Authorities(*de_node, de.Principal("admin"))[fr.authority].node(), "fr");
  ASSERT_TRUE(WaitFor([&] { return de_node->federation()->publisher().Acknowledged("fr") == 2; }));
  EXPECT_EQ(DirectoryTrail(*fr_node, fr).size(), 3u);
}

TEST_F(FederationTest, OnlyAPeerSpeaksForItself) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const Node& xx = nodes_["xx"];
  std::unique_ptr<server::Server> de_node = Start("de", {"fr", "xx"});
  ASSERT_NE(de_node, nullptr);
  const v1::PublishDirectoryRequest genuine = Signed(fr, 7, fr.seed, {fr.authority});
  const int64_t denied_before = de_node->security_log().permission_denied();

  // A node certificate for fr that xx's CA issued: xx's CA is trusted, but only for xx.
  KeyAndCert forged = MakeLeaf(xx.ca, {"node fr", {"URI:spiffe://fr.comity.test/node/fr"}});
  grpc::Status st = Publish(*PeerStub(de, forged), genuine);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("does not chain to node fr's CA"), std::string::npos)
      << st.error_message();

  // A user's certificate from a peer's CA is not a node's.
  KeyAndCert user = MakeLeaf(fr.ca, {"admin", {"URI:" + fr.Principal("admin")}});
  st = Publish(*PeerStub(de, user), genuine);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("is not a node certificate"), std::string::npos);

  // A certificate from a CA no peer has is refused at the handshake.
  KeyAndCert stranger_ca = MakeCa("stranger");
  KeyAndCert stranger = MakeLeaf(stranger_ca, {"node fr", {"URI:spiffe://fr.comity.test/node/fr"}});
  EXPECT_EQ(Publish(*PeerStub(de, stranger), genuine).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto as_fr = PeerStub(de, fr.cert);
  // Signed by another key than fr's log key.
  st = Publish(*as_fr, Signed(fr, 7, xx.seed, {fr.authority}));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  // The bytes altered after signing.
  v1::PublishDirectoryRequest altered = genuine;
  altered.mutable_snapshot()->back() ^= 1;
  st = Publish(*as_fr, altered);
  EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
              st.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << st.error_message();
  // Not a snapshot at all, or no signed note.
  v1::PublishDirectoryRequest garbage = genuine;
  garbage.set_snapshot("\xff\xff\xff");
  EXPECT_EQ(Publish(*as_fr, garbage).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::PublishDirectoryRequest unsigned_snapshot = genuine;
  unsigned_snapshot.set_signature("comity directory snapshot\n");
  EXPECT_EQ(Publish(*as_fr, unsigned_snapshot).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // fr signing xx's directory, or claiming an authority DE homes.
  st = Publish(*as_fr, Signed(xx, 7, fr.seed, {xx.authority}));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = Publish(*as_fr, Signed(fr, 7, fr.seed, {fr.authority, de.authority}));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("this node homes it"), std::string::npos) << st.error_message();
  // An authority xx already published.
  ASSERT_TRUE(Publish(*PeerStub(de, xx.cert), Signed(xx, 1, xx.seed, {xx.authority})).ok());
  st = Publish(*as_fr, Signed(fr, 7, fr.seed, {xx.authority}));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("node xx homes it"), std::string::npos) << st.error_message();

  // Nothing of fr's was recorded; the refusals are on the security log.
  std::vector<v1::AuditEntry> trail = DirectoryTrail(*de_node, de);
  ASSERT_EQ(PeerEntries(trail), 1u);
  EXPECT_EQ(trail.back().peer_snapshot().node(), "xx");
  EXPECT_FALSE(Authorities(*de_node, de.Principal("admin")).count(fr.authority));
  EXPECT_GE(de_node->security_log().permission_denied() - denied_before, 4);

  // The genuine one is recorded once; an older or repeated version changes nothing.
  ASSERT_TRUE(Publish(*as_fr, genuine).ok());
  ASSERT_TRUE(Publish(*as_fr, genuine).ok());
  ASSERT_TRUE(Publish(*as_fr, Signed(fr, 3, fr.seed, {})).ok());
  EXPECT_EQ(PeerEntries(DirectoryTrail(*de_node, de)), 2u);
  EXPECT_EQ(Authorities(*de_node, de.Principal("admin"))[fr.authority].node(), "fr");
}

std::string FederationTest::SubmitAcross(const server::Server& fr_node,
                                         const server::Server& de_node) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  if (!Peered(fr_node, fr, de_node, de)) {
    ADD_FAILURE() << "the nodes never held each other's directories";
    return "";
  }
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  absl::StatusOr<v1::Request> draft =
      Call(fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
  v1::SubmitRequestRequest submit;
  submit.set_name(draft.ok() ? draft->name() : "");
  if (!draft.ok() ||
      !Call(fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit)
           .ok() ||
      !WaitFor([&] {
        absl::StatusOr<v1::Request> r = Get(fr_node, fr.Principal("clerk"), draft->name());
        return r.ok() && r->relayed(0).state() == v1::RELAY_DELIVERED;
      })) {
    ADD_FAILURE() << "the submission did not cross: " << draft.status();
    return "";
  }
  return draft->name();
}

TEST_F(FederationTest, ASubmissionCrossesTheBorderAndItsTrailComesBack) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  ASSERT_NE(fr_node, nullptr);
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(Peered(*fr_node, fr, *de_node, de));

  // FR drafts and submits to DE's authority, at FR.
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  absl::StatusOr<v1::Request> draft =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
  ASSERT_TRUE(draft.ok()) << draft.status();
  EXPECT_EQ(draft->requesting_authority(), fr.authority);
  v1::SubmitRequestRequest submit;
  submit.set_name(draft->name());
  absl::StatusOr<v1::Request> submitted =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->system_of_record(), "de");
  ASSERT_EQ(submitted->relayed_size(), 1);
  EXPECT_EQ(submitted->relayed(0).action(), v1::SUBMIT);
  EXPECT_EQ(submitted->relayed(0).state(), v1::RELAY_QUEUED);
  const std::string key = submitted->relayed(0).key();
  EXPECT_EQ(key.rfind("fr/", 0), 0u) << key;

  // DE, the system of record, has it as submitted by FR's clerk at FR's time.
  ASSERT_TRUE(WaitFor([&] { return Get(*de_node, de.Principal("clerk"), draft->name()).ok(); }));
  absl::StatusOr<v1::Request> there = Get(*de_node, de.Principal("clerk"), draft->name());
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_EQ(there->state(), v1::SUBMITTED);
  EXPECT_EQ(there->system_of_record(), "");
  EXPECT_EQ(there->submit_time().seconds(), submitted->submit_time().seconds());
  EXPECT_EQ(there->case_info().reference(), draft->case_info().reference());
  // FR's clerk is nobody at DE, and a third node's authority sees nothing.
  EXPECT_EQ(Get(*de_node, fr.Principal("clerk"), draft->name()).status().code(),
            absl::StatusCode::kPermissionDenied);

  // The acknowledgement at DE comes back to FR, with DE's trail.
  v1::AcknowledgeRequestRequest ack;
  ack.set_name(draft->name());
  ASSERT_TRUE(
      Call(*de_node, de.Principal("clerk"), &v1::RequestService::Stub::AcknowledgeRequest, ack)
          .ok());
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft->name());
    return r.ok() && r->state() == v1::RECEIVED;
  }));
  absl::StatusOr<v1::Request> here = Get(*fr_node, fr.Principal("clerk"), draft->name());
  ASSERT_TRUE(here.ok());
  EXPECT_EQ(here->relayed(0).state(), v1::RELAY_DELIVERED);
  EXPECT_EQ(here->system_of_record(), "de");

  // FR serves DE's trail: the same entries, and a bundle that verifies against DE's key.
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", fr.Principal("eve"));
  v1::GetTrailRequest treq;
  treq.set_request(draft->name());
  v1::TrailBundle bundle;
  grpc::Status st = Stub<v1::AuditService>(*fr_node)->ExportTrail(&ctx, treq, &bundle);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_GE(bundle.trail().entries_size(), 2);
  const v1::AuditEntry& first = bundle.trail().entries(0).entry();
  EXPECT_EQ(first.action(), v1::SUBMIT);
  EXPECT_EQ(first.actor().principal(), fr.Principal("clerk"));
  EXPECT_EQ(first.actor().side(), v1::REQUESTING);
  EXPECT_EQ(first.request_id(), key);
  // Then DE's clerk's reads (ACCESS) and acknowledgement: DE's trail, entry for entry.
  EXPECT_EQ(bundle.trail().entries(1).entry().action(), v1::ACCESS);
  EXPECT_EQ(bundle.trail().entries(bundle.trail().entries_size() - 1).entry().action(),
            v1::ACKNOWLEDGE);
  EXPECT_EQ(static_cast<uint64_t>(bundle.trail().entries_size()), here->mirror_size());
  absl::StatusOr<audit::BundleVerdict> verdict = audit::VerifyBundle(bundle, de.verifier_key);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_FALSE(audit::VerifyBundle(bundle, fr.verifier_key).ok());
  // DE's receipts of the submission it took from FR's relay, on its entry, checked with the rest.
  EXPECT_EQ(verdict->receipts, 2u);
  ASSERT_EQ(first.receipts_size(), 2);
  EXPECT_EQ(first.receipts(0).kind(), v1::RELAY_ACCEPTANCE);
  EXPECT_EQ(first.receipts(1).kind(), v1::DELIVERY);
  for (const v1::Receipt& r : first.receipts()) {
    EXPECT_EQ(r.key(), key);
    EXPECT_EQ(r.issuer(), de.verifier_key.substr(0, de.verifier_key.find('+')));
    EXPECT_TRUE(audit::VerifyReceipt(r, first, de.verifier_key).ok());
  }

  // A later action of the requesting side: recorded at FR as relayed, applied at DE, mirrored.
  v1::AddNoteRequest note;
  note.set_name(draft->name());
  note.set_kind(v1::COMMENT);
  note.set_text("the account holder is a minor");
  absl::StatusOr<v1::Request> noted =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::AddNote, note);
  ASSERT_TRUE(noted.ok()) << noted.status();
  ASSERT_EQ(noted->relayed_size(), 2);
  EXPECT_EQ(noted->relayed(1).action(), v1::ADD_NOTE);
  EXPECT_EQ(noted->state(), v1::RECEIVED);
  const std::string note_key = noted->relayed(1).key();
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft->name());
    return r.ok() && r->relayed(1).state() == v1::RELAY_DELIVERED;
  }));
  ExpectLastEntry(*de_node, de.Principal("eve"), draft->name(), v1::ADD_NOTE, fr.Principal("clerk"),
                  note_key);
  // FR's own trail of it: its draft and submission, the note it relayed, what it mirrored.
  grpc::ClientContext lctx;
  lctx.AddMetadata("x-comity-principal", fr.Principal("eve"));
  v1::GetTrailRequest lreq;
  lreq.set_request(draft->name());
  lreq.set_local(true);
  v1::Trail local;
  ASSERT_TRUE(Stub<v1::AuditService>(*fr_node)->GetTrail(&lctx, lreq, &local).ok());
  std::map<v1::Action, int> actions;
  bool relayed_note = false, mirrored_receipt = false;
  std::vector<std::string> accepted;  // the keys of FR's SUBMISSION_ACCEPTANCE receipts
  for (const v1::TrailEntry& e : local.entries()) {
    ++actions[e.entry().action()];
    for (const v1::Receipt& r : e.entry().receipts()) {
      EXPECT_EQ(r.kind(), v1::SUBMISSION_ACCEPTANCE);
      EXPECT_TRUE(audit::VerifyReceipt(r, e.entry(), fr.verifier_key).ok());
      accepted.push_back(r.key());
    }
    if (e.entry().action() == v1::ADD_NOTE) {
      relayed_note = e.entry().reasons() == "relayed to node de as " + note_key &&
                     e.entry().state_after() == v1::RECEIVED;
    }
    if (e.entry().action() == v1::MIRROR && e.entry().state_after() == v1::RECEIVED &&
        e.entry().state_before() == v1::SUBMITTED) {
      mirrored_receipt = e.entry().actor().principal() == "spiffe://de.comity.test/node/de";
    }
  }
  EXPECT_EQ(actions[v1::CREATE], 1);
  EXPECT_EQ(actions[v1::SUBMIT], 1);
  EXPECT_TRUE(relayed_note);
  EXPECT_TRUE(mirrored_receipt);
  EXPECT_EQ(accepted, (std::vector<std::string>{key, note_key}));
}

TEST_F(FederationTest, ActionsQueuedWhileThePeerIsDownAreDeliveredOnceInOrder) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  const std::string name = SubmitAcross(*fr_node, *de_node);
  ASSERT_FALSE(name.empty());

  // DE goes down; FR's clerk withdraws, twice: both accepted as queued.
  de_node->Shutdown(absl::Seconds(1));
  de_node.reset();
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(name);
  withdraw.set_reason("the case was closed");
  absl::StatusOr<v1::Request> first =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::WithdrawRequest, withdraw);
  ASSERT_TRUE(first.ok()) << first.status();
  withdraw.set_reason("closed, again");
  absl::StatusOr<v1::Request> second =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::WithdrawRequest, withdraw);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->relayed_size(), 3);
  EXPECT_EQ(second->relayed(1).state(), v1::RELAY_QUEUED);
  EXPECT_EQ(second->relayed(2).state(), v1::RELAY_QUEUED);
  EXPECT_EQ(second->state(), v1::SUBMITTED);  // as DE last said

  // DE back: the first withdrawal is applied once; the second loses, with DE's reason.
  de_node = Start("de", {"fr"});
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), name);
    return r.ok() && r->state() == v1::WITHDRAWN && r->relayed(2).state() == v1::RELAY_REFUSED;
  }));
  absl::StatusOr<v1::Request> now = Get(*fr_node, fr.Principal("clerk"), name);
  EXPECT_EQ(now->relayed(1).state(), v1::RELAY_DELIVERED);
  EXPECT_NE(now->relayed(2).reason().find("WITHDRAWN"), std::string::npos)
      << now->relayed(2).reason();
  EXPECT_EQ(now->withdrawal_reason(), "the case was closed");
  ExpectLastEntry(*de_node, de.Principal("eve"), name, v1::WITHDRAW, fr.Principal("clerk"),
                  now->relayed(1).key());
  // The losing withdrawal is on FR's own trail, with DE's reason.
  int refusals = 0;
  for (const v1::AuditEntry& e : LocalTrail(*fr_node, fr.Principal("eve"), name)) {
    if (e.action() != v1::RELAY_STATE) continue;
    ++refusals;
    EXPECT_EQ(e.actor().side(), v1::SYSTEM);
    EXPECT_EQ(e.state_before(), e.state_after());
    EXPECT_EQ(e.reasons().rfind(absl::StrCat("node de refused the WITHDRAW relayed as ",
                                             now->relayed(2).key(), ": "),
                                0),
              0u)
        << e.reasons();
  }
  EXPECT_EQ(refusals, 1);
  // Nothing waits in FR's outbox.
  EXPECT_TRUE(WaitFor([&] { return fr_node->federation()->relay().Sent("de") >= 3; }));
}

// Three nodes: FR asks both DE and XX. While XX is down, FR's actions for it wait in its outbox
// and nothing it owes DE waits behind them; XX back, it gets them, once, in order.
TEST_F(FederationTest, APeerDownHoldsUpNothingOwedToTheOthers) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const Node& xx = nodes_["xx"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de", "xx"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr", "xx"});
  std::unique_ptr<server::Server> xx_node = Start("xx", {"fr", "de"});
  ASSERT_NE(xx_node, nullptr);
  ASSERT_TRUE(Peered(*fr_node, fr, *xx_node, xx));
  auto submit_to = [&](const Node& to) -> std::string {
    v1::CreateRequestRequest create;
    *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
    create.mutable_request()->set_requested_authority(to.authority);
    absl::StatusOr<v1::Request> draft =
        Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
    EXPECT_TRUE(draft.ok()) << draft.status();
    v1::SubmitRequestRequest submit;
    submit.set_name(draft.ok() ? draft->name() : "");
    absl::StatusOr<v1::Request> submitted =
        Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    EXPECT_EQ(submitted.ok() ? submitted->system_of_record() : "", to.id);
    return submitted.ok() ? submitted->name() : "";
  };

  xx_node->Shutdown(absl::Seconds(1));
  xx_node.reset();
  const std::string to_xx = submit_to(xx);
  const std::string to_de = submit_to(de);
  ASSERT_FALSE(to_xx.empty());
  ASSERT_FALSE(to_de.empty());
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(to_xx);
  withdraw.set_reason("sent to the wrong state");
  ASSERT_TRUE(
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::WithdrawRequest, withdraw)
          .ok());
  // DE gets its request, and acknowledges it, while XX's wait.
  ASSERT_TRUE(WaitFor([&] { return Get(*de_node, de.Principal("clerk"), to_de).ok(); }));
  ASSERT_TRUE(AcknowledgedAcross(*fr_node, *de_node, to_de));
  absl::StatusOr<v1::Request> waiting = Get(*fr_node, fr.Principal("clerk"), to_xx);
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->relayed_size(), 2);
  EXPECT_EQ(waiting->relayed(0).state(), v1::RELAY_QUEUED);
  EXPECT_EQ(waiting->relayed(1).state(), v1::RELAY_QUEUED);

  // XX back: the submission, then the withdrawal, each once.
  xx_node = Start("xx", {"fr", "de"});
  ASSERT_NE(xx_node, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), to_xx);
    return r.ok() && r->state() == v1::WITHDRAWN && r->relayed(1).state() == v1::RELAY_DELIVERED;
  }));
  std::vector<v1::Action> actions;
  for (const v1::AuditEntry& e : comity::testing::EntriesAt(*xx_node, xx.Principal("eve"), to_xx)) {
    if (e.action() != v1::ACCESS) actions.push_back(e.action());
  }
  EXPECT_EQ(actions, (std::vector<v1::Action>{v1::SUBMIT, v1::WITHDRAW}));
}

// A node's certificate is renewed (a new key, from its own CA): its peers go on with it, since
// trust is in the peer's CA and its SPIFFE ID, never in one certificate.
TEST_F(FederationTest, ANodeCertificateRenewedKeepsItsPeers) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  const std::string name = SubmitAcross(*fr_node, *de_node);
  ASSERT_FALSE(name.empty());
  de_node->Shutdown(absl::Seconds(1));
  de_node.reset();
  const KeyAndCert renewed = MakeLeaf(
      de.ca, {"node de, renewed",
              {"URI:spiffe://" + de.trust_domain + "/node/de", "DNS:localhost", "IP:127.0.0.1"}});
  ASSERT_NE(renewed.cert_pem, de.cert.cert_pem);
  WriteFile(Path(de, "node.pem"), renewed.cert_pem);
  WriteFile(Path(de, "node.key"), renewed.key_pem);
  de_node = Start("de", {"fr"});
  ASSERT_NE(de_node, nullptr);
  // Both ways: FR's withdrawal reaches DE, and DE's trail comes back.
  v1::WithdrawRequestRequest withdraw;
  withdraw.set_name(name);
  withdraw.set_reason("the case was closed");
  ASSERT_TRUE(
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::WithdrawRequest, withdraw)
          .ok());
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), name);
    return r.ok() && r->state() == v1::WITHDRAWN;
  }));
  // A certificate for DE's node from another CA is still refused.
  const KeyAndCert forged =
      MakeLeaf(nodes_["xx"].ca,
               {"node de, forged",
                {"URI:spiffe://" + de.trust_domain + "/node/de", "DNS:localhost", "IP:127.0.0.1"}});
  v1::RelayRequest relay;
  relay.add_messages()->set_key("de/1");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RelayResponse out;
  EXPECT_NE(PeerStub(fr, forged)->Relay(&ctx, relay, &out).error_code(), grpc::StatusCode::OK);
}

// A trail grown past what one message between the nodes may carry cannot be mirrored: its
// mirror is set aside, and what follows it in the outbox still goes.
TEST_F(FederationTest, AMirrorTooLargeToSendIsSetAsideAndTheRestGoesOn) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  config::v1::ServerConfig config = Config("de", {"fr"});
  config.mutable_federation()->set_max_message_mb(1);
  std::unique_ptr<server::Server> de_node = Start(config);
  const std::string big = SubmitAcross(*fr_node, *de_node);
  const std::string small = SubmitAcross(*fr_node, *de_node);
  ASSERT_FALSE(big.empty());
  ASSERT_FALSE(small.empty());
  // DE's clerk reads the first request until its trail is past 1 MiB as a mirror.
  auto stub = Stub<v1::RequestService>(*de_node);
  for (int i = 0; i < 2000; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", de.Principal("clerk"));
    v1::GetRequestRequest get;
    get.set_name(big);
    v1::Request out;
    ASSERT_TRUE(stub->GetRequest(&ctx, get, &out).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return de_node->federation()->relay().Oversized("fr") > 0; }));
  // The second request's change still reaches FR.
  ASSERT_TRUE(AcknowledgedAcross(*fr_node, *de_node, small));
  // The first stays mirrored as it last fitted.
  absl::StatusOr<v1::Request> held = Get(*fr_node, fr.Principal("clerk"), big);
  ASSERT_TRUE(held.ok());
  EXPECT_LT(held->mirror_size(), 2000u);
  EXPECT_EQ(held->state(), v1::SUBMITTED);
}

// DE has not taken the instrument FR submits under: it refuses the submission for good, and the
// request is FR's draft again, with the refusal on its trail.
TEST_F(FederationTest, ASubmissionThePeerRefusesIsADraftAgain) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const std::string profiles = absl::StrCat(dir_.path(), "/de-profiles");
  ASSERT_EQ(mkdir(profiles.c_str(), 0700), 0);
  absl::StatusOr<std::string> budapest =
      ReadFile(comity::testing::SourcePath("deploy/profiles/budapest.textproto"));
  ASSERT_TRUE(budapest.ok());
  WriteFile(profiles + "/budapest.textproto", *budapest);
  config::v1::ServerConfig dc = Config("de", {"fr"});
  dc.set_profiles_dir(profiles);
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  std::unique_ptr<server::Server> de_node = Start(dc);
  ASSERT_NE(fr_node, nullptr);
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(Peered(*fr_node, fr, *de_node, de));

  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("uncc", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  absl::StatusOr<v1::Request> draft =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
  ASSERT_TRUE(draft.ok()) << draft.status();
  v1::SubmitRequestRequest submit;
  submit.set_name(draft->name());
  absl::StatusOr<v1::Request> submitted =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::SUBMITTED);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft->name());
    return r.ok() && r->relayed_size() == 1 && r->relayed(0).state() == v1::RELAY_REFUSED;
  }));
  absl::StatusOr<v1::Request> back = Get(*fr_node, fr.Principal("clerk"), draft->name());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->state(), v1::DRAFT);
  EXPECT_EQ(back->system_of_record(), "");
  EXPECT_FALSE(back->has_submit_time());
  EXPECT_NE(back->relayed(0).reason().find("uncc"), std::string::npos) << back->relayed(0).reason();
  const std::vector<v1::AuditEntry> trail =
      LocalTrail(*fr_node, fr.Principal("eve"), draft->name());
  ASSERT_FALSE(trail.empty());
  const v1::AuditEntry* refusal = nullptr;
  for (const v1::AuditEntry& e : trail) {
    if (e.action() == v1::RELAY_STATE) refusal = &e;
  }
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(refusal->state_before(), v1::SUBMITTED);
  EXPECT_EQ(refusal->state_after(), v1::DRAFT);
  EXPECT_EQ(refusal->reasons().rfind(absl::StrCat("node de refused the SUBMIT relayed as ",
                                                  submitted->relayed(0).key(), ": "),
                                     0),
            0u)
      << refusal->reasons();
  EXPECT_NE(refusal->reasons().find("; the request is a draft here again"), std::string::npos);
  // DE never had it; FR's clerk may submit it again (here, to the same refusal).
  EXPECT_EQ(Get(*de_node, de.Principal("clerk"), draft->name()).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<v1::Request> again =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state(), v1::SUBMITTED);
  EXPECT_EQ(again->system_of_record(), "de");
  ASSERT_EQ(again->relayed_size(), 2);
  EXPECT_NE(again->relayed(1).key(), submitted->relayed(0).key());
}

TEST_F(FederationTest, ForgedRelaysAreRefusedAndNothingIsApplied) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const Node& xx = nodes_["xx"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de", "xx"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  const std::string name = SubmitAcross(*fr_node, *de_node);
  ASSERT_FALSE(name.empty());
  de_node->Shutdown(absl::Seconds(1));  // what reaches FR from here on is the test's

  // DE's mirror as FR holds it: the bundle DE signed, and DE's record.
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", fr.Principal("eve"));
  v1::GetTrailRequest treq;
  treq.set_request(name);
  v1::RelayMessage genuine;
  genuine.set_key("de/999999");
  v1::MirroredTrail* m = genuine.mutable_mirror();
  ASSERT_TRUE(Stub<v1::AuditService>(*fr_node)->ExportTrail(&ctx, treq, m->mutable_bundle()).ok());
  absl::StatusOr<v1::Request> held = Get(*fr_node, fr.Principal("clerk"), name);
  ASSERT_TRUE(held.ok());
  *m->mutable_record() = *held;
  m->mutable_record()->clear_system_of_record();
  m->mutable_record()->clear_relayed();
  m->mutable_record()->clear_mirror_size();
  m->mutable_record()->clear_mirror_head();
  m->mutable_record()->set_audit_size(m->bundle().trail().size());
  m->mutable_record()->set_audit_head(m->bundle().trail().head());

  // One message relayed as `as`: the call's status, else the message's own.
  auto relay = [&](const Node& as, const v1::RelayMessage& message) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::RelayRequest req;
    *req.add_messages() = message;
    v1::RelayResponse out;
    grpc::Status st = PeerStub(fr, as.cert)->Relay(&c, req, &out);
    if (!st.ok()) return st;
    if (out.results_size() != 1) return grpc::Status(grpc::StatusCode::INTERNAL, "no result");
    return grpc::Status(static_cast<grpc::StatusCode>(out.results(0).code()),
                        out.results(0).message());
  };
  grpc::Status st = relay(de, genuine);
  ASSERT_TRUE(st.ok()) << st.error_message();  // the same trail again: nothing changes

  // An entry altered in transit, or a record the trail does not name.
  v1::RelayMessage forged = genuine;
  forged.mutable_mirror()
      ->mutable_bundle()
      ->mutable_trail()
      ->mutable_entries(0)
      ->mutable_data()
      ->back() ^= 1;
  st = relay(de, forged);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("does not verify against node de's log key"), std::string::npos)
      << st.error_message();
  forged = genuine;
  forged.mutable_mirror()->mutable_record()->set_state(v1::EXECUTED);
  st = relay(de, forged);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("must be the record the trail's last entry names"),
            std::string::npos)
      << st.error_message();
  // The same altered record, with the parsed copy of the last entry (beside its signed bytes)
  // naming it: the copy is not what is read.
  {
    v1::Request altered = forged.mirror().record();
    altered.clear_audit_head();
    altered.clear_audit_size();
    v1::Trail* t = forged.mutable_mirror()->mutable_bundle()->mutable_trail();
    t->mutable_entries(t->entries_size() - 1)
        ->mutable_entry()
        ->set_record_digest(Sha256(audit::DeterministicBytes(altered)));
  }
  st = relay(de, forged);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("must be the record the trail's last entry names"),
            std::string::npos)
      << st.error_message();
  // DE's trail passed off by xx: not xx's to send.
  st = relay(xx, [&] {
    v1::RelayMessage r = genuine;
    r.set_key("xx/1");
    return r;
  }());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  // xx acting for an authority DE homes; a key of another node.
  v1::RelayMessage action;
  action.set_key("xx/2");
  v1::ForwardedAction* f = action.mutable_forward();
  f->set_action(v1::ADD_NOTE);
  f->set_name(name);
  f->mutable_actor()->set_principal("spiffe://xx.comity.test/DE-BFJ/mallory");
  f->mutable_actor()->set_authority(de.authority);
  *f->mutable_event_time() = workflow::ToProto(absl::Now());
  st = relay(xx, action);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("node xx does not home authorities/DE-BFJ"), std::string::npos)
      << st.error_message();
  action.set_key("de/3");
  EXPECT_EQ(relay(xx, action).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // FR's copy is as DE last said.
  absl::StatusOr<v1::Request> after = Get(*fr_node, fr.Principal("clerk"), name);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state(), held->state());
  EXPECT_EQ(after->mirror_size(), held->mirror_size());
  EXPECT_EQ(after->mirror_head(), held->mirror_head());
}

// The witness's side of C2SP tlog-witness, with the test as DE: what FR cosigns, what it refuses,
// and a split view kept across a restart until an administrator clears it.
TEST_F(FederationTest, AWitnessCosignsOnlyWhatExtendsWhatItHolds) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const Node& xx = nodes_["xx"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de", "xx"});
  ASSERT_NE(fr_node, nullptr);
  std::vector<std::string> leaves, other;
  for (int i = 0; i < 12; ++i) {
    leaves.push_back(audit::LeafHash(absl::StrCat("entry ", i)));
    other.push_back(audit::LeafHash(absl::StrCat(i == 6 ? "rewritten " : "entry ", i)));
  }
  audit::MerkleTree tree(leaves), rewritten(other);
  const std::string fr_cosigner = *audit::CosignerKeyOf(fr.verifier_key);
  v1::AddCheckpointResponse out;

  // Not DE's log key, or not DE's log.
  v1::AddCheckpointRequest req;
  req.set_checkpoint(CheckpointOf(de, xx.seed, tree, 5));
  grpc::Status st = AddCheckpoint(fr, de, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  req.set_checkpoint(CheckpointOf(de, de.seed, tree, 5, "xx.comity.test/log"));
  st = AddCheckpoint(fr, de, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("the origin must be de.comity.test/log"), std::string::npos)
      << st.error_message();
  // DE's checkpoint shown by xx is not xx's.
  req.set_checkpoint(CheckpointOf(de, de.seed, tree, 5));
  EXPECT_EQ(AddCheckpoint(fr, xx, req, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // The first checkpoint is cosigned as it is, by FR's log key.
  st = AddCheckpoint(fr, de, req, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  absl::StatusOr<int64_t> at =
      audit::VerifyCosignature(req.checkpoint() + out.cosignature(), fr_cosigner);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_LE(std::abs(*at - absl::ToUnixSeconds(absl::Now())), 60);
  EXPECT_EQ(audit::VerifyCosignature(req.checkpoint() + out.cosignature(),
                                     *audit::CosignerKeyOf(xx.verifier_key))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(AddCheckpoint(
                  fr, de,
                  [&] {
                    v1::AddCheckpointRequest again = req;
                    again.set_old_size(5);
                    return again;
                  }(),
                  &out)
                  .ok());  // the same again

  // From a size FR does not hold: it names the one it holds.
  req.set_checkpoint(CheckpointOf(de, de.seed, tree, 8));
  st = AddCheckpoint(fr, de, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Violations(st), std::vector<std::string>{"CHECKPOINT_SIZE_MISMATCH:5"});
  // Proved to extend it: cosigned.
  req.set_old_size(5);
  for (const std::string& h : tree.ConsistencyProof(5, 8)) req.add_consistency(h);
  st = AddCheckpoint(fr, de, req, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(audit::VerifyCosignature(req.checkpoint() + out.cosignature(), fr_cosigner).ok());
  EXPECT_TRUE(DirectoryTrail(*fr_node, fr).back().action() != v1::PEER_SPLIT_VIEW);

  // A tree of 12 whose seventh entry was rewritten: its proof does not reach the root FR holds.
  v1::AddCheckpointRequest split;
  split.set_old_size(8);
  split.set_checkpoint(CheckpointOf(de, de.seed, rewritten, 12));
  for (const std::string& h : rewritten.ConsistencyProof(8, 12)) split.add_consistency(h);
  st = AddCheckpoint(fr, de, split, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Violations(st), std::vector<std::string>{"SPLIT_VIEW:de"});
  const v1::AuditEntry recorded = DirectoryTrail(*fr_node, fr).back();
  EXPECT_EQ(recorded.action(), v1::PEER_SPLIT_VIEW);
  EXPECT_EQ(recorded.actor().side(), v1::SYSTEM);
  EXPECT_EQ(recorded.split_view().node(), "de");
  EXPECT_EQ(recorded.split_view().witnessed(), req.checkpoint());
  EXPECT_EQ(recorded.split_view().conflicting(), split.checkpoint());
  EXPECT_EQ(recorded.split_view().consistency_size(), split.consistency_size());
  EXPECT_NE(recorded.reasons().find("is not proved to extend the one of size 8"), std::string::npos)
      << recorded.reasons();

  // Every later checkpoint is refused, the true one too, also after a restart.
  v1::AddCheckpointRequest next;
  next.set_old_size(8);
  next.set_checkpoint(CheckpointOf(de, de.seed, tree, 12));
  for (const std::string& h : tree.ConsistencyProof(8, 12)) next.add_consistency(h);
  EXPECT_EQ(Violations(AddCheckpoint(fr, de, next, &out)),
            std::vector<std::string>{"SPLIT_VIEW:de"});
  fr_node->Shutdown(absl::Seconds(1));
  fr_node.reset();
  fr_node = Start("fr", {"de", "xx"});
  ASSERT_NE(fr_node, nullptr);
  EXPECT_EQ(Violations(AddCheckpoint(fr, de, next, &out)),
            std::vector<std::string>{"SPLIT_VIEW:de"});

  // The peers as FR's admin and auditor see them; not a clerk's business.
  auto peers = [&](const std::string& principal, v1::ListPeersResponse* list) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", principal);
    return Stub<v1::DirectoryService>(*fr_node)->ListPeers(&ctx, {}, list);
  };
  v1::ListPeersResponse list;
  ASSERT_TRUE(peers(fr.Principal("eve"), &list).ok());
  ASSERT_EQ(list.peers_size(), 2);
  EXPECT_EQ(list.peers(0).node(), "de");
  EXPECT_EQ(list.peers(0).directory_version(), 0u);  // DE never published
  EXPECT_EQ(list.peers(0).split_view().conflicting(), split.checkpoint());
  EXPECT_EQ(list.peers(1).node(), "xx");
  EXPECT_FALSE(list.peers(1).has_split_view());
  EXPECT_EQ(peers(fr.Principal("clerk"), &list).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Cleared by FR's admin, with a reason: the next checkpoint is cosigned afresh.
  auto clear = [&](const std::string& principal, const std::string& node,
                   const std::string& reason) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", principal);
    v1::ClearSplitViewRequest creq;
    creq.set_node(node);
    creq.set_reason(reason);
    v1::Peer peer;
    grpc::Status cst = Stub<v1::DirectoryService>(*fr_node)->ClearSplitView(&ctx, creq, &peer);
    EXPECT_TRUE(!cst.ok() || !peer.has_split_view());
    return cst;
  };
  EXPECT_EQ(clear(fr.Principal("clerk"), "de", "settled").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(clear(fr.Principal("admin"), "de", "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(clear(fr.Principal("admin"), "xx", "settled").error_code(),
            grpc::StatusCode::NOT_FOUND);
  st = clear(fr.Principal("admin"), "de", "DE restored its log from the backup of 1 December");
  ASSERT_TRUE(st.ok()) << st.error_message();
  const v1::AuditEntry cleared = DirectoryTrail(*fr_node, fr).back();
  EXPECT_EQ(cleared.action(), v1::CLEAR_SPLIT_VIEW);
  EXPECT_EQ(cleared.actor().principal(), fr.Principal("admin"));
  EXPECT_EQ(cleared.split_view().node(), "de");
  EXPECT_EQ(cleared.reasons(),
            "split view of node de cleared: DE restored its log from the backup of 1 December");
  EXPECT_EQ(clear(fr.Principal("admin"), "de", "again").error_code(), grpc::StatusCode::NOT_FOUND);
  split.set_old_size(0);
  split.clear_consistency();
  st = AddCheckpoint(fr, de, split, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(audit::VerifyCosignature(split.checkpoint() + out.cosignature(), fr_cosigner).ok());
}

// Real nodes witness each other: a trail bundle carries its peer's cosignature, which an auditor
// checks with that peer's key.
TEST_F(FederationTest, ABundleCarriesThePeersCosignature) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  const Node& xx = nodes_["xx"];
  std::unique_ptr<server::Server> fr_node = Start("fr", {"de"});
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  const std::string name = SubmitAcross(*fr_node, *de_node);
  ASSERT_FALSE(name.empty());
  absl::StatusOr<v1::Request> there = Get(*de_node, de.Principal("clerk"), name);
  ASSERT_TRUE(there.ok());

  // DE's bundle of the request, once FR has cosigned a checkpoint covering the trail read.
  v1::TrailBundle bundle;
  grpc::Status st;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", de.Principal("eve"));
    v1::GetTrailRequest req;
    req.set_request(name);
    req.set_witnessed(true);
    st = Stub<v1::AuditService>(*de_node)->ExportTrail(&ctx, req, &bundle);
    return st.ok() && bundle.trail().size() >= there->audit_size();
  })) << st.error_message();
  absl::StatusOr<audit::BundleVerdict> verdict = audit::VerifyBundle(bundle, de.verifier_key);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  absl::StatusOr<int64_t> at =
      audit::VerifyWitnessed(bundle, *audit::CosignerKeyOf(fr.verifier_key));
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_GE(de_node->federation()->cosigners().Cosigned("fr"), bundle.trail().checkpoint().size());
  // Not cosigned by xx, nor by DE itself; a cosignature altered in transit fails.
  EXPECT_EQ(audit::VerifyWitnessed(bundle, *audit::CosignerKeyOf(xx.verifier_key)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(audit::VerifyWitnessed(bundle, *audit::CosignerKeyOf(de.verifier_key)).status().code(),
            absl::StatusCode::kDataLoss);
  v1::TrailBundle altered = bundle;
  std::string* note = altered.mutable_trail()->mutable_checkpoint()->mutable_note();
  (*note)[note->size() - 3] = (*note)[note->size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(audit::VerifyWitnessed(altered, *audit::CosignerKeyOf(fr.verifier_key)).status().code(),
            absl::StatusCode::kDataLoss);
  // DE witnesses FR's log too.
  EXPECT_TRUE(WaitFor([&] { return fr_node->federation()->cosigners().Cosigned("de") > 0; }));
}

// A peer caught showing a split view: recorded, counted, and nothing relayed to it until an
// administrator clears it; then the held messages go.
TEST_F(FederationTest, ASplitViewHoldsTheRelayUntilCleared) {
  const Node& fr = nodes_["fr"];
  const Node& de = nodes_["de"];
  config::v1::ServerConfig fc = Config("fr", {"de"});
  fc.set_metrics_address("127.0.0.1:0");
  std::unique_ptr<server::Server> fr_node = Start(fc);
  std::unique_ptr<server::Server> de_node = Start("de", {"fr"});
  ASSERT_NE(fr_node, nullptr);
  ASSERT_NE(de_node, nullptr);
  ASSERT_TRUE(Peered(*fr_node, fr, *de_node, de));
  ASSERT_TRUE(WaitFor([&] { return de_node->federation()->cosigners().Cosigned("fr") > 0; }));

  // DE's log key shows FR another tree of the size FR holds (named by FR's answer).
  std::vector<std::string> leaves;
  for (int i = 0; i < 64; ++i) leaves.push_back(audit::LeafHash(absl::StrCat("forged ", i)));
  audit::MerkleTree forged(leaves);
  v1::AddCheckpointRequest req;
  v1::AddCheckpointResponse out;
  std::vector<std::string> violations;
  for (int attempt = 0; attempt < 20; ++attempt) {
    req.set_checkpoint(CheckpointOf(de, de.seed, forged, std::max<uint64_t>(req.old_size(), 1)));
    violations = Violations(AddCheckpoint(fr, de, req, &out));
    uint64_t held = 0;
    if (violations.size() != 1 || violations[0].rfind("CHECKPOINT_SIZE_MISMATCH:", 0) != 0 ||
        !absl::SimpleAtoi(violations[0].substr(25), &held)) {
      break;
    }
    req.set_old_size(held);  // DE's own node may have moved it on meanwhile
  }
  ASSERT_EQ(violations, std::vector<std::string>{"SPLIT_VIEW:de"});
  EXPECT_EQ(DirectoryTrail(*fr_node, fr).back().action(), v1::PEER_SPLIT_VIEW);
  const std::string metrics = comity::testing::ScrapeMetrics(fr_node->metrics_port());
  EXPECT_NE(metrics.find("comity_federation_split_views_total 1"), std::string::npos) << metrics;

  // A submission to DE's authority waits in FR's outbox.
  const uint64_t held_before = fr_node->federation()->relay().Held("de");
  v1::CreateRequestRequest create;
  *create.mutable_request() = comity::testing::FullRequest("budapest", v1::PRESERVATION);
  create.mutable_request()->set_requested_authority(de.authority);
  absl::StatusOr<v1::Request> draft =
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::CreateRequest, create);
  ASSERT_TRUE(draft.ok()) << draft.status();
  v1::SubmitRequestRequest submit;
  submit.set_name(draft->name());
  ASSERT_TRUE(
      Call(*fr_node, fr.Principal("clerk"), &v1::RequestService::Stub::SubmitRequest, submit).ok());
  ASSERT_TRUE(WaitFor([&] { return fr_node->federation()->relay().Held("de") > held_before; }));
  EXPECT_EQ(fr_node->federation()->relay().Sent("de"), 0u);
  absl::StatusOr<v1::Request> waiting = Get(*fr_node, fr.Principal("clerk"), draft->name());
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->relayed(0).state(), v1::RELAY_QUEUED);
  EXPECT_EQ(Get(*de_node, de.Principal("clerk"), draft->name()).status().code(),
            absl::StatusCode::kNotFound);

  // Cleared: the submission goes, and FR cosigns DE's log afresh.
  const uint64_t cosigned = de_node->federation()->cosigners().Cosigned("fr");
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", fr.Principal("admin"));
  v1::ClearSplitViewRequest clear;
  clear.set_node("de");
  clear.set_reason("the forged checkpoint was a test of DE's operators");
  v1::Peer peer;
  grpc::Status st = Stub<v1::DirectoryService>(*fr_node)->ClearSplitView(&ctx, clear, &peer);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::Request> r = Get(*fr_node, fr.Principal("clerk"), draft->name());
    return r.ok() && r->relayed(0).state() == v1::RELAY_DELIVERED;
  }));
  EXPECT_TRUE(
      WaitFor([&] { return de_node->federation()->cosigners().Cosigned("fr") > cosigned; }));
}

TEST_F(FederationTest, AConfigurationThatCannotFederateIsRefused) {
  config::v1::ServerConfig c = Config("fr", {"de"});
  c.clear_log_key_file();
  c.clear_log_origin();
  absl::Status s = server::Server::CheckConfig(c, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("log_key_file"), std::string::npos) << s;

  c = Config("fr", {"de", "de"});
  s = server::Server::CheckConfig(c, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("federation.peers[1]"), std::string::npos) << s;

  c = Config("fr", {"de"});
  c.mutable_federation()->mutable_peers(0)->set_trust_domain("fr.comity.test");
  s = server::Server::CheckConfig(c, "");
  EXPECT_NE(s.message().find("is this node's or another peer's"), std::string::npos) << s;

  c = Config("fr", {"de"});
  c.mutable_federation()->mutable_peers(0)->set_log_verifier_key("not a key");
  EXPECT_NE(server::Server::CheckConfig(c, "").message().find("log_verifier_key"),
            std::string::npos);

  c = Config("fr", {"de"});
  c.mutable_federation()->mutable_peers(0)->set_ca_file(dir_.path() + "/missing.pem");
  EXPECT_EQ(server::Server::CheckConfig(c, "").code(), absl::StatusCode::kFailedPrecondition);

  c = Config("fr", {"de"});
  c.mutable_federation()->set_node("FR");
  EXPECT_EQ(server::Server::CheckConfig(c, "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server::Server::CheckConfig(Config("fr", {"de"}), "").ok());
}

}  // namespace
}  // namespace comity
