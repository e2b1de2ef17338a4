#include "services/workflow/upgrade.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "comity/v1/resources.pb.h"
#include "services/workflow/indexes.h"
#include "storage/keys.h"

namespace comity::workflow {

using storage::Column;

absl::Status UpgradeStore(storage::Store& store) {
  absl::StatusOr<std::string> version = store.Get(Column::kMeta, storage::kSchemaVersionKey);
  if (!version.ok()) return version.status();
  if (*version == storage::kSchemaVersion) return absl::OkStatus();
  if (*version != storage::kSchemaVersion1 && *version != storage::kSchemaVersion2) {
    return absl::FailedPreconditionError(
        absl::StrCat("the data directory holds schema version ", *version, "; this build reads ",
                     storage::kSchemaVersion1, " to ", storage::kSchemaVersion));
  }
  // A version 2 store has its counters, kept by every change since; version 1 has none.
  const bool count = *version == storage::kSchemaVersion1;
  constexpr int kRecordsPerBatch = 1000;
  Figures figures;
  storage::WriteSet batch;
  int in_batch = 0;
  absl::Status failed;
  absl::Status scan =
      store.Scan(Column::kRequests, "", "", [&](absl::string_view key, absl::string_view value) {
        v1::Request record;
        if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          failed = absl::DataLossError(absl::StrCat("requests/", key, " is corrupt"));
          return false;
        }
        const std::string id(key);
        for (const std::string& k : DerivedKeys(id, record)) batch.Put(Column::kIndex, k, "");
        if (count) {
          for (const auto& [k, amount] : CountedFigures(record)) figures[k] += amount;
        }
        if (++in_batch == kRecordsPerBatch) {
          failed = store.Commit(batch);
          batch.Clear();
          in_batch = 0;
        }
        return failed.ok();
      });
  if (!scan.ok()) return scan;
  if (!failed.ok()) return failed;
  for (const auto& [k, amount] : figures) {
    batch.Put(Column::kCounters, k, storage::EncodeCounter(amount));
  }
  batch.Put(Column::kMeta, storage::kSchemaVersionKey, storage::kSchemaVersion);
  return store.Commit(batch);
}

}  // namespace comity::workflow
