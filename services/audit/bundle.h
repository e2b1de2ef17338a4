#ifndef COMITY_SERVICES_AUDIT_BUNDLE_H_
#define COMITY_SERVICES_AUDIT_BUNDLE_H_

// Trail bundles: a request's trail that an auditor verifies offline, trusting only the node's
// verifier key.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "comity/v1/audit.pb.h"
#include "services/audit/note.h"

namespace comity::audit {

// The text of the trail note: what the node signs about `trail` against `checkpoint_size`.
std::string TrailNoteText(const v1::Trail& trail, uint64_t checkpoint_size);

// Joins the parts of one export (ExportTrail pages, in order) into the one bundle they make. The
// first part carries the note, the checkpoint and any consistency proof, the later ones only
// entries; every part names the same request, size and head. INVALID_ARGUMENT if the parts do not
// fit together. The joined bundle is then verified as any other: VerifyBundle is what catches a
// tampered part.
absl::StatusOr<v1::TrailBundle> JoinBundleParts(std::vector<v1::TrailBundle> parts);

struct BundleVerdict {
  std::string request;
  uint64_t entries = 0;
  Checkpoint checkpoint;
  uint64_t receipts = 0;  // the entries' receipts, each verified
};

// Checks, in order: the checkpoint's signature (with `verifier_key`); the trail note's signature
// and that it names this request and this checkpoint; the hash chain, complete up to the signed
// head; each entry's receipts (signed by the same key, stating what the entry records); and each
// entry's inclusion proof against the signed root. DATA_LOSS naming the first
// thing that is wrong; INVALID_ARGUMENT for a malformed key or bundle.
// With `old_checkpoint_note` (a checkpoint the auditor kept from before), also checks that the
// bundle's consistency proof shows the signed log extends that one: DATA_LOSS if the history was
// rewritten or the views split.
absl::StatusOr<BundleVerdict> VerifyBundle(const v1::TrailBundle& bundle,
                                           absl::string_view verifier_key,
                                           absl::string_view old_checkpoint_note = "");

// The timestamp (Unix seconds) at which the witness with cosigner key `cosigner_key` cosigned the
// bundle's checkpoint (C2SP tlog-cosignature). DATA_LOSS unless the checkpoint's note carries a
// valid cosignature by that key; INVALID_ARGUMENT if the key is malformed. Check the bundle with
// VerifyBundle as well: this looks at the cosignature alone.
absl::StatusOr<int64_t> VerifyWitnessed(const v1::TrailBundle& bundle,
                                        absl::string_view cosigner_key);

// Opens a signed checkpoint with `verifier_key` and parses it; DATA_LOSS if the signature fails.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, absl::string_view verifier_key);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_BUNDLE_H_
