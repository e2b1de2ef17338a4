#include "common/text.h"

#include <string>

#include "gtest/gtest.h"

namespace comity {
namespace {

TEST(EchoTest, PrintableInputIsKept) { EXPECT_EQ(Echo("authorities/FR-CA"), "authorities/FR-CA"); }

TEST(EchoTest, ControlCharactersQuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(Echo(std::string("a\nb\0c\"d\\e\x7f", 10)), "a\\x0ab\\x00c\\\"d\\\\e\\x7f");
  EXPECT_EQ(Echo("caf\xc3\xa9"), "caf\\xc3\\xa9");
}

TEST(EchoTest, LongInputIsCutWithAnEllipsis) {
  const std::string big(1 << 20, 'x');
  EXPECT_EQ(Echo(big), std::string(kMaxEcho, 'x') + "...");
  EXPECT_EQ(Echo(big, 4), "xxxx...");
  EXPECT_EQ(Echo(std::string(kMaxEcho, 'y')), std::string(kMaxEcho, 'y'));
}

TEST(LogFieldTest, ALineCannotBeForged) {
  const std::string forged =
      LogField("x\n2026-01-01T00:00:00.000Z comityd level=warn event=denied code=OK");
  EXPECT_EQ(forged.find('\n'), std::string::npos);
  EXPECT_EQ(forged.front(), '"');
  EXPECT_EQ(forged.back(), '"');
  EXPECT_EQ(LogField("say \"hi\""), "\"say \\\"hi\\\"\"");
}

}  // namespace
}  // namespace comity
