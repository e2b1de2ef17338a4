// ThreadSanitizer cannot see Debian's Abseil synchronize: libabsl_synchronization is not built
// with -fsanitize=thread, so a lock or unlock of an absl::Mutex (a compare-and-swap inside the
// library) makes no happens-before edge, and every access guarded by one is reported as a race.
// Linked into the TSan build's binaries, this file interposes the library's entry points: each
// forwards to the library's own definition (found with dlsym(RTLD_NEXT)) and tells TSan that the
// mutex (or notification, or condition variable's mutex) was acquired or released. gRPC's
// internal locks are absl::Mutex too, so its hand-offs between threads become visible as well.
//
// Notification::HasBeenNotified is inline in the header and cannot be interposed: a thread that
// learns of a notification only from it has no edge (our code waits instead).
//
// The symbol names are those of Debian 12's Abseil (inline namespace debian3, LTS 20220623);
// another Abseil needs them changed.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

template <typename Fn>
Fn Real(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

#define COMITY_REAL(type, symbol) static const auto real = Real<type>(symbol);

// The notification's flag, the one place Notification's fast paths read.
const void* Flag(const absl::Notification* n) {
  struct Layout {
    absl::Mutex mutex;
    std::atomic<bool> notified;
  };
  static_assert(sizeof(Layout) == sizeof(absl::Notification), "Notification's layout changed");
  return &reinterpret_cast<const Layout*>(n)->notified;
}

// Abseil's deadlock detector keeps its graph under a spin lock TSan cannot see either; the
// TSan run checks races, not lock order.
const bool kNoDeadlockGraph = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

// A condition is evaluated inside the library while the mutex is held, by the waiting thread or
// by the one unlocking: each evaluation acquires the mutex for TSan first.
struct Annotated {
  const absl::Condition* condition;
  absl::Mutex* mu;
};

bool EvalAnnotated(Annotated* a) {
  __tsan_acquire(a->mu);
  const bool met = a->condition->Eval();
  __tsan_release(a->mu);
  return met;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  COMITY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  COMITY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  COMITY_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  COMITY_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  COMITY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  COMITY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  COMITY_REAL(void (*)(Mutex*, const Condition&),
              "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Annotated a{&cond, this};
  real(this, Condition(&EvalAnnotated, &a));
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  COMITY_REAL(void (*)(Mutex*, const Condition&),
              "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Annotated a{&cond, this};
  real(this, Condition(&EvalAnnotated, &a));
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  COMITY_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
              "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Annotated a{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &a), timeout);
  __tsan_acquire(this);  // held either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  COMITY_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
              "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Annotated a{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &a), deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  COMITY_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  Annotated a{&cond, this};
  real(this, Condition(&EvalAnnotated, &a));
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  COMITY_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
              "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  Annotated a{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &a), timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  COMITY_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
              "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  Annotated a{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &a), deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  COMITY_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  COMITY_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
              "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  COMITY_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
              "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  COMITY_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(const_cast<void*>(Flag(this)));
  real(this);
}

void Notification::WaitForNotification() const {
  COMITY_REAL(void (*)(const Notification*),
              "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<void*>(Flag(this)));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  COMITY_REAL(bool (*)(const Notification*, absl::Duration),
              "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<void*>(Flag(this)));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  COMITY_REAL(bool (*)(const Notification*, absl::Time),
              "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<void*>(Flag(this)));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
