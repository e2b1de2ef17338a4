#include "services/audit/note.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
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

// C2SP tlog-cosignature: the line is checked here byte by byte against the spec (key id, big-endian
// timestamp, the cosignature/v1 message verified with OpenSSL directly), not only by
// VerifyCosignature.
TEST(NoteTest, CosignaturesFollowTlogCosignatureV1) {
  auto witness = NoteSigner::FromSeed("comity.example/fr", std::string(32, '\x07'));
  ASSERT_TRUE(witness.ok());
  const std::string body = CheckpointText({"comity.example/de", 7, std::string(32, '\x11')});
  const std::string line = (*witness)->Cosign(body, 1764806400);

  std::vector<std::string> key = absl::StrSplit((*witness)->CosignerKey(), '+');
  ASSERT_EQ(key.size(), 3u);
  std::string raw_key;
  ASSERT_TRUE(absl::Base64Unescape(key[2], &raw_key));
  ASSERT_EQ(raw_key.size(), 33u);
  EXPECT_EQ(raw_key[0], '\x04');
  const std::string public_key = raw_key.substr(1);
  const std::string key_id =
      Sha256(absl::StrCat("comity.example/fr\n", std::string(1, '\x04'), public_key)).substr(0, 4);
  EXPECT_EQ(key[1], absl::BytesToHexString(key_id));

  ASSERT_TRUE(absl::StartsWith(line, "\xe2\x80\x94 comity.example/fr "));
  ASSERT_TRUE(absl::EndsWith(line, "\n"));
  std::string sig;
  ASSERT_TRUE(absl::Base64Unescape(
      absl::StripSuffix(absl::StripPrefix(line, "\xe2\x80\x94 comity.example/fr "), "\n"), &sig));
  ASSERT_EQ(sig.size(), 4u + 8u + 64u);
  EXPECT_EQ(sig.substr(0, 4), key_id);
  EXPECT_EQ(sig.substr(4, 8), std::string("\x00\x00\x00\x00\x69\x30\xcf\x00", 8));
  const std::string message = absl::StrCat("cosignature/v1\ntime 1764806400\n", body);
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()), 32);
  ASSERT_NE(pkey, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data() + 12), 64,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()),
      1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);

  // A checkpoint the log signed, cosigned: the log's signature still opens, the cosignature
  // verifies with its time, and both keys derive from the one seed.
  auto log = NoteSigner::FromSeed("comity.example/de", std::string(32, '\x09'));
  ASSERT_TRUE(log.ok());
  const std::string note = (*log)->Sign(body) + line;
  EXPECT_TRUE(OpenNote(note, (*log)->VerifierKey()).ok());
  auto at = VerifyCosignature(note, (*witness)->CosignerKey());
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(*at, 1764806400);
  EXPECT_EQ(*CosignerKeyOf((*witness)->VerifierKey()), (*witness)->CosignerKey());

  // Refused: another witness, a note without it, an altered body or time, and the log's own key
  // (a cosigner key is type 0x04, a verifier key 0x01).
  auto other = NoteSigner::FromSeed("comity.example/fr", std::string(32, '\x08'));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(VerifyCosignature(note, (*other)->CosignerKey()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyCosignature((*log)->Sign(body), (*witness)->CosignerKey()).status().code(),
            absl::StatusCode::kDataLoss);
  const std::string altered = absl::StrReplaceAll(note, {{"\n7\n", "\n8\n"}});
  EXPECT_EQ(VerifyCosignature(altered, (*witness)->CosignerKey()).status().code(),
            absl::StatusCode::kDataLoss);
  const std::string retimed = (*log)->Sign(body) + (*witness)->Cosign(body, 1764806401);
  EXPECT_TRUE(VerifyCosignature(retimed, (*witness)->CosignerKey()).ok());
  std::string forged_time = retimed;
  const size_t b64 = forged_time.rfind(' ') + 1;
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(
      absl::StripSuffix(absl::string_view(forged_time).substr(b64), "\n"), &raw));
  raw[11] ^= 1;
  forged_time = absl::StrCat(forged_time.substr(0, b64), absl::Base64Escape(raw), "\n");
  EXPECT_EQ(VerifyCosignature(forged_time, (*witness)->CosignerKey()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyCosignature(note, (*witness)->VerifierKey()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comity::audit
