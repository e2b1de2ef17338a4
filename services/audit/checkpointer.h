#ifndef COMITY_SERVICES_AUDIT_CHECKPOINTER_H_
#define COMITY_SERVICES_AUDIT_CHECKPOINTER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "comity/v1/audit.pb.h"
#include "services/audit/note.h"

namespace comity::audit {

// Holds the durable head of the Merkle log and signs checkpoints of it on demand (Ed25519 is
// deterministic: one head, one note). Thread-safe.
class Checkpointer {
 public:
  // `signer` may be null: the log is kept but no checkpoint is served.
  Checkpointer(std::string origin, std::unique_ptr<NoteSigner> signer)
      : origin_(std::move(origin)), signer_(std::move(signer)) {}

  // The log is durable up to `size` leaves with `root`.
  void Update(uint64_t size, const std::string& root);

  // The signed checkpoint of the latest durable head, with the cosignatures it has, if any.
  // FAILED_PRECONDITION without a signing key.
  absl::StatusOr<v1::Checkpoint> Latest();

  // The witness `witness` cosigned the checkpoint of `size` leaves with `root` with
  // `cosignature` (one signature line). Kept with the newest cosigned head: added to it, or
  // replacing it when the head is newer; ignored for an older head.
  void AddCosignature(uint64_t size, const std::string& root, const std::string& witness,
                      const std::string& cosignature);

  // The newest checkpoint any witness cosigned, its note carrying every cosignature it has.
  // FAILED_PRECONDITION when none has been cosigned since the node started.
  absl::StatusOr<v1::Checkpoint> LatestCosigned();

  // The log key's signer; null without one.
  const NoteSigner* signer() const { return signer_.get(); }

  // `text` signed with the log key (FAILED_PRECONDITION without one).
  absl::StatusOr<std::string> Sign(absl::string_view text) const;

 private:
  const std::string origin_;
  const std::unique_ptr<NoteSigner> signer_;
  absl::Mutex mu_;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  std::string root_ ABSL_GUARDED_BY(mu_);
  v1::Checkpoint signed_ ABSL_GUARDED_BY(mu_);  // of the head above, once asked for
  bool fresh_ ABSL_GUARDED_BY(mu_) = false;
  // The newest cosigned head, its note as signed, and its cosignatures by witness.
  uint64_t cosigned_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::string cosigned_root_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> cosignatures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_CHECKPOINTER_H_
