#ifndef COMITY_COMMON_STATUS_MACROS_H_
#define COMITY_COMMON_STATUS_MACROS_H_

// Abseil 20220623 has no RETURN_IF_ERROR / ASSIGN_OR_RETURN; these are the project's only pair.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define COMITY_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status comity_status_ = (expr);          \
    if (!comity_status_.ok()) return comity_status_; \
  } while (0)

#define COMITY_CONCAT_INNER_(a, b) a##b
#define COMITY_CONCAT_(a, b) COMITY_CONCAT_INNER_(a, b)

// COMITY_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define COMITY_ASSIGN_OR_RETURN(lhs, expr) \
  COMITY_ASSIGN_OR_RETURN_IMPL_(COMITY_CONCAT_(comity_statusor_, __LINE__), lhs, expr)

#define COMITY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = *std::move(statusor)

#endif  // COMITY_COMMON_STATUS_MACROS_H_
