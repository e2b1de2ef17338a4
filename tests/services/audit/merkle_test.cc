#include "services/audit/merkle.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gtest/gtest.h"

namespace comity::audit {
namespace {

std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// The eight leaves of the Certificate Transparency reference tests (RFC 6962 hashing).
std::vector<std::string> CtLeafHashes() {
  std::vector<std::string> out;
  for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"}) {
    out.push_back(LeafHash(Unhex(hex)));
  }
  return out;
}

TEST(MerkleTest, PublishedRootsForEverySizeUpToEight) {
  const char* roots[] = {
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  MerkleTree tree(CtLeafHashes());
  for (uint64_t n = 0; n <= 8; ++n) EXPECT_EQ(ToHex(tree.Root(n)), roots[n]) << n;
}

TEST(MerkleTest, PublishedInclusionAndConsistencyProofs) {
  MerkleTree tree(CtLeafHashes());
  auto hex = [](const std::vector<std::string>& v) {
    std::vector<std::string> out;
    for (const auto& h : v) out.push_back(ToHex(h));
    return out;
  };
  EXPECT_EQ(hex(tree.InclusionProof(0, 7)),
            (std::vector<std::string>{
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}));
  EXPECT_EQ(hex(tree.ConsistencyProof(1, 8)),
            (std::vector<std::string>{
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}));
  EXPECT_EQ(hex(tree.ConsistencyProof(6, 8)),
            (std::vector<std::string>{
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}));
}

// MTH written naively from the RFC's definition, independent of MerkleTree's memoized version.
std::string ReferenceRoot(const std::vector<std::string>& h, size_t b, size_t e) {
  if (e == b) return Sha256("");
  if (e - b == 1) return h[b];
  size_t k = 1;
  while (k * 2 < e - b) k *= 2;
  return NodeHash(ReferenceRoot(h, b, b + k), ReferenceRoot(h, b + k, e));
}

std::vector<std::string> Leaves(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(LeafHash(absl::StrCat("audit entry ", i)));
  return out;
}

constexpr int kMaxSize = 300;

TEST(MerkleTest, EveryInclusionProofUpTo300Verifies) {
  const std::vector<std::string> leaves = Leaves(kMaxSize);
  MerkleTree tree(leaves);
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    const std::string root = tree.Root(n);
    if (n <= 64) {
      ASSERT_EQ(root, ReferenceRoot(leaves, 0, n)) << n;
    }
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<std::string> proof = tree.InclusionProof(i, n);
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], proof, root).ok()) << i << "/" << n;
    }
  }
}

TEST(MerkleTest, EveryConsistencyProofUpTo300Verifies) {
  MerkleTree tree(Leaves(kMaxSize));
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    const std::string new_root = tree.Root(n);
    for (uint64_t m = 1; m <= n; ++m) {
      ASSERT_TRUE(VerifyConsistency(m, n, tree.ConsistencyProof(m, n), tree.Root(m), new_root).ok())
          << m << " -> " << n;
    }
  }
}

// The verifier must reject every forgery: a verifier that accepts a forged proof is the worst bug
// this project can have.
TEST(MerkleTest, ForgedInclusionProofsAreRejected) {
  const std::vector<std::string> leaves = Leaves(64);
  MerkleTree tree(leaves);
  for (uint64_t n : {1, 2, 3, 5, 8, 13, 31, 32, 33, 64}) {
    const std::string root = tree.Root(n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<std::string> proof = tree.InclusionProof(i, n);
      // Every byte of every proof node, flipped.
      for (size_t p = 0; p < proof.size(); ++p) {
        for (size_t b = 0; b < 32; b += 7) {
          std::vector<std::string> bad = proof;
          bad[p][b] ^= 0x01;
          EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], bad, root).ok());
        }
      }
      // Another leaf, another index, a truncated or extended proof, another root.
      EXPECT_FALSE(VerifyInclusion(i, n, LeafHash("forged"), proof, root).ok());
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, leaves[i], proof, root).ok());
      }
      if (!proof.empty()) {
        std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], shorter, root).ok());
      }
      std::vector<std::string> longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], longer, root).ok());
      EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], proof, tree.Root(n - 1)).ok());
      // The raw entry instead of its leaf hash (no domain separation): rejected.
      EXPECT_FALSE(VerifyInclusion(i, n, absl::StrCat("audit entry ", i), proof, root).ok());
    }
  }
  EXPECT_EQ(VerifyInclusion(5, 5, leaves[0], {}, tree.Root(5)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MerkleTest, ForgedConsistencyProofsAreRejected) {
  MerkleTree tree(Leaves(64));
  MerkleTree rewritten([] {
    std::vector<std::string> l = Leaves(64);
    l[3] = LeafHash("a rewritten entry");
    return l;
  }());
  for (uint64_t n : {2, 3, 7, 8, 9, 32, 33, 64}) {
    for (uint64_t m = 1; m < n; ++m) {
      const std::vector<std::string> proof = tree.ConsistencyProof(m, n);
      for (size_t p = 0; p < proof.size(); ++p) {
        std::vector<std::string> bad = proof;
        bad[p][p % 32] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, bad, tree.Root(m), tree.Root(n)).ok());
      }
      // History rewritten below the old size: the old root no longer matches.
      if (m > 3) {
        EXPECT_FALSE(VerifyConsistency(m, n, rewritten.ConsistencyProof(m, n), tree.Root(m),
                                       rewritten.Root(n))
                         .ok())
            << m << " -> " << n;
      }
      // Roots swapped, wrong sizes, truncated proof.
      EXPECT_FALSE(VerifyConsistency(m, n, proof, tree.Root(n), tree.Root(m)).ok());
      if (m + 1 < n) {
        EXPECT_FALSE(VerifyConsistency(m + 1, n, proof, tree.Root(m + 1), tree.Root(n)).ok());
      }
      std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
      EXPECT_FALSE(VerifyConsistency(m, n, shorter, tree.Root(m), tree.Root(n)).ok());
    }
  }
  // A split view: the same size with two roots.
  EXPECT_EQ(VerifyConsistency(8, 8, {}, tree.Root(8), rewritten.Root(8)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(9, 8, {}, tree.Root(8), tree.Root(8)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comity::audit
