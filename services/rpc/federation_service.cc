#include "services/rpc/federation_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/text.h"
#include "grpc/grpc_security_constants.h"
#include "services/audit/bundle.h"
#include "services/audit/chain.h"
#include "services/auth/policy.h"
#include "services/federation/snapshot.h"
#include "services/rpc/status.h"
#include "services/workflow/action_table.h"
#include "services/workflow/command.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"

namespace comity::rpc {
namespace {

constexpr char kPublish[] = "/comity.v1.FederationService/PublishDirectory";
constexpr char kRelay[] = "/comity.v1.FederationService/Relay";
constexpr char kAddCheckpoint[] = "/comity.v1.FederationService/AddCheckpoint";
constexpr char kFetch[] = "/comity.v1.FederationService/FetchEvidence";

// The request record as its last entry's record_digest names it: without its audit head and
// size.
std::string RecordDigest(v1::Request record) {
  record.clear_audit_head();
  record.clear_audit_size();
  return Sha256(audit::DeterministicBytes(record));
}

}  // namespace

FederationService::FederationService(const federation::PeerSet* peers,
                                     const workflow::Directory* directory, workflow::Engine* engine,
                                     SecurityLog* log, federation::Witness* witness,
                                     const workflow::Reader* reader, EvidenceService* evidence,
                                     std::function<void(const v1::Request&)> mirrored)
    : ParsedService("comity.v1.FederationService"),
      peers_(peers),
      directory_(directory),
      engine_(engine),
      log_(log),
      witness_(witness),
      reader_(reader),
      evidence_(evidence),
      mirrored_(std::move(mirrored)) {
  AddUnary("PublishDirectory", this, &FederationService::PublishDirectory);
  AddUnary("Relay", this, &FederationService::Relay);
  AddUnary("AddCheckpoint", this, &FederationService::AddCheckpoint);
  AddServerStream("FetchEvidence", this, &FederationService::FetchEvidence);
}

absl::StatusOr<workflow::Caller> FederationService::Fetching(const grpc::ServerContextBase& ctx,
                                                             const v1::DownloadRequest& req) const {
  absl::StatusOr<const federation::Peer*> peer = IdentifyPeer(ctx);
  if (!peer.ok()) return peer.status();
  absl::StatusOr<workflow::PackageName> package = workflow::ParsePackageName(req.name(), "name");
  if (!package.ok()) return package.status();
  const std::string request = workflow::RequestName(package->request_id);
  absl::StatusOr<v1::Request> record = reader_->Get(workflow::Caller::System(), request);
  if (!record.ok()) return record.status();
  if (!record->system_of_record().empty() ||
      directory_->HomeNode(record->requesting_authority()) != (*peer)->node) {
    return auth::RequestNotFound(request);
  }
  // The node downloads for the requesting authority, as its submitter would.
  return workflow::Caller{federation::NodeSpiffeId((*peer)->trust_domain, (*peer)->node),
                          record->requesting_authority(),
                          {v1::SUBMITTER},
                          false,
                          (*peer)->node};
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FederationService::FetchEvidence(
    grpc::CallbackServerContext* ctx, const v1::DownloadRequest* req) {
  return evidence_->DownloadAs(*req, Fetching(*ctx, *req), kFetch);
}

void FederationService::AddCheckpoint(grpc::CallbackServerContext* ctx,
                                      const v1::AddCheckpointRequest* req,
                                      v1::AddCheckpointResponse* reply, UnaryCall* call) {
  if (absl::Status s = log_->Start(); !s.ok()) return log_->Finish(call, *ctx, kAddCheckpoint, s);
  absl::StatusOr<const federation::Peer*> peer = IdentifyPeer(*ctx);
  if (!peer.ok()) return log_->Finish(call, *ctx, kAddCheckpoint, peer.status());
  absl::StatusOr<std::string> cosignature = witness_->AddCheckpoint(**peer, *req);
  if (cosignature.ok()) reply->set_cosignature(*std::move(cosignature));
  log_->Finish(call, *ctx, kAddCheckpoint, cosignature.status());
}

absl::StatusOr<const federation::Peer*> FederationService::IdentifyPeer(
    const grpc::ServerContextBase& ctx) const {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("a peer presents its node certificate");
  }
  std::vector<grpc::string_ref> ids = auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  // The chain the peer presented where the transport tells it, else its leaf certificate.
  std::vector<grpc::string_ref> chain =
      auth->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
  if (chain.size() != 1) chain = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (ids.size() != 1 || chain.size() != 1) {
    return absl::UnauthenticatedError(
        "the node certificate must carry exactly one spiffe:// URI subject alternative name");
  }
  return peers_->Identify(absl::string_view(ids[0].data(), ids[0].size()),
                          absl::string_view(chain[0].data(), chain[0].size()));
}

void FederationService::PublishDirectory(grpc::CallbackServerContext* ctx,
                                         const v1::PublishDirectoryRequest* req,
                                         v1::PublishDirectoryResponse* reply, UnaryCall* call) {
  if (absl::Status s = log_->Start(); !s.ok()) return log_->Finish(call, *ctx, kPublish, s);
  absl::StatusOr<const federation::Peer*> peer = IdentifyPeer(*ctx);
  if (!peer.ok()) return log_->Finish(call, *ctx, kPublish, peer.status());
  absl::StatusOr<v1::DirectorySnapshot> snapshot = federation::OpenSnapshot(*req, **peer);
  if (!snapshot.ok()) return log_->Finish(call, *ctx, kPublish, snapshot.status());
  workflow::Command cmd;
  cmd.action = v1::PEER_DIRECTORY;
  cmd.caller = workflow::Caller{
      federation::NodeSpiffeId((*peer)->trust_domain, (*peer)->node), "", {}, true, (*peer)->node};
  cmd.body = std::make_shared<v1::PublishDirectoryRequest>(*req);
  engine_->Apply(std::move(cmd),
                 [this, ctx, reply, call, node = (*peer)->node](absl::StatusOr<v1::Request> done) {
                   if (done.ok()) {
                     std::optional<v1::DirectorySnapshot> held = directory_->Peer(node);
                     reply->set_version(held ? held->version() : 0);
                   }
                   log_->Finish(call, *ctx, kPublish, done.status());
                 });
}

absl::StatusOr<workflow::Command> FederationService::Forwarded(const federation::Peer& peer,
                                                               const v1::RelayMessage& req) const {
  const v1::ForwardedAction& f = req.forward();
  const std::string& authority = f.actor().authority();
  if (directory_->HomeNode(authority) != peer.node || !directory_->FindAuthority(authority)) {
    return absl::PermissionDeniedError(absl::StrCat("node ", peer.node, " does not home ",
                                                    Echo(authority), ": it may not act for it"));
  }
  workflow::Caller caller{f.actor().principal(), authority, {}, false, peer.node};
  for (int r : f.roles()) caller.roles.push_back(static_cast<v1::Role>(r));
  if (!workflow::IsValidTimestamp(f.event_time())) {
    return workflow::InvalidField("forward.event_time", "must be a valid time", "MALFORMED");
  }
  workflow::Command cmd;
  if (f.action() == v1::SUBMIT) {
    const v1::Request& draft = f.draft();
    if (draft.requesting_authority() != authority) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the submission is ", Echo(draft.requesting_authority()), "'s, not ", authority, "'s"));
    }
    if (!directory_->FindAuthority(draft.requested_authority()) ||
        !directory_->HomeNode(draft.requested_authority()).empty()) {
      return absl::PermissionDeniedError(absl::StrCat("this node does not home ",
                                                      Echo(draft.requested_authority()),
                                                      ", the requested authority"));
    }
    auto body = std::make_shared<v1::SubmitRequestRequest>();
    if (!body->ParseFromString(f.body()) || body->name() != draft.name()) {
      return workflow::InvalidField("forward.body", "must be the SubmitRequestRequest of the draft",
                                    "MALFORMED");
    }
    cmd.action = v1::SUBMIT;
    cmd.caller = std::move(caller);
    cmd.name = draft.name();
    cmd.body = std::move(body);
  } else {
    // A later action of the requesting side, on a request this node keeps (the engine checks
    // that it is the caller's to take).
    const workflow::ActionRow* row = workflow::FindAction(f.action());
    if (row == nullptr || row->apply == nullptr || !row->requesting) {
      return workflow::InvalidField("forward.action",
                                    "must be an action the requesting side takes on a request",
                                    "UNKNOWN_ACTION");
    }
    std::shared_ptr<google::protobuf::Message> body(row->request->New());
    if (!body->ParseFromString(f.body())) {
      return workflow::InvalidField(
          "forward.body", absl::StrCat("must be a ", row->request->GetDescriptor()->full_name()),
          "MALFORMED");
    }
    cmd = workflow::MakeCommand(f.action(), std::move(caller), std::move(body));
    if (cmd.name != f.name()) {
      return workflow::InvalidField("forward.name", "must be the request the body names",
                                    "MALFORMED");
    }
  }
  cmd.request_id = req.key();
  cmd.relayed = std::make_shared<v1::ForwardedAction>(f);
  return cmd;
}

