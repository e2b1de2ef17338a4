#ifndef COMITY_SERVICES_WORKFLOW_INDEXES_H_
#define COMITY_SERVICES_WORKFLOW_INDEXES_H_

// What a request record implies beyond itself: its keys in the index (timers, due times, the
// listings by each filter) and the figures it counts for in the statistics. Pure functions of the
// record: a change writes the difference between what the record implied before and after, in
// the same batch as the record, so the index and the counters never disagree with the records.

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "comity/v1/audit.pb.h"
#include "comity/v1/resources.pb.h"
#include "storage/keys.h"

namespace comity::workflow {

// Who sees a record, each with its own listings and counters: the requesting authority (side
// code 'q') from the draft on, and once submitted the requested authority ('r') and the node as
// a whole (storage::kEveryAuthority, no side).
struct Scope {
  std::string name;
  char side;
};
std::vector<Scope> ScopesOf(const v1::Request& record);

// A listing filter's value as the index spells it (decimal enum values; sides as their codes).
std::string EnumValue(int value);

// The index keys (Column::kIndex, empty values) that follow from `record`: its clocks' timers,
// its next due time, and its listing keys in both orders, for every scope.
std::set<std::string> DerivedKeys(const std::string& id, const v1::Request& record);

// The counters (Column::kCounters keys) `record` counts for, with their amounts; none before it
// is submitted.
using Figures = std::map<std::string, int64_t>;
Figures CountedFigures(const v1::Request& record);
// `amount` if `figure` is the evidence bytes a receiving authority holds, else 0.
int64_t EvidenceBytesOf(const std::string& figure, int64_t amount);

// `after` - `before`, without the zeros: what a change adds to the counters.
Figures FigureDelta(const Figures& before, const Figures& after);

// Adds `amount` of the figure named `figure` (a CounterKey's last part) to `stats`; the mean
// delivery time is left as a sum, in microseconds, in `*delivery_micros`.
void AddFigure(const std::string& figure, int64_t amount, v1::Statistics& stats,
               int64_t* delivery_micros);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_INDEXES_H_
