#include "services/workflow/profiles.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/testing/fixtures.h"

namespace comity::workflow {
namespace {

using comity::testing::FullRequest;
using comity::testing::ShippedProfiles;

TEST(ProfilesTest, ShipsTheFourInstruments) {
  auto profiles = ShippedProfiles();
  EXPECT_EQ(profiles->Ids(),
            (std::vector<std::string>{"budapest", "eu-eevidence", "eu-eio", "uncc"}));
}

// For every profile and type: a full request lacks nothing, and removing any one required
// field is reported as exactly that field.
TEST(ProfilesTest, EveryRequiredFieldIsDetected) {
  auto profiles = ShippedProfiles();
  for (const std::string& id : profiles->Ids()) {
    const InstrumentProfile& p = *profiles->Find(id);
    for (const TypeRule& rule : p.types()) {
      for (v1::Priority priority : {v1::ROUTINE, v1::EMERGENCY}) {
        const std::vector<std::string> required = RequiredFields(p, rule, priority);
        v1::Request full = FullRequest(id, rule.type(), priority);
        full.set_emergency_facts("Imminent risk to a person's life");
        EXPECT_TRUE(MissingFields(full, required).empty()) << id << " " << rule.type();
        for (const std::string& path : required) {
          v1::Request r = full;
          // Clear the field by its path.
          const google::protobuf::Descriptor* d = v1::Request::descriptor();
          google::protobuf::Message* m = &r;
          std::string rest = path;
          for (size_t dot; (dot = rest.find('.')) != std::string::npos;) {
            const auto* f = d->FindFieldByName(rest.substr(0, dot));
            m = m->GetReflection()->MutableMessage(m, f);
            d = f->message_type();
            rest = rest.substr(dot + 1);
          }
          m->GetReflection()->ClearField(m, d->FindFieldByName(rest));
          EXPECT_EQ(MissingFields(r, required), std::vector<std::string>{path})
              << id << " " << v1::RequestType_Name(rule.type()) << " " << path;
        }
      }
    }
  }
}

TEST(ProfilesTest, EmergencyRequiresTheFactsOfTheEmergency) {
  auto profiles = ShippedProfiles();
  for (const std::string& id : profiles->Ids()) {
    const InstrumentProfile& p = *profiles->Find(id);
    const auto fields = RequiredFields(p, p.types(0), v1::EMERGENCY);
    EXPECT_NE(std::find(fields.begin(), fields.end(), "emergency_facts"), fields.end()) << id;
  }
}

TEST(ProfilesTest, PreservationRefusableOnlyOnTheNarrowGrounds) {
  auto profiles = ShippedProfiles();
  // Budapest 29(5): political offence or essential interests (29(4): dual criminality by
  // reservation). UNCC mirrors the first two.
  const TypeRule* b = FindTypeRule(*profiles->Find("budapest"), v1::PRESERVATION);
  EXPECT_EQ(std::vector<std::string>(b->allowed_grounds().begin(), b->allowed_grounds().end()),
            (std::vector<std::string>{"POLITICAL_OFFENCE", "ESSENTIAL_INTERESTS",
                                      "NO_DUAL_CRIMINALITY"}));
  const TypeRule* u = FindTypeRule(*profiles->Find("uncc"), v1::PRESERVATION);
  EXPECT_EQ(std::vector<std::string>(u->allowed_grounds().begin(), u->allowed_grounds().end()),
            (std::vector<std::string>{"POLITICAL_OFFENCE", "ESSENTIAL_INTERESTS"}));
}

TEST(ProfilesTest, FiscalMattersAndBankSecrecyAreNeverSoleGrounds) {
  auto profiles = ShippedProfiles();
  const auto& uncc = profiles->Find("uncc")->never_sole_grounds();
  EXPECT_EQ(std::vector<std::string>(uncc.begin(), uncc.end()),
            (std::vector<std::string>{"FISCAL_MATTERS", "BANK_SECRECY"}));
  for (const char* id : {"budapest", "eu-eio"}) {
    const auto& g = profiles->Find(id)->never_sole_grounds();
    EXPECT_EQ(std::vector<std::string>(g.begin(), g.end()),
              std::vector<std::string>{"FISCAL_MATTERS"})
        << id;
  }
}

TEST(ProfilesTest, RejectsInconsistentProfiles) {
  InstrumentProfile p;
  p.set_id("x");
  p.add_never_sole_grounds("UNDEFINED");
  EXPECT_EQ(ProfileSet::FromProfiles({p}).status().code(), absl::StatusCode::kInvalidArgument);

  InstrumentProfile q;
  q.set_id("y");
  q.add_required_fields("case_info.no_such_field");
  auto s = ProfileSet::FromProfiles({q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("case_info.no_such_field"), std::string::npos);

  InstrumentProfile r;
  r.set_id("z");
  EXPECT_EQ(ProfileSet::FromProfiles({r, r}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProfilesTest, FieldPaths) {
  EXPECT_TRUE(IsRequestFieldPath("case_info.summary_of_facts"));
  EXPECT_TRUE(IsRequestFieldPath("data_sought.time_range"));
  EXPECT_TRUE(IsRequestFieldPath("case_info"));
  EXPECT_FALSE(IsRequestFieldPath("case_info.nope"));
  EXPECT_FALSE(IsRequestFieldPath("purpose.length"));
}

}  // namespace
}  // namespace comity::workflow
