#include "sql/copy_options.h"

#include <gtest/gtest.h>

namespace pgw::sql {
namespace {

using Format = CopyOutOptions::Format;

TEST(CopyOutOptions, DefaultsAreTextWithNoHeader) {
  auto o = copyOutOptions("COPY users TO STDOUT");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->format, Format::Text);
  EXPECT_FALSE(o->header);
  EXPECT_FALSE(o->delimiter);
  EXPECT_FALSE(o->null_string);
}

TEST(CopyOutOptions, ParenthesizedOptionsAreRead) {
  auto o = copyOutOptions(
      "COPY (SELECT 1) TO STDOUT (FORMAT csv, HEADER, DELIMITER ';', QUOTE '''', ESCAPE '\\', "
      "NULL 'nil')");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->format, Format::Csv);
  EXPECT_TRUE(o->header);
  EXPECT_EQ(o->delimiter, ';');
  EXPECT_EQ(o->quote, '\'');
  EXPECT_EQ(o->escape, '\\');
  EXPECT_EQ(o->null_string, "nil");
}

TEST(CopyOutOptions, LegacySyntaxAndHeaderValues) {
  auto o = copyOutOptions("COPY users TO STDOUT WITH CSV HEADER");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->format, Format::Csv);
  EXPECT_TRUE(o->header);
  o = copyOutOptions("COPY users TO STDOUT (FORMAT binary)");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->format, Format::Binary);
  o = copyOutOptions("COPY users TO STDOUT (FORMAT csv, HEADER off)");
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->header);
  o = copyOutOptions("COPY users TO STDOUT (FORMAT csv, HEADER 0)");
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->header);
}

TEST(CopyOutOptions, AnythingButASingleCopyToStdoutIsNotRead) {
  EXPECT_FALSE(copyOutOptions("COPY users FROM STDIN"));
  EXPECT_FALSE(copyOutOptions("COPY users TO '/tmp/x'"));
  EXPECT_FALSE(copyOutOptions("COPY users TO PROGRAM 'cat'"));
  EXPECT_FALSE(copyOutOptions("SELECT 1"));
  EXPECT_FALSE(copyOutOptions("COPY a TO STDOUT; COPY b TO STDOUT"));
  EXPECT_FALSE(copyOutOptions("COPY users TO STDOUT (DELIMITER ';;')"));
  EXPECT_FALSE(copyOutOptions("COPY users TO STDOUT (FORMAT xml)"));
  EXPECT_FALSE(copyOutOptions("COPY users TO"));
}

}  // namespace
}  // namespace pgw::sql
