#include "services/audit/checkpointer.h"

namespace comity::audit {

void Checkpointer::Update(uint64_t size, const std::string& root) {
  absl::MutexLock lock(&mu_);
  if (size == size_ && root == root_ && !root_.empty()) return;
  size_ = size;
  root_ = root;
  fresh_ = false;
}

absl::StatusOr<v1::Checkpoint> Checkpointer::Latest() {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this node has no log signing key (log_key_file): it serves no checkpoints");
  }
  absl::MutexLock lock(&mu_);
  if (!fresh_) {
    Checkpoint c{origin_, size_, root_};
    std::string note = signer_->Sign(CheckpointText(c));
    if (size_ == cosigned_size_ && root_ == cosigned_root_) {
      for (const auto& [witness, line] : cosignatures_) note += line;
    }
    signed_.set_note(std::move(note));
    signed_.set_size(size_);
    signed_.set_root_hash(root_);
    signed_.set_verifier_key(signer_->VerifierKey());
    fresh_ = true;
  }
  return signed_;
}

void Checkpointer::AddCosignature(uint64_t size, const std::string& root,
                                  const std::string& witness, const std::string& cosignature) {
  absl::MutexLock lock(&mu_);
  if (size < cosigned_size_) return;
  if (size > cosigned_size_ || root != cosigned_root_) {
    cosigned_size_ = size;
    cosigned_root_ = root;
    cosignatures_.clear();
  }
  cosignatures_[witness] = cosignature;
  if (size == size_ && root == root_) fresh_ = false;
}

absl::StatusOr<v1::Checkpoint> Checkpointer::LatestCosigned() {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this node has no log signing key (log_key_file): it serves no checkpoints");
  }
  absl::MutexLock lock(&mu_);
  if (cosignatures_.empty()) {
    return absl::FailedPreconditionError(
        "no witness has cosigned a checkpoint of this node's log yet: try again once its peers "
        "have seen it");
  }
  v1::Checkpoint c;
  std::string note = signer_->Sign(CheckpointText({origin_, cosigned_size_, cosigned_root_}));
  for (const auto& [witness, line] : cosignatures_) note += line;
  c.set_note(std::move(note));
  c.set_size(cosigned_size_);
  c.set_root_hash(cosigned_root_);
  c.set_verifier_key(signer_->VerifierKey());
  return c;
}

absl::StatusOr<std::string> Checkpointer::Sign(absl::string_view text) const {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this node has no log signing key (log_key_file): it cannot sign trail bundles");
  }
  return signer_->Sign(text);
}

}  // namespace comity::audit
