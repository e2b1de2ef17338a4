#include "storage/faulty_file_system.h"

#include <string>
#include <utility>

namespace comity::storage {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;
using Op = FaultInjector::Op;

IOStatus Injected() { return IOStatus::IOError("injected I/O fault"); }

class FaultyWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultInjector* faults)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(faults) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    if (faults_->ShouldFail(Op::kWrite)) return Injected();
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    if (faults_->ShouldFail(Op::kWrite)) return Injected();
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    if (faults_->ShouldFail(Op::kSync)) return Injected();
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (faults_->ShouldFail(Op::kSync)) return Injected();
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  FaultInjector* faults_;
};

class FaultyRandomAccessFile : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultyRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> file, FaultInjector* faults)
      : FSRandomAccessFileOwnerWrapper(std::move(file)), faults_(faults) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions& options, Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    if (faults_->ShouldFail(Op::kRead)) return Injected();
    return FSRandomAccessFileOwnerWrapper::Read(offset, n, options, result, scratch, dbg);
  }

 private:
  FaultInjector* faults_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::shared_ptr<FaultInjector> faults)
      : FileSystemWrapper(std::move(base)), faults_(std::move(faults)) {}

  const char* Name() const override { return "ComityFaultyFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                           std::unique_ptr<rocksdb::FSWritableFile>* r,
                           IODebugContext* dbg) override {
    IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) r->reset(new FaultyWritableFile(std::move(*r), faults_.get()));
    return s;
  }
  IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                              std::unique_ptr<rocksdb::FSWritableFile>* r,
                              IODebugContext* dbg) override {
    IOStatus s = target()->ReopenWritableFile(f, o, r, dbg);
    if (s.ok()) r->reset(new FaultyWritableFile(std::move(*r), faults_.get()));
    return s;
  }
  IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                               std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                               IODebugContext* dbg) override {
    IOStatus s = target()->NewRandomAccessFile(f, o, r, dbg);
    if (s.ok()) r->reset(new FaultyRandomAccessFile(std::move(*r), faults_.get()));
    return s;
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewFaultyFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                         std::shared_ptr<FaultInjector> faults) {
  return std::make_shared<FaultyFileSystem>(std::move(base), std::move(faults));
}

}  // namespace comity::storage
