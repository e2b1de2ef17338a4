#ifndef COMITY_COMMON_TSAN_H_
#define COMITY_COMMON_TSAN_H_

// Happens-before edges that ThreadSanitizer cannot see because they pass through a library built
// without it (libgrpc: a reactor's Finish happens before its OnDone, a StartWrite before its
// OnWriteDone, on whatever threads gRPC picks). No-ops outside TSan builds.

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COMITY_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define COMITY_TSAN 1
#endif

#ifdef COMITY_TSAN
#include <sanitizer/tsan_interface.h>
// Before handing `p` to the library: everything written so far is visible to the acquirer.
#define COMITY_TSAN_RELEASE(p) __tsan_release(const_cast<void*>(static_cast<const void*>(p)))
// Where the library hands `p` back.
#define COMITY_TSAN_ACQUIRE(p) __tsan_acquire(const_cast<void*>(static_cast<const void*>(p)))
#else
#define COMITY_TSAN_RELEASE(p) static_cast<void>(p)
#define COMITY_TSAN_ACQUIRE(p) static_cast<void>(p)
#endif

#endif  // COMITY_COMMON_TSAN_H_
