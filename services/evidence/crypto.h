#ifndef COMITY_SERVICES_EVIDENCE_CRYPTO_H_
#define COMITY_SERVICES_EVIDENCE_CRYPTO_H_

// The cryptography of evidence at rest (OpenSSL): AES-256-GCM for each chunk under its package's
// data key, the same for the data key under the node's key, and HKDF-SHA256 to derive the node's
// key from the node's secret.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace comity::evidence {

inline constexpr size_t kKeySize = 32;    // AES-256
inline constexpr size_t kNonceSize = 12;  // GCM's 96-bit nonce
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kSealOverhead = kNonceSize + kTagSize;

// kKeySize random bytes from the operating system's CSPRNG.
absl::StatusOr<std::string> NewKey();

// `plaintext` sealed under `key` (kKeySize bytes): nonce || ciphertext || tag, with a fresh random
// nonce each call (so one key may seal up to 2^32 messages, NIST SP 800-38D 8.3). `aad` is
// authenticated, not stored: it binds the sealed bytes to where they belong, so they cannot be
// moved to another package, item or offset.
absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view aad,
                                 absl::string_view plaintext);

// What Seal sealed; DATA_LOSS if `sealed` was not sealed under `key` with `aad`, or was changed.
absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view aad,
                                 absl::string_view sealed);

// A kKeySize key derived from `secret` for the purpose `info` (HKDF-SHA256, RFC 5869, no salt).
absl::StatusOr<std::string> DeriveKey(absl::string_view secret, absl::string_view info);

}  // namespace comity::evidence

#endif  // COMITY_SERVICES_EVIDENCE_CRYPTO_H_
