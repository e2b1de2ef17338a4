// Fuzzes the profile and directory loaders with text-format input: parse as either, then every
// consistency check the node runs before it serves. Seeds: the shipped profiles and directory.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "comity/config/v1/config.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace {

// The text parser logs each error to stderr; the fuzzer does not need the noise.
class Quiet : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
  void AddWarning(int, int, const std::string&) override {}
};

template <typename Msg>
bool ParseText(const std::string& text, Msg* out) {
  google::protobuf::TextFormat::Parser parser;
  Quiet quiet;
  parser.RecordErrorsTo(&quiet);
  return parser.ParseFromString(text, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  comity::config::v1::InstrumentProfile profile;
  if (ParseText(text, &profile)) {
    comity::workflow::ProfileSet::FromProfiles({profile}).status().IgnoreError();
  }
  comity::config::v1::DirectoryConfig config;
  if (ParseText(text, &config)) {
    comity::workflow::Directory::FromConfig(config).status().IgnoreError();
  }
  return 0;
}
