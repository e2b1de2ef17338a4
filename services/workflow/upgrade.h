#ifndef COMITY_SERVICES_WORKFLOW_UPGRADE_H_
#define COMITY_SERVICES_WORKFLOW_UPGRADE_H_

#include "absl/status/status.h"
#include "storage/store.h"

namespace comity::workflow {

// Brings a store of an earlier schema version to storage::kSchemaVersion; does nothing to a
// current one. Version 1 lacks the listing indexes and the counters, version 2 the fetch index:
// each record's derived keys are written again (as a change writes them), for version 1 its
// counters are counted, and the version is written last, with the counters, in one batch. An
// upgrade cut short starts over at the next start: what it wrote before is written again alike.
// The engine calls it before it starts.
absl::Status UpgradeStore(storage::Store& store);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_UPGRADE_H_
