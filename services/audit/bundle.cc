#include "services/audit/bundle.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/audit/receipt.h"

namespace comity::audit {

std::string TrailNoteText(const v1::Trail& trail, uint64_t checkpoint_size) {
  return absl::StrCat("comity-trail/v1\n", trail.request(), "\n", trail.size(), "\n",
                      absl::Base64Escape(trail.head()), "\n", checkpoint_size, "\n");
}

absl::StatusOr<v1::TrailBundle> JoinBundleParts(std::vector<v1::TrailBundle> parts) {
  if (parts.empty()) return absl::InvalidArgumentError("an export has at least one part");
  v1::TrailBundle joined = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    v1::TrailBundle& part = parts[i];
    const v1::Trail& t = part.trail();
    if (t.request() != joined.trail().request() || t.size() != joined.trail().size() ||
        t.head() != joined.trail().head() || !part.trail_note().empty() || t.has_checkpoint() ||
        part.has_consistency()) {
      return absl::InvalidArgumentError(
          absl::StrCat("part ", i + 1, " of the export is not a later part of the same trail"));
    }
    for (v1::TrailEntry& e : *part.mutable_trail()->mutable_entries()) {
      *joined.mutable_trail()->add_entries() = std::move(e);
    }
  }
  joined.mutable_trail()->clear_next_page_token();
  return joined;
}

absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, absl::string_view verifier_key) {
  absl::StatusOr<std::string> text = OpenNote(note, verifier_key);
  if (!text.ok()) {
    if (!absl::IsDataLoss(text.status())) return text.status();
    return absl::DataLossError(
        absl::StrCat("the checkpoint is not signed by this key: ", text.status().message()));
  }
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(*text);
  if (!c.ok()) return c;
  // The key is named by the log it signs for: a checkpoint of another origin is not this log's.
  const absl::string_view key_name = verifier_key.substr(0, verifier_key.find('+'));
  if (c->origin != key_name) {
    return absl::DataLossError(absl::StrCat("the checkpoint's origin ", Echo(c->origin),
                                            " is not the key's name ", Echo(key_name)));
  }
  return c;
}

absl::StatusOr<BundleVerdict> VerifyBundle(const v1::TrailBundle& bundle,
                                           absl::string_view verifier_key,
                                           absl::string_view old_checkpoint_note) {
  const v1::Trail& trail = bundle.trail();
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(trail.checkpoint().note(), verifier_key);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::string> trail_text = OpenNote(bundle.trail_note(), verifier_key);
  if (!trail_text.ok()) {
    return absl::DataLossError("the trail note is not signed by this key");
  }
  // Only signed values are trusted from here: the trail's length and head, the checkpoint.
  if (*trail_text != TrailNoteText(trail, checkpoint->size)) {
    return absl::DataLossError(
        "the trail does not match what the node signed: entries were removed or added, the "
        "head was changed, or the checkpoint was replaced");
  }
  if (trail.size() == 0 && !trail.head().empty()) {
    return absl::DataLossError("an empty trail has no head, but this one names one");
  }
  std::vector<std::string> bytes;
  for (const v1::TrailEntry& e : trail.entries()) bytes.push_back(e.data());
  if (absl::Status chain = VerifyChain(trail.request(), bytes, trail.head(), trail.size());
      !chain.ok()) {
    return chain;
  }
  uint64_t receipts = 0;
  for (int i = 0; i < trail.entries_size(); ++i) {
    v1::AuditEntry entry;  // from the hashed bytes, never from the unhashed copy beside them
    // The node writes each entry in the one deterministic serialization: bytes that parse but
    // are not that (a field twice, an unknown field, another order) were not written by it.
    if (!entry.ParseFromString(trail.entries(i).data()) ||
        DeterministicBytes(entry) != trail.entries(i).data()) {
      return absl::DataLossError(absl::StrCat(
          "entry ", i + 1, " is not in the node's serialization (a repeated or unknown field)"));
    }
    for (const v1::Receipt& r : entry.receipts()) {
      if (absl::Status s = VerifyReceipt(r, entry, verifier_key); !s.ok()) {
        return absl::DataLossError(absl::StrCat("entry ", i + 1, ": ", s.message()));
      }
      ++receipts;
    }
    const auto& p = trail.entries(i).inclusion_proof();
    absl::Status in =
        VerifyInclusion(entry.leaf_index(), checkpoint->size, LeafHash(trail.entries(i).data()),
                        std::vector<std::string>(p.begin(), p.end()), checkpoint->root_hash);
    if (!in.ok()) {
      return absl::DataLossError(
          absl::StrCat("entry ", i + 1, " is not in the signed log: ", in.message()));
    }
  }
  if (!old_checkpoint_note.empty()) {
    absl::StatusOr<Checkpoint> old = OpenCheckpoint(old_checkpoint_note, verifier_key);
    if (!old.ok()) return old.status();
    const v1::ConsistencyProof& p = bundle.consistency();
    if (old->size > checkpoint->size) {
      return absl::DataLossError(absl::StrCat("the log shrank from the kept checkpoint's size ",
                                              old->size, " to ", checkpoint->size, ": a rollback"));
    }
    if (old->size == checkpoint->size) {
      // The same size proves itself: the roots must be equal, no proof is needed.
      if (old->root_hash != checkpoint->root_hash) {
        return absl::DataLossError(
            "the kept checkpoint and this one have the same size but different roots: a split "
            "view");
      }
    } else if (p.from_size() != old->size || p.to_size() != checkpoint->size) {
      return absl::DataLossError(
          absl::StrCat("the bundle proves no consistency with the old checkpoint of size ",
                       old->size, "; export it with that checkpoint"));
    }
    if (old->size < checkpoint->size) {
      absl::Status c =
          VerifyConsistency(old->size, checkpoint->size,
                            std::vector<std::string>(p.hashes().begin(), p.hashes().end()),
                            old->root_hash, checkpoint->root_hash);
      if (!c.ok()) {
        return absl::DataLossError(absl::StrCat(
            "the log does not extend the old checkpoint (rewritten history or a split view): ",
            c.message()));
      }
    }
  }
  return BundleVerdict{trail.request(), static_cast<uint64_t>(trail.entries_size()),
                       *std::move(checkpoint), receipts};
}

absl::StatusOr<int64_t> VerifyWitnessed(const v1::TrailBundle& bundle,
                                        absl::string_view cosigner_key) {
  absl::StatusOr<int64_t> t = VerifyCosignature(bundle.trail().checkpoint().note(), cosigner_key);
  if (absl::IsDataLoss(t.status())) {
    return absl::DataLossError(absl::StrCat("the checkpoint is not cosigned by witness ",
                                            cosigner_key.substr(0, cosigner_key.find('+')), ": ",
                                            t.status().message()));
  }
  return t;
}

}  // namespace comity::audit
