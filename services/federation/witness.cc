#include "services/federation/witness.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "comity/storage/v1/records.pb.h"
#include "common/text.h"
#include "prometheus/counter.h"
#include "services/audit/merkle.h"
#include "services/workflow/command.h"
#include "services/workflow/errors.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"

namespace comity::federation {
namespace {

// A consistency proof of a tree of 2^64 leaves has at most 2 * 64 hashes.
constexpr int kMaxProofHashes = 128;

absl::Status SplitViewRefusal(const std::string& node) {
  return workflow::Precondition(
      "SPLIT_VIEW", node,
      absl::StrCat("a split view is recorded against node ", node,
                   ": this node cosigns none of its checkpoints until an administrator clears it"));
}

}  // namespace

absl::StatusOr<std::string> Witness::AddCheckpoint(const Peer& peer,
                                                   const v1::AddCheckpointRequest& req) {
  absl::MutexLock lock(&mu_);
  if (parts_.directory->SplitViewOf(peer.node)) return SplitViewRefusal(peer.node);
  absl::StatusOr<std::string> text = audit::OpenNote(req.checkpoint(), peer.log_verifier_key);
  if (absl::IsDataLoss(text.status())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the checkpoint is not signed by the log key configured for node ", peer.node));
  }
  if (!text.ok()) {
    return workflow::InvalidField("checkpoint", std::string(text.status().message()), "MALFORMED");
  }
  absl::StatusOr<audit::Checkpoint> c = audit::ParseCheckpoint(*text);
  if (!c.ok())
    return workflow::InvalidField("checkpoint", std::string(c.status().message()), "MALFORMED");
  const std::string key_name = peer.log_verifier_key.substr(0, peer.log_verifier_key.find('+'));
  if (c->origin != key_name) {
    return workflow::InvalidField(
        "checkpoint",
        absl::StrCat("the origin must be ", key_name, ", the log of node ", peer.node),
        "WRONG_ORIGIN");
  }
  if (req.consistency_size() > kMaxProofHashes) {
    return workflow::InvalidField("consistency",
                                  absl::StrCat("a proof has at most ", kMaxProofHashes, " hashes"),
                                  "TOO_LONG");
  }

  // What this node holds for the peer: the checkpoint it cosigned last.
  storage::v1::WitnessedCheckpoint held;
  absl::StatusOr<std::string> bytes =
      parts_.store->Get(storage::Column::kMeta, storage::WitnessKey(peer.node));
  if (bytes.ok()) {
    if (!held.ParseFromString(*bytes)) {
      return absl::DataLossError(
          absl::StrCat("the checkpoint witnessed for node ", peer.node, " is corrupt"));
    }
  } else if (!absl::IsNotFound(bytes.status())) {
    return bytes.status();
  }
  if (req.old_size() != held.size()) {
    return workflow::Precondition(
        "CHECKPOINT_SIZE_MISMATCH", absl::StrCat(held.size()),
        absl::StrCat("this node last cosigned a checkpoint of size ", held.size(), " for node ",
                     peer.node, ", not ", req.old_size(), ": send the proof from that size"));
  }
  if (c->size < req.old_size()) {
    return workflow::InvalidField(
        "checkpoint",
        absl::StrCat("the tree size ", c->size, " is smaller than old_size ", req.old_size()),
        "OUT_OF_ORDER");
  }
  const std::vector<std::string> proof(req.consistency().begin(), req.consistency().end());
  if (held.size() == 0 || held.size() == c->size) {
    if (!proof.empty()) {
      return workflow::InvalidField(
          "consistency", "must be empty when old_size is 0 or the checkpoint's size", "UNEXPECTED");
    }
  }
  if (held.size() > 0 && held.size() == c->size) {
    if (held.root_hash() != c->root_hash) {
      return SplitView(peer, held.note(), req.checkpoint(), req,
                       absl::StrCat("two checkpoints of size ", c->size, " with different roots"));
    }
  } else if (held.size() > 0) {
    absl::Status consistent =
        audit::VerifyConsistency(held.size(), c->size, proof, held.root_hash(), c->root_hash);
    // A proof that does not verify cannot be told from a rewritten history: the peer holds
    // both trees and can always prove the true one.
    if (absl::IsDataLoss(consistent)) {
      return SplitView(peer, held.note(), req.checkpoint(), req,
                       absl::StrCat("the checkpoint of size ", c->size,
                                    " is not proved to extend the one of size ", held.size(), ": ",
                                    std::string(consistent.message())));
    }
    if (!consistent.ok()) {
      return workflow::InvalidField("consistency", std::string(consistent.message()), "MALFORMED");
    }
  }
  if (held.size() != c->size || held.note().empty()) {
    storage::v1::WitnessedCheckpoint next;
    next.set_size(c->size);
    next.set_root_hash(c->root_hash);
    next.set_note(req.checkpoint());
    storage::WriteSet batch;
    batch.Put(storage::Column::kMeta, storage::WitnessKey(peer.node), next.SerializeAsString());
    if (absl::Status s = parts_.store->Commit(batch); !s.ok()) return s;
  }
  return parts_.signer->Cosign(*text, absl::ToUnixSeconds(parts_.clock->Now()));
}

absl::Status Witness::SplitView(const Peer& peer, const std::string& witnessed,
                                const std::string& note, const v1::AddCheckpointRequest& req,
                                const std::string& reason) {
  if (parts_.log != nullptr) {
    *parts_.log << "federation: SPLIT VIEW of node " << peer.node << ": " << LogField(reason, 256)
                << "; relaying to it stops until an administrator clears it\n";
  }
  if (parts_.split_views != nullptr) parts_.split_views->Increment();
  auto body = std::make_shared<v1::RecordSplitViewRequest>();
  v1::SplitView* v = body->mutable_split_view();
  v->set_node(peer.node);
  v->set_witnessed(witnessed);
  v->set_conflicting(note);
  *v->mutable_consistency() = req.consistency();
  v->set_reason(reason);
  *v->mutable_detect_time() = workflow::ToProto(parts_.clock->Now());
  workflow::Command cmd;
  cmd.action = v1::PEER_SPLIT_VIEW;
  cmd.caller = workflow::Caller::System();
  cmd.body = std::move(body);
  absl::Notification recorded;
  absl::Status status;
  parts_.engine->Apply(std::move(cmd), [&](absl::StatusOr<v1::Request> done) {
    status = done.status();
    recorded.Notify();
  });
  recorded.WaitForNotification();
  if (!status.ok()) {
    if (parts_.log != nullptr) {
      *parts_.log << "federation: the split view of node " << peer.node
                  << " is not recorded: " << LogField(status.ToString(), 256) << "\n";
    }
    return status;
  }
  return SplitViewRefusal(peer.node);
}

}  // namespace comity::federation
