#ifndef COMITY_COMMON_SHA256_H_
#define COMITY_COMMON_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace comity {

inline constexpr size_t kSha256Size = 32;

// Returns the 32-byte SHA-256 digest of `data` (OpenSSL).
std::string Sha256(absl::string_view data);

// Lowercase hex of `bytes`.
std::string ToHex(absl::string_view bytes);

// True if `s` is 64 lowercase hex characters.
bool IsSha256Hex(absl::string_view s);

}  // namespace comity

#endif  // COMITY_COMMON_SHA256_H_
