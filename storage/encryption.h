#ifndef COMITY_STORAGE_ENCRYPTION_H_
#define COMITY_STORAGE_ENCRYPTION_H_

// Internal to storage/: encryption at rest for the RocksDB files.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/env.h"

namespace comity::storage {

inline constexpr size_t kEncryptionKeySize = 32;  // AES-256

// An Env that encrypts every file RocksDB writes (WAL, SST, MANIFEST, logs) with AES-256 in CTR
// mode (RocksDB's CTR provider over an OpenSSL AES block cipher). Confidentiality only: integrity
// comes from RocksDB's checksums and the audit chain.
std::unique_ptr<rocksdb::Env> NewAesEncryptedEnv(const std::string& key);

// The key-check file beside the data: proves a key is the one the data were written with,
// without holding the key. OK if `dir` has no data yet (and writes the file), or if the file
// matches `key`; FAILED_PRECONDITION naming the problem otherwise (wrong key, encrypted data but no
// key, plain data but a key). Reads nothing else and changes nothing when it fails.
absl::Status CheckEncryptionKey(const std::string& dir, const std::string& key);

}  // namespace comity::storage

#endif  // COMITY_STORAGE_ENCRYPTION_H_
