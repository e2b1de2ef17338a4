#ifndef COMITY_STORAGE_ROCKSDB_STATUS_H_
#define COMITY_STORAGE_ROCKSDB_STATUS_H_

// Internal to storage/ (and its tests): the one place RocksDB statuses become absl::Status.

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace comity::storage {

// Maps a RocksDB status to an absl::Status. `what` names the operation for the message; RocksDB's
// own text is kept out of the message (it may hold paths or keys) except for I/O and corruption
// errors, whose kind it names.
absl::Status FromRocksDb(const rocksdb::Status& s, absl::string_view what);

}  // namespace comity::storage

#endif  // COMITY_STORAGE_ROCKSDB_STATUS_H_
