#include "common/ids.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace comity {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct Last {
  absl::Mutex mu;
  uint64_t millis = 0;
  std::array<uint8_t, 10> random{};
};

Last& LastId() {
  static Last* const last = new Last;
  return *last;
}

}  // namespace

std::string NewId(absl::Time now) {
  uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(now));
  std::array<uint8_t, 16> bytes{};
  Last& last = LastId();
  {
    absl::MutexLock lock(&last.mu);
    if (millis <= last.millis) {
      // Same (or earlier) millisecond: keep the order by incrementing the random part.
      millis = last.millis;
      for (int i = 9; i >= 0; --i) {
        if (++last.random[i] != 0) break;
      }
    } else {
      if (RAND_bytes(last.random.data(), static_cast<int>(last.random.size())) != 1) std::abort();
      last.millis = millis;
    }
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(millis >> (8 * (5 - i)));
    for (int i = 0; i < 10; ++i) bytes[6 + i] = last.random[i];
  }
  // 128 bits -> 26 base32 characters (the first carries 3 bits).
  std::string out(26, '0');
  unsigned __int128 v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

bool IsValidId(const std::string& id) {
  if (id.size() != 26 || id[0] > '7') return false;
  for (char c : id) {
    const bool digit = c >= '0' && c <= '9';
    const bool letter = c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U';
    if (!digit && !letter) return false;
  }
  return true;
}

}  // namespace comity
