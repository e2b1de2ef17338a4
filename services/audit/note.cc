#include "services/audit/note.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/sha256.h"

namespace comity::audit {
namespace {

constexpr char kAlgEd25519 = 0x01;
constexpr char kAlgCosignature = 0x04;     // C2SP tlog-cosignature, cosignature/v1
constexpr char kDash[] = "\xe2\x80\x94 ";  // "— "

uint32_t KeyHash(absl::string_view name, absl::string_view public_key, char alg = kAlgEd25519) {
  const std::string h = Sha256(absl::StrCat(name, "\n", std::string(1, alg), public_key));
  return (static_cast<uint32_t>(static_cast<uint8_t>(h[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(h[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(h[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(h[3]));
}

std::string HashBytes(uint32_t h) {
  return std::string{static_cast<char>(h >> 24), static_cast<char>(h >> 16),
                     static_cast<char>(h >> 8), static_cast<char>(h)};
}

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '+' || c == ' ' || c == '\n' || static_cast<unsigned char>(c) < 0x21) return false;
  }
  return true;
}

bool Ed25519Verify(absl::string_view public_key, absl::string_view message,
                   absl::string_view signature) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size());
  if (key == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

// The 64-byte Ed25519 signature of `message` by the key of 32-byte `seed`.
std::string Ed25519Sign(absl::string_view seed, absl::string_view message) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string signature(64, '\0');
  size_t len = signature.size();
  EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &len,
                 reinterpret_cast<const unsigned char*>(message.data()), message.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return signature;
}

}  // namespace

NoteSigner::NoteSigner(std::string name, std::string seed, std::string public_key)
    : name_(std::move(name)),
      seed_(std::move(seed)),
      public_key_(std::move(public_key)),
      key_hash_(KeyHash(name_, public_key_)) {}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromSeed(std::string name,
                                                                 absl::string_view seed) {
  if (!ValidName(name)) return absl::InvalidArgumentError("a key name has no spaces or '+'");
  if (seed.size() != 32) return absl::InvalidArgumentError("an Ed25519 seed is 32 bytes");
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 private key");
  std::string public_key(32, '\0');
  size_t len = public_key.size();
  const bool ok = EVP_PKEY_get_raw_public_key(
                      key, reinterpret_cast<unsigned char*>(public_key.data()), &len) == 1;
  EVP_PKEY_free(key);
  if (!ok || len != 32) return absl::InternalError("cannot derive the Ed25519 public key");
  return std::unique_ptr<NoteSigner>(
      new NoteSigner(std::move(name), std::string(seed), std::move(public_key)));
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromSignerKey(absl::string_view key) {
  // PRIVATE+KEY+<name>+<hash>+<base64>; the base64 may itself contain '+'.
  std::vector<absl::string_view> parts = absl::StrSplit(key, absl::MaxSplits('+', 4));
  std::string raw;
  if (parts.size() != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" ||
      !absl::Base64Unescape(parts[4], &raw) || raw.size() != 33 || raw[0] != kAlgEd25519) {
    return absl::InvalidArgumentError("not a PRIVATE+KEY+<name>+<hash>+<key> Ed25519 signer key");
  }
  absl::StatusOr<std::unique_ptr<NoteSigner>> signer =
      FromSeed(std::string(parts[2]), raw.substr(1));
  if (signer.ok() && absl::StrCat(absl::Hex((*signer)->key_hash_, absl::kZeroPad8)) != parts[3]) {
    return absl::InvalidArgumentError("the signer key's hash does not match its key");
  }
  return signer;
}

std::string NoteSigner::Sign(absl::string_view text) const {
  const std::string signature = Ed25519Sign(seed_, text);
  return absl::StrCat(text, "\n", kDash, name_, " ",
                      absl::Base64Escape(HashBytes(key_hash_) + signature), "\n");
}

namespace {

std::string CosignedMessage(absl::string_view checkpoint_text, int64_t timestamp) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", checkpoint_text);
}

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

}  // namespace

std::string NoteSigner::Cosign(absl::string_view checkpoint_text, int64_t timestamp) const {
  const std::string message = CosignedMessage(checkpoint_text, timestamp);
  const std::string signature = Ed25519Sign(seed_, message);
  return absl::StrCat(kDash, name_, " ",
                      absl::Base64Escape(HashBytes(KeyHash(name_, public_key_, kAlgCosignature)) +
                                         BigEndian64(static_cast<uint64_t>(timestamp)) + signature),
                      "\n");
}

std::string NoteSigner::CosignerKey() const {
  return absl::StrCat(name_, "+",
                      absl::Hex(KeyHash(name_, public_key_, kAlgCosignature), absl::kZeroPad8), "+",
                      absl::Base64Escape(std::string(1, kAlgCosignature) + public_key_));
}

std::string NoteSigner::VerifierKey() const {
  return absl::StrCat(name_, "+", absl::Hex(key_hash_, absl::kZeroPad8), "+",
                      absl::Base64Escape(std::string(1, kAlgEd25519) + public_key_));
}

namespace {

struct VerifierKey {
  absl::string_view name;
  uint32_t hash = 0;
  std::string public_key;
};

absl::StatusOr<VerifierKey> ParseVerifierKey(absl::string_view verifier_key,
                                             char alg = kAlgEd25519) {
  std::vector<absl::string_view> key = absl::StrSplit(verifier_key, absl::MaxSplits('+', 2));
  std::string raw;
  VerifierKey parsed;
  if (key.size() != 3 || !ValidName(key[0]) || key[1].size() != 8 ||
      !absl::SimpleHexAtoi(key[1], &parsed.hash) || !absl::Base64Unescape(key[2], &raw) ||
      raw.size() != 33 || raw[0] != alg || KeyHash(key[0], raw.substr(1), alg) != parsed.hash) {
    return absl::InvalidArgumentError(alg == kAlgEd25519 ? "malformed verifier key"
                                                         : "malformed cosigner key");
  }
  parsed.name = key[0];
  parsed.public_key = raw.substr(1);
  return parsed;
}

}  // namespace

absl::Status CheckVerifierKey(absl::string_view verifier_key) {
  return ParseVerifierKey(verifier_key).status();
}

namespace {

// Calls `check(text, signature)` for each signature line of `note` by `key` (its name and key
// hash), the signature without the key hash; every such line must pass (one bad line by the key
// is a forgery beside a good one), and there must be one. `what` names the kind of signature.
absl::StatusOr<std::string> CheckLinesBy(
    absl::string_view note, const VerifierKey& key, absl::string_view what,
    const std::function<bool(absl::string_view text, absl::string_view signature)>& check) {
  // The text ends at the last blank line; signature lines follow.
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos || note.empty() || note.back() != '\n') {
    return absl::InvalidArgumentError("malformed note: no signature block");
  }
  const absl::string_view text = note.substr(0, split + 1);
  const absl::string_view block = note.substr(split + 2);
  bool verified = false;
  for (absl::string_view line : absl::StrSplit(block, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, kDash)) {
      return absl::InvalidArgumentError("malformed note: a signature line must start with '— '");
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    std::string sig;
    if (f.size() != 2 || !absl::Base64Unescape(f[1], &sig) || sig.size() < 4) {
      return absl::InvalidArgumentError("malformed note: bad signature line");
    }
    if (f[0] != key.name || sig.substr(0, 4) != HashBytes(key.hash)) continue;  // another key's
    if (!check(text, absl::string_view(sig).substr(4))) {
      return absl::DataLossError(absl::StrCat("a ", what, " line by ", key.name,
                                              " does not verify: the note was altered or forged"));
    }
    verified = true;
  }
  if (verified) return std::string(text);
  return absl::DataLossError(absl::StrCat("no valid ", what, " by ", key.name,
                                          ": the note was altered or signed by another key"));
}

}  // namespace

absl::StatusOr<std::string> OpenNote(absl::string_view note, absl::string_view verifier_key) {
  absl::StatusOr<VerifierKey> parsed = ParseVerifierKey(verifier_key);
  if (!parsed.ok()) return parsed.status();
  return CheckLinesBy(note, *parsed, "signature",
                      [&](absl::string_view text, absl::string_view sig) {
                        return sig.size() == 64 && Ed25519Verify(parsed->public_key, text, sig);
                      });
}

absl::StatusOr<std::string> CosignerKeyOf(absl::string_view verifier_key) {
  absl::StatusOr<VerifierKey> parsed = ParseVerifierKey(verifier_key);
  if (!parsed.ok()) return parsed.status();
  return absl::StrCat(
      parsed->name, "+",
      absl::Hex(KeyHash(parsed->name, parsed->public_key, kAlgCosignature), absl::kZeroPad8), "+",
      absl::Base64Escape(std::string(1, kAlgCosignature) + parsed->public_key));
}

absl::StatusOr<int64_t> VerifyCosignature(absl::string_view note, absl::string_view cosigner_key) {
  absl::StatusOr<VerifierKey> parsed = ParseVerifierKey(cosigner_key, kAlgCosignature);
  if (!parsed.ok()) return parsed.status();
  int64_t timestamp = -1;
  absl::StatusOr<std::string> text = CheckLinesBy(
      note, *parsed, "cosignature", [&](absl::string_view body, absl::string_view sig) {
        if (sig.size() != 8 + 64) return false;
        uint64_t t = 0;
        for (int i = 0; i < 8; ++i) t = (t << 8) | static_cast<uint8_t>(sig[i]);
        if (t > static_cast<uint64_t>(INT64_MAX)) return false;
        if (!Ed25519Verify(parsed->public_key, CosignedMessage(body, static_cast<int64_t>(t)),
                           sig.substr(8))) {
          return false;
        }
        timestamp = std::max(timestamp, static_cast<int64_t>(t));
        return true;
      });
  if (!text.ok()) return text.status();
  return timestamp;
}

std::string CheckpointText(const Checkpoint& c) {
  return absl::StrCat(c.origin, "\n", c.size, "\n", absl::Base64Escape(c.root_hash), "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  Checkpoint c;
  if (lines.size() < 4 || !lines.back().empty() || lines[0].empty() ||
      !absl::SimpleAtoi(lines[1], &c.size) || lines[1] != absl::StrCat(c.size) ||
      !absl::Base64Unescape(lines[2], &c.root_hash) || c.root_hash.size() != 32) {
    return absl::InvalidArgumentError("not a checkpoint: origin, size and base64 root hash lines");
  }
  c.origin = std::string(lines[0]);
  return c;
}

}  // namespace comity::audit
