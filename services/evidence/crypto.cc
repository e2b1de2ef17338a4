#include "services/evidence/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace comity::evidence {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const kCipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return kCipher;
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::Status CheckKey(absl::string_view key) {
  if (key.size() != kKeySize) {
    return absl::InternalError(
        absl::StrCat("an evidence key is ", kKeySize, " bytes, not ", key.size()));
  }
  if (Aes256Gcm() == nullptr) return absl::InternalError("OpenSSL has no AES-256-GCM");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NewKey() {
  std::string key(kKeySize, '\0');
  if (RAND_bytes(Bytes(key), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("the random number generator failed");
  }
  return key;
}

absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view aad,
                                 absl::string_view plaintext) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  unsigned char* nonce = Bytes(out);
  if (RAND_bytes(nonce, kNonceSize) != 1) {
    return absl::InternalError("the random number generator failed");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(key), nonce, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nonce + kNonceSize, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), nonce + kNonceSize + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          nonce + kNonceSize + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view aad,
                                 absl::string_view sealed) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (sealed.size() < kSealOverhead) {
    return absl::DataLossError(
        absl::StrCat("sealed data of ", sealed.size(), " bytes is shorter than its nonce and tag"));
  }
  const size_t size = sealed.size() - kSealOverhead;
  std::string out(size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  std::string tag(sealed.substr(kNonceSize + size));
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(key), Bytes(sealed), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), Bytes(out), &len, Bytes(sealed) + kNonceSize,
                        static_cast<int>(size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, Bytes(tag)) != 1) {
    return absl::InternalError("AES-256-GCM decryption failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), Bytes(out) + len, &len) != 1) {
    return absl::DataLossError("sealed data failed authentication: changed, or another key's");
  }
  return out;
}

absl::StatusOr<std::string> DeriveKey(absl::string_view secret, absl::string_view info) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr),
                                                        &EVP_KDF_free);
  if (kdf == nullptr) return absl::InternalError("OpenSSL has no HKDF");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                &EVP_KDF_CTX_free);
  std::string digest = "SHA256";
  std::string secret_copy(secret);
  std::string info_copy(info);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret_copy.data(), secret_copy.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info_copy.data(), info_copy.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string key(kKeySize, '\0');
  if (ctx == nullptr || EVP_KDF_derive(ctx.get(), Bytes(key), key.size(), params) != 1) {
    return absl::InternalError("HKDF failed");
  }
  return key;
}

}  // namespace comity::evidence
