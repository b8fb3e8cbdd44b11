// docs/DESIGN.md rule 14: what the gateway accepts of a state dir, its files and a token.
#include "core/trust.hpp"

#include <gtest/gtest.h>

namespace lifeline::trust {
namespace {

constexpr std::uint32_t me = 1000;

FileFacts dir(std::uint32_t uid, std::uint32_t mode) {
  return {FileFacts::Kind::directory, uid, mode};
}
FileFacts file(FileFacts::Kind kind, std::uint32_t uid, std::uint32_t mode) {
  return {kind, uid, mode};
}

TEST(Rule14_Trust, AStateDirIsOursAndWritableByNoOneElse) {
  EXPECT_FALSE(state_dir_refusal(dir(me, 0700), me));
  EXPECT_FALSE(state_dir_refusal(dir(me, 0755), me));  // readable is not writable
  auto foreign = state_dir_refusal(dir(65534, 0700), me);
  ASSERT_TRUE(foreign);
  EXPECT_NE(foreign->find("owned by uid 65534"), std::string::npos) << *foreign;
  auto open = state_dir_refusal(dir(me, 0777), me);
  ASSERT_TRUE(open);
  EXPECT_NE(open->find("mode 0777"), std::string::npos) << *open;
  EXPECT_TRUE(state_dir_refusal(dir(me, 0770), me));  // group-writable
  EXPECT_TRUE(state_dir_refusal(dir(0, 01777), me));  // /tmp
  EXPECT_TRUE(state_dir_refusal(file(FileFacts::Kind::regular, me, 0700), me));
}

TEST(Rule14_Trust, AStateFileIsARegularFileOfOursOrMissing) {
  using K = FileFacts::Kind;
  EXPECT_FALSE(state_file_refusal(file(K::missing, 0, 0), me, true));
  EXPECT_FALSE(state_file_refusal(file(K::regular, me, 0600), me, true));
  EXPECT_FALSE(state_file_refusal(file(K::regular, me, 0644), me, false));
  EXPECT_TRUE(state_file_refusal(file(K::regular, me, 0644), me, true));  // a readable secret
  EXPECT_TRUE(state_file_refusal(file(K::regular, me, 0666), me, false));
  EXPECT_TRUE(state_file_refusal(file(K::regular, 65534, 0600), me, true));
  auto link = state_file_refusal(file(K::symlink, me, 0777), me, false);
  ASSERT_TRUE(link);
  EXPECT_NE(link->find("symbolic link"), std::string::npos);
  auto fifo = state_file_refusal(file(K::other, me, 0600), me, true);
  ASSERT_TRUE(fifo);
  EXPECT_NE(fifo->find("FIFO"), std::string::npos);
  EXPECT_TRUE(state_file_refusal(file(K::directory, me, 0700), me, false));
}

TEST(Rule14_Trust, TokensAre16To1024VisibleAsciiBytes) {
  EXPECT_FALSE(token_refusal(std::string(16, 'a')));
  EXPECT_FALSE(token_refusal(std::string(1024, '~')));
  EXPECT_TRUE(token_refusal(std::string(15, 'a')));
  EXPECT_TRUE(token_refusal(""));
  EXPECT_TRUE(token_refusal(std::string(1025, 'a')));
  EXPECT_TRUE(token_refusal("sixteen bytes!!!"));        // a space
  EXPECT_TRUE(token_refusal("sixteen-bytes\n..."));      // a second line
  EXPECT_TRUE(token_refusal("sixteen-bytes-\x7f.."));    // DEL
  EXPECT_TRUE(token_refusal("sixteen-bytes-\xc3\xa9"));  // not ASCII
}

TEST(Rule14_Trust, ATokenFileIsUsedWholeLessOneLineEnding) {
  EXPECT_EQ(token_from_file_text("abc\n"), "abc");
  EXPECT_EQ(token_from_file_text("abc\r\n"), "abc");
  EXPECT_EQ(token_from_file_text("abc"), "abc");
  // Never cut to its first line: the second line stays, and the token is then refused.
  EXPECT_EQ(token_from_file_text("abc\ndef\n"), "abc\ndef");
  EXPECT_TRUE(token_refusal(token_from_file_text(std::string(16, 'a') + "\nmore\n")));
}

}  // namespace
}  // namespace lifeline::trust
