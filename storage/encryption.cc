#include "storage/encryption.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "rocksdb/env_encryption.h"

namespace comity::storage {
namespace {

constexpr char kKeyCheckFile[] = "COMITY-KEYCHECK";
constexpr char kKeyCheckLabel[] = "comity encryption key check v1";

// AES-256 on single 16-byte blocks, for RocksDB's CTR stream. Each thread keeps its own OpenSSL
// contexts (RocksDB calls in from several threads).
class Aes256BlockCipher : public rocksdb::BlockCipher {
 public:
  explicit Aes256BlockCipher(std::string key) : key_(std::move(key)) {}

  const char* Name() const override { return "Comity-AES256"; }
  size_t BlockSize() override { return 16; }
  rocksdb::Status Encrypt(char* data) override { return Apply(data, true); }
  rocksdb::Status Decrypt(char* data) override { return Apply(data, false); }

 private:
  struct ThreadContexts {
    const Aes256BlockCipher* owner = nullptr;
    EVP_CIPHER_CTX* encrypt = nullptr;
    EVP_CIPHER_CTX* decrypt = nullptr;
    ~ThreadContexts() {
      EVP_CIPHER_CTX_free(encrypt);
      EVP_CIPHER_CTX_free(decrypt);
    }
  };

  rocksdb::Status Apply(char* data, bool encrypt) {
    thread_local ThreadContexts t;
    if (t.owner != this) {
      EVP_CIPHER_CTX_free(t.encrypt);
      EVP_CIPHER_CTX_free(t.decrypt);
      t.encrypt = EVP_CIPHER_CTX_new();
      t.decrypt = EVP_CIPHER_CTX_new();
      const auto* k = reinterpret_cast<const unsigned char*>(key_.data());
      if (EVP_EncryptInit_ex(t.encrypt, EVP_aes_256_ecb(), nullptr, k, nullptr) != 1 ||
          EVP_DecryptInit_ex(t.decrypt, EVP_aes_256_ecb(), nullptr, k, nullptr) != 1) {
        t.owner = nullptr;
        return rocksdb::Status::IOError("AES initialisation failed");
      }
      EVP_CIPHER_CTX_set_padding(t.encrypt, 0);
      EVP_CIPHER_CTX_set_padding(t.decrypt, 0);
      t.owner = this;
    }
    unsigned char out[32];
    int len = 0;
    auto* in = reinterpret_cast<unsigned char*>(data);
    if (EVP_CipherUpdate(encrypt ? t.encrypt : t.decrypt, out, &len, in, 16) != 1 || len != 16) {
      return rocksdb::Status::IOError("AES block operation failed");
    }
    std::memcpy(data, out, 16);
    return rocksdb::Status::OK();
  }

  const std::string key_;
};

std::string KeyCheck(const std::string& key, const std::string& salt) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string message = absl::StrCat(kKeyCheckLabel, salt);
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

bool HasData(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec);
}

}  // namespace

std::unique_ptr<rocksdb::Env> NewAesEncryptedEnv(const std::string& key) {
  auto provider = rocksdb::EncryptionProvider::NewCTRProvider(
      std::make_shared<Aes256BlockCipher>(key));
  return std::unique_ptr<rocksdb::Env>(rocksdb::NewEncryptedEnv(rocksdb::Env::Default(), provider));
}

absl::Status CheckEncryptionKey(const std::string& dir, const std::string& key) {
  const std::filesystem::path path = std::filesystem::path(dir) / kKeyCheckFile;
  std::error_code ec;
  const bool has_check = std::filesystem::exists(path, ec);
  if (key.empty()) {
    if (has_check) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data in ", dir, " are encrypted: configure the encryption key to open them"));
    }
    return absl::OkStatus();
  }
  if (key.size() != kEncryptionKeySize) {
    return absl::InvalidArgumentError("the encryption key must be 32 bytes (AES-256)");
  }
  if (!has_check) {
    if (HasData(dir)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data in ", dir, " are not encrypted; an encryption key cannot be added to them"));
    }
    std::filesystem::create_directories(dir, ec);
    std::string salt(16, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
        1) {
      return absl::UnavailableError("the system's random generator failed; no key check written");
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << salt << KeyCheck(key, salt);
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
    chmod(path.c_str(), 0600);
    return absl::OkStatus();
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  const std::string s = content.str();
  if (s.size() < 16 || s.substr(16) != KeyCheck(key, s.substr(0, 16))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "wrong encryption key for the data in ", dir, ": nothing was opened or changed"));
  }
  return absl::OkStatus();
}

}  // namespace comity::storage
