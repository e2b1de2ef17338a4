#ifndef COMITY_STORAGE_FAULTY_FILE_SYSTEM_H_
#define COMITY_STORAGE_FAULTY_FILE_SYSTEM_H_

// Internal to comity_storage: the RocksDB FileSystem that injects FaultInjector's faults.

#include <memory>

#include "rocksdb/file_system.h"
#include "storage/faults.h"

namespace comity::storage {

// `base` with every writable file's appends (kWrite), syncs (kSync) and every random-access or
// sequential read (kRead) failing as `faults` says.
std::shared_ptr<rocksdb::FileSystem> NewFaultyFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                         std::shared_ptr<FaultInjector> faults);

}  // namespace comity::storage

#endif  // COMITY_STORAGE_FAULTY_FILE_SYSTEM_H_