absl::StatusOr<workflow::Command> FederationService::Mirrored(const federation::Peer& peer,
                                                              const v1::RelayMessage& req) const {
  // Each entry as its signed bytes say, never as the peer's parsed copy beside them (a mirror may
  // leave the copies out).
  auto mirrored = std::make_shared<v1::MirroredTrail>(req.mirror());
  for (v1::TrailEntry& e : *mirrored->mutable_bundle()->mutable_trail()->mutable_entries()) {
    if (!e.mutable_entry()->ParseFromString(e.data())) {
      return workflow::InvalidField("mirror.bundle", "an entry's bytes do not parse", "UNVERIFIED");
    }
  }
  const v1::MirroredTrail& m = *mirrored;
  const v1::Request& record = m.record();
  const v1::Trail& trail = m.bundle().trail();
  // Nothing is applied unless the whole trail verifies against the peer's log key.
  absl::StatusOr<audit::BundleVerdict> verdict =
      audit::VerifyBundle(m.bundle(), peer.log_verifier_key);
  if (!verdict.ok()) {
    return workflow::InvalidField("mirror.bundle",
                                  absl::StrCat("does not verify against node ", peer.node,
                                               "'s log key: ", verdict.status().message()),
                                  "UNVERIFIED");
  }
  if (record.name() != trail.request() || record.audit_size() != trail.size() ||
      record.audit_head() != trail.head() || trail.entries().empty() ||
      trail.entries(trail.entries_size() - 1).entry().record_digest() != RecordDigest(record)) {
    return workflow::InvalidField("mirror.record",
                                  "must be the record the trail's last entry names", "UNVERIFIED");
  }
  if (directory_->HomeNode(record.requested_authority()) != peer.node) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", peer.node, " does not home ", Echo(record.requested_authority()),
                     ": it is not the system of record of ", record.name()));
  }
  workflow::Command cmd;
  cmd.action = v1::MIRROR;
  cmd.caller = workflow::Caller{
      federation::NodeSpiffeId(peer.trust_domain, peer.node), "", {}, true, peer.node};
  cmd.name = record.name();
  cmd.body = std::move(mirrored);
  return cmd;
}

