#ifndef COMITY_COMMON_SHA256_H_
#define COMITY_COMMON_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

struct evp_md_ctx_st;

namespace comity {

inline constexpr size_t kSha256Size = 32;

// Returns the 32-byte SHA-256 digest of `data` (OpenSSL).
std::string Sha256(absl::string_view data);

// SHA-256 over data given in pieces, for what is too large to hold at once (an evidence item).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;

  void Update(absl::string_view data);
  // The 32-byte digest of everything given since construction or the last Finish, which starts
  // the stream again.
  std::string Finish();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

// Lowercase hex of `bytes`.
std::string ToHex(absl::string_view bytes);

// True if `s` is 64 lowercase hex characters.
bool IsSha256Hex(absl::string_view s);

}  // namespace comity

#endif  // COMITY_COMMON_SHA256_H_
