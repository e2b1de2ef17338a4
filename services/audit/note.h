#ifndef COMITY_SERVICES_AUDIT_NOTE_H_
#define COMITY_SERVICES_AUDIT_NOTE_H_

// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, and the tlog-checkpoint body
// they carry, so that standard transparency-log tooling can read the node's checkpoints.
//   signed note: <text ending in \n> \n — <key name> <base64(key hash[4] || signature[64])> \n
//   key hash:    first 4 bytes of SHA-256(<key name> || 0x0A || 0x01 || public key)
//   checkpoint:  <origin>\n<tree size>\n<base64 root hash>\n

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace comity::audit {

// Signs notes with one Ed25519 key. Thread-safe.
class NoteSigner {
 public:
  // `seed` is the 32-byte Ed25519 private key. INVALID_ARGUMENT for a bad name or seed.
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromSeed(std::string name,
                                                              absl::string_view seed);
  // The Go sumdb/note private key form: PRIVATE+KEY+<name>+<hash hex>+<base64(0x01 || seed)>.
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromSignerKey(absl::string_view key);

  // `text` (which must end in a newline) followed by this key's signature line.
  std::string Sign(absl::string_view text) const;

  // The verifier key: <name>+<hash hex>+<base64(0x01 || public key)>.
  std::string VerifierKey() const;
  // The key's name (a log's origin).
  const std::string& name() const { return name_; }

  // A C2SP tlog-cosignature (cosignature/v1, Ed25519) of the checkpoint note text
  // `checkpoint_text` at `timestamp` (seconds since the epoch): one signature line,
  //   "— <name> base64(key id[4] || timestamp u64 big-endian || signature[64])\n",
  // the key id being SHA-256(<name> || 0x0A || 0x04 || public key)[:4] and the signed message
  // "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint text. The same key thus
  // signs notes and cosigns, kept apart by the algorithm byte and the message's first line.
  std::string Cosign(absl::string_view checkpoint_text, int64_t timestamp) const;

  // The cosigner key of this key: <name>+<hash hex>+<base64(0x04 || public key)>.
  std::string CosignerKey() const;

 private:
  NoteSigner(std::string name, std::string seed, std::string public_key);
  std::string name_, seed_, public_key_;
  uint32_t key_hash_;
};

// Verifies `note` against the verifier key `verifier_key` and returns its text. DATA_LOSS unless
// at least one signature line is by that key and every line by that key verifies (altered text,
// another key, no signature, a forged line beside a good one);
// INVALID_ARGUMENT if the note or the key is malformed.
absl::StatusOr<std::string> OpenNote(absl::string_view note, absl::string_view verifier_key);

// INVALID_ARGUMENT unless `verifier_key` is a well-formed Ed25519 verifier key.
absl::Status CheckVerifierKey(absl::string_view verifier_key);

// The cosigner key (0x04) of the same name and public key as the note verifier key
// `verifier_key` (0x01): what a peer's cosignatures verify against. INVALID_ARGUMENT if the key is
// malformed.
absl::StatusOr<std::string> CosignerKeyOf(absl::string_view verifier_key);

// The timestamp of the cosignature of `note` (a checkpoint note) by `cosigner_key`
// (<name>+<hash>+<base64(0x04 || key)>). DATA_LOSS unless the note carries one by that key and
// every line by that key verifies; INVALID_ARGUMENT if the note or the key is malformed.
absl::StatusOr<int64_t> VerifyCosignature(absl::string_view note, absl::string_view cosigner_key);

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  std::string root_hash;  // 32 bytes
};

std::string CheckpointText(const Checkpoint& checkpoint);

// INVALID_ARGUMENT unless `text` is exactly a checkpoint body (extension lines are allowed).
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_NOTE_H_
