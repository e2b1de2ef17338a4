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
    signed_.set_note(signer_->Sign(CheckpointText(c)));
    signed_.set_size(size_);
    signed_.set_root_hash(root_);
    signed_.set_verifier_key(signer_->VerifierKey());
    fresh_ = true;
  }
  return signed_;
}

absl::StatusOr<std::string> Checkpointer::Sign(absl::string_view text) const {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this node has no log signing key (log_key_file): it cannot sign trail bundles");
  }
  return signer_->Sign(text);
}

}  // namespace comity::audit
