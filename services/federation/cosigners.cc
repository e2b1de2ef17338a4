#include "services/federation/cosigners.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/audit/note.h"
#include "services/federation/lanes.h"
#include "services/rpc/status.h"
#include "services/workflow/errors.h"

namespace comity::federation {

struct Cosigners::Lane : PeerLane {
  uint64_t held = 0;          // the size the peer holds for this node, as last learnt
  std::string cosigned_root;  // of the checkpoint it cosigned last
  std::atomic<uint64_t> cosigned{0};
  bool failing = false;
};

Cosigners::Cosigners(const PeerSet* peers, const NodeCredentials& node,
                     audit::Checkpointer* checkpoints, const workflow::Reader* reader,
                     Options options)
    : checkpoints_(checkpoints),
      reader_(reader),
      options_(options),
      lanes_(MakeLanes<Lane>(*peers, node, options_.max_message_bytes)) {
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Run(l); });
}

Cosigners::~Cosigners() { Stop(); }

void Cosigners::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  JoinLanes(lanes_);
}

uint64_t Cosigners::Cosigned(const std::string& peer) const {
  const Lane* lane = FindLane(lanes_, peer);
  return lane != nullptr ? lane->cosigned.load() : 0;
}

void Cosigners::Run(Lane* lane) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    Witness(lane);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
    if (stop_) return;
  }
}

bool Cosigners::Witness(Lane* lane) {
  absl::StatusOr<v1::Checkpoint> latest = checkpoints_->Latest();
  if (!latest.ok() || latest->size() == 0) return false;
  if (latest->size() == lane->cosigned.load() && latest->root_hash() == lane->cosigned_root) {
    return false;
  }
  // Twice at most: the second time from the size the peer says it holds.
  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::AddCheckpointRequest req;
    req.set_old_size(lane->held);
    if (lane->held > 0 && lane->held < latest->size()) {
      absl::StatusOr<v1::ConsistencyProof> proof =
          reader_->Consistency(lane->held, latest->size(), latest->size());
      if (!proof.ok()) return false;
      *req.mutable_consistency() = std::move(*proof->mutable_hashes());
    }
    req.set_checkpoint(latest->note());  // other witnesses' lines ride along, ignored
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    lane->Begin(&ctx);
    {
      absl::MutexLock lock(&mu_);
      if (stop_) ctx.TryCancel();
    }
    v1::AddCheckpointResponse response;
    const absl::Status st = rpc::FromGrpcStatus(lane->stub->AddCheckpoint(&ctx, req, &response));
    lane->End();
    // A line that does not verify would only break the bundles that carry it.
    absl::Status checked = st;
    if (st.ok()) {
      absl::StatusOr<std::string> key = audit::CosignerKeyOf(lane->peer->log_verifier_key);
      if (!key.ok()) return false;
      checked = audit::VerifyCosignature(latest->note() + response.cosignature(), *key).status();
      if (!checked.ok()) {
        checked =
            absl::DataLossError(absl::StrCat("its cosignature does not verify against its log "
                                             "key: ",
                                             checked.message()));
      }
    }
    if (checked.ok()) {
      checkpoints_->AddCosignature(latest->size(), latest->root_hash(), lane->peer->node,
                                   response.cosignature());
      lane->held = latest->size();
      lane->cosigned_root = latest->root_hash();
      lane->cosigned = latest->size();
      if (lane->failing && options_.log != nullptr) {
        *options_.log << "federation: peer " << lane->peer->node
                      << " cosigns this node's checkpoints again\n";
      }
      lane->failing = false;
      return true;
    }
    uint64_t held = 0;
    bool mismatch = false;
    for (const workflow::PreconditionViolation& v : workflow::PreconditionViolationsOf(checked)) {
      if (v.type == "CHECKPOINT_SIZE_MISMATCH" && absl::SimpleAtoi(v.subject, &held)) {
        mismatch = true;
      }
    }
    if (mismatch && held != lane->held && held <= latest->size() && attempt == 0) {
      lane->held = held;
      continue;
    }
    if (!lane->failing && options_.log != nullptr) {
      *options_.log << "federation: peer " << lane->peer->node
                    << " does not cosign this node's checkpoint of size " << latest->size() << ": "
                    << LogField(checked.ToString(), 256) << "\n";
    }
    lane->failing = true;
    return false;
  }
  return false;
}

}  // namespace comity::federation