void FederationService::Relay(grpc::CallbackServerContext* ctx, const v1::RelayRequest* req,
                              v1::RelayResponse* reply, UnaryCall* call) {
  if (absl::Status s = log_->Start(); !s.ok()) return log_->Finish(call, *ctx, kRelay, s);
  absl::StatusOr<const federation::Peer*> peer = IdentifyPeer(*ctx);
  if (!peer.ok()) return log_->Finish(call, *ctx, kRelay, peer.status());
  if (req->messages().empty()) {
    return log_->Finish(call, *ctx, kRelay,
                        workflow::InvalidField("messages", "at least one", "REQUIRED"));
  }
  // Each message's outcome in its place; the call is answered once the last is known. The
  // engine takes the commands in this order, in as few commit groups as it can.
  struct Batch {
    absl::Mutex mu;
    std::vector<absl::Status> results ABSL_GUARDED_BY(mu);
    int pending ABSL_GUARDED_BY(mu) = 0;
  };
  auto batch = std::make_shared<Batch>();
  const int n = req->messages_size();
  {
    absl::MutexLock lock(&batch->mu);
    batch->results.resize(n);
    batch->pending = n + 1;  // one for this loop
  }
  const std::string principal = federation::NodeSpiffeId((*peer)->trust_domain, (*peer)->node);
  auto finish = [this, ctx, call, reply, batch, principal](int i, absl::Status s) {
    std::vector<absl::Status> results;
    {
      absl::MutexLock lock(&batch->mu);
      if (i >= 0) batch->results[i] = std::move(s);
      if (--batch->pending > 0) return;
      results = std::move(batch->results);
    }
    for (const absl::Status& r : results) {
      google::rpc::Status* out = reply->add_results();
      out->set_code(static_cast<int>(r.code()));
      out->set_message(std::string(r.message()));
      if (absl::IsPermissionDenied(r) || absl::IsUnauthenticated(r) || absl::IsNotFound(r)) {
        log_->Record(principal, kRelay, ToGrpcStatus(r));
      }
    }
    log_->Finish(call, *ctx, kRelay, absl::OkStatus());
  };
  for (int i = 0; i < n; ++i) {
    const v1::RelayMessage& m = req->messages(i);
    absl::StatusOr<workflow::Command> cmd =
        !absl::StartsWith(m.key(), absl::StrCat((*peer)->node, "/")) || m.key().size() > 64
            ? workflow::InvalidField("key", "must be <sending node>/<outbox position>", "MALFORMED")
        : m.has_forward() ? Forwarded(**peer, m)
        : m.has_mirror()
            ? Mirrored(**peer, m)
            : workflow::InvalidField("message", "a forward or a mirror is required", "REQUIRED");
    if (!cmd.ok()) {
      finish(i, cmd.status());
      continue;
    }
    const bool mirror = cmd->action == v1::MIRROR;
    engine_->Apply(*std::move(cmd), [this, finish, i, mirror](absl::StatusOr<v1::Request> done) {
      if (mirror && done.ok() && mirrored_) mirrored_(*done);
      finish(i, done.status());
    });
  }
  finish(-1, absl::OkStatus());
}

}  // namespace comity::rpc
