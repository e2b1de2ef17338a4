#include "storage/rocksdb_status.h"

#include "absl/strings/str_cat.h"

namespace comity::storage {

absl::Status FromRocksDb(const rocksdb::Status& s, absl::string_view what) {
  using Code = rocksdb::Status::Code;
  switch (s.code()) {
    case Code::kOk:
      return absl::OkStatus();
    case Code::kNotFound:
      return absl::NotFoundError(absl::StrCat(what, ": not found"));
    case Code::kCorruption:
      return absl::DataLossError(absl::StrCat(what, ": the database is corrupt"));
    case Code::kNotSupported:
      return absl::UnimplementedError(absl::StrCat(what, ": not supported by the database"));
    case Code::kInvalidArgument:
      return absl::InvalidArgumentError(absl::StrCat(what, ": invalid database argument"));
    case Code::kIOError:
      if (s.IsNoSpace()) return absl::UnavailableError(absl::StrCat(what, ": the disk is full"));
      return absl::UnavailableError(absl::StrCat(what, ": I/O error"));
    case Code::kMergeInProgress:
    case Code::kIncomplete:
    case Code::kShutdownInProgress:
    case Code::kTryAgain:
    case Code::kColumnFamilyDropped:
      return absl::UnavailableError(absl::StrCat(what, ": the database is not available"));
    case Code::kTimedOut:
      return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
    case Code::kAborted:
    case Code::kBusy:
      return absl::AbortedError(absl::StrCat(what, ": the database is busy"));
    case Code::kExpired:
      return absl::UnavailableError(absl::StrCat(what, ": expired"));
    case Code::kCompactionTooLarge:
    case Code::kMaxCode:
      break;
  }
  return absl::InternalError(absl::StrCat(what, ": unexpected database error"));
}

}  // namespace comity::storage
