#ifndef COMITY_STORAGE_FAULTS_H_
#define COMITY_STORAGE_FAULTS_H_

// Injected I/O faults, for tests of the node's fail-stop behaviour against real RocksDB files:
// with RocksDbOptions::faults set, the store's files go through a RocksDB FileSystem wrapper that
// asks this injector before every write, sync and read of a file.

#include <atomic>
#include <cstdint>

namespace comity::storage {

// Thread-safe.
class FaultInjector {
 public:
  enum class Op { kWrite = 0, kSync = 1, kRead = 2 };

  // After `after` more operations of kind `op` succeed, every later one fails with an I/O error
  // until Disarm(). after = 0: the next one fails.
  void FailAfter(Op op, int64_t after) { left_[Index(op)].store(after + 1); }
  void Disarm() {
    for (auto& l : left_) l.store(0);
  }
  // Called by the file system wrapper: true if this operation must fail.
  bool ShouldFail(Op op) {
    std::atomic<int64_t>& left = left_[Index(op)];
    int64_t n = left.load();
    while (n > 0) {
      if (n == 1) {
        ++failures_;
        return true;  // stays at 1: every later one fails too
      }
      if (left.compare_exchange_weak(n, n - 1)) return false;
    }
    return false;
  }
  // How many operations were failed.
  int64_t failures() const { return failures_.load(); }

 private:
  static int Index(Op op) { return static_cast<int>(op); }
  std::atomic<int64_t> left_[3] = {{0}, {0}, {0}};  // 0: disarmed
  std::atomic<int64_t> failures_{0};
};

}  // namespace comity::storage

#endif  // COMITY_STORAGE_FAULTS_H_
