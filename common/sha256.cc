#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/escaping.h"

namespace comity {

namespace {

// Fetched once: OpenSSL 3 looks the algorithm up on every implicit fetch (EVP_sha256() in
// EVP_Digest), which costs about a third of hashing a kilobyte.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return kSha256;
}

}  // namespace

std::string Sha256(absl::string_view data) {
  const EVP_MD* const kSha256 = Sha256Algorithm();
  // A context per thread, made once.
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (kSha256 == nullptr || ctx == nullptr || !EVP_DigestInit_ex2(ctx.get(), kSha256, nullptr) ||
      !EVP_DigestUpdate(ctx.get(), data.data(), data.size()) ||
      !EVP_DigestFinal_ex(ctx.get(), md, &len)) {
    std::abort();  // only if OpenSSL is broken: no digest is better than a wrong one
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

void Sha256Stream::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || Sha256Algorithm() == nullptr ||
      !EVP_DigestInit_ex2(ctx_.get(), Sha256Algorithm(), nullptr)) {
    std::abort();
  }
}
Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::Update(absl::string_view data) {
  if (!EVP_DigestUpdate(ctx_.get(), data.data(), data.size())) std::abort();
}

std::string Sha256Stream::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_DigestFinal_ex(ctx_.get(), md, &len) ||
      !EVP_DigestInit_ex2(ctx_.get(), Sha256Algorithm(), nullptr)) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string ToHex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 2 * kSha256Size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace comity
