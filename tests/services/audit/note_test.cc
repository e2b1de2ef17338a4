#include "services/audit/note.h"

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace comity::audit {
namespace {

// The published example of golang.org/x/mod/sumdb/note (C2SP signed-note), Ed25519.
constexpr char kGoSignerKey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kGoNote[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

TEST(NoteTest, ReproducesThePublishedNoteByteForByte) {
  auto signer = NoteSigner::FromSignerKey(kGoSignerKey);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->VerifierKey(), kGoVerifierKey);
  EXPECT_EQ((*signer)->Sign(kGoText), kGoNote);
}

TEST(NoteTest, OpensThePublishedNote) {
  auto text = OpenNote(kGoNote, kGoVerifierKey);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kGoText);
}

TEST(NoteTest, RejectsAlteredTextOtherKeysAndMissingSignatures) {
  const std::string altered = absl::StrReplaceAll(kGoNote, {{"cryptography", "cryptographY"}});
  EXPECT_EQ(OpenNote(altered, kGoVerifierKey).status().code(), absl::StatusCode::kDataLoss);
  auto other = NoteSigner::FromSeed("PeterNeumann", std::string(32, '\x07'));
  ASSERT_TRUE(other.ok());
  // Same name, another key: its key hash differs, so nothing verifies.
  EXPECT_EQ(OpenNote(kGoNote, (*other)->VerifierKey()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenNote((*other)->Sign(kGoText), kGoVerifierKey).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenNote(kGoText, kGoVerifierKey).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenNote(kGoNote, "PeterNeumann+c74f20a3+garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Signed by both keys: the note opens with either.
  const std::string both =
      (*other)->Sign(kGoText) + std::string(kGoNote).substr(std::string(kGoText).size() + 1);
  EXPECT_TRUE(OpenNote(both, kGoVerifierKey).ok());
  EXPECT_TRUE(OpenNote(both, (*other)->VerifierKey()).ok());
}

TEST(NoteTest, CheckpointsRoundTrip) {
  Checkpoint c{"comity.example/node-1", 300, std::string(32, '\xab')};
  const std::string text = CheckpointText(c);
  EXPECT_EQ(text, "comity.example/node-1\n300\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n");
  auto signer = NoteSigner::FromSeed("comity.example/node-1", std::string(32, '\x01'));
  ASSERT_TRUE(signer.ok());
  auto opened = OpenNote((*signer)->Sign(text), (*signer)->VerifierKey());
  ASSERT_TRUE(opened.ok());
  auto parsed = ParseCheckpoint(*opened);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->origin, c.origin);
  EXPECT_EQ(parsed->size, 300u);
  EXPECT_EQ(parsed->root_hash, c.root_hash);
  for (const char* bad :
       {"", "origin\n12\n", "origin\n012\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
        "origin\n-1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n", "origin\n1\nshort=\n",
        "\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"}) {
    EXPECT_EQ(ParseCheckpoint(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace comity::audit
