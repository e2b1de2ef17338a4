#ifndef COMITY_SERVICES_AUDIT_BUNDLE_H_
#define COMITY_SERVICES_AUDIT_BUNDLE_H_

// Trail bundles: a request's trail that an auditor verifies offline, trusting only the node's
// verifier key.

#include <string>

#include "absl/status/statusor.h"
#include "comity/v1/audit.pb.h"
#include "services/audit/note.h"

namespace comity::audit {

// The text of the trail note: what the node signs about `trail` against `checkpoint_size`.
std::string TrailNoteText(const v1::Trail& trail, uint64_t checkpoint_size);

// Drops the entries the checkpoint of `checkpoint_size` does not cover yet (written after it), so
// the trail and its head are exactly those the proofs reach.
void TrimToCheckpoint(uint64_t checkpoint_size, v1::Trail* trail);

struct BundleVerdict {
  std::string request;
  uint64_t entries = 0;
  Checkpoint checkpoint;
};

// Checks, in order: the checkpoint's signature (with `verifier_key`); the trail note's signature
// and that it names this request and this checkpoint; the hash chain, complete up to the signed
// head; and each entry's inclusion proof against the signed root. DATA_LOSS naming the first
// thing that is wrong; INVALID_ARGUMENT for a malformed key or bundle.
// With `old_checkpoint_note` (a checkpoint the auditor kept from before), also checks that the
// bundle's consistency proof shows the signed log extends that one: DATA_LOSS if the history was
// rewritten or the views split.
absl::StatusOr<BundleVerdict> VerifyBundle(const v1::TrailBundle& bundle,
                                           absl::string_view verifier_key,
                                           absl::string_view old_checkpoint_note = "");

// Opens a signed checkpoint with `verifier_key` and parses it; DATA_LOSS if the signature fails.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, absl::string_view verifier_key);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_BUNDLE_H_
