#include "services/audit/bundle_json.h"

#include "gtest/gtest.h"

namespace comity::audit {
namespace {

TEST(BundleJsonTest, ARepeatedKeyIsRefusedAtAnyDepth) {
  EXPECT_TRUE(
      CheckUniqueKeys(R"({"trail": {"size": "1", "head": "AA=="}, "trailNote": "x"})").ok());
  EXPECT_TRUE(CheckUniqueKeys(R"([{"a": 1}, {"a": 2}])").ok());  // two objects, one key each
  const absl::Status top = CheckUniqueKeys(R"({"trailNote": "a", "trailNote": "b"})");
  EXPECT_EQ(top.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(top.message().find("\"trailNote\" twice"), absl::string_view::npos) << top;
  EXPECT_FALSE(CheckUniqueKeys(R"({"trail": {"size": "1", "size": "2"}})").ok());
  // The same key spelled with an escape is the same key.
  EXPECT_FALSE(CheckUniqueKeys(R"({"size": "1", "s\u0069ze": "2"})").ok());
  EXPECT_FALSE(CheckUniqueKeys(R"({"a": "unterminated)").ok());
  EXPECT_FALSE(CheckUniqueKeys(R"({"a": [1, 2})").ok());
}

TEST(BundleJsonTest, ParseRefusesRepeatedKeysAsTampering) {
  auto ok = ParseBundleJson(R"({"trail": {"request": "requests/x", "size": "3"}})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->trail().size(), 3u);
  auto twice = ParseBundleJson(R"({"trail": {"request": "requests/x", "size": "3", "size": "2"}})");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseBundleJson("not json").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comity::audit
