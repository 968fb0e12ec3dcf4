// PolicyEditor on real files: the section read as written, a replacement
// spliced in with the rest of the file (comments too) unchanged, invalid
// replacements refused with a line number and the file left as it was,
// atomic writes keeping the file's mode, and YAML -> JSON typing.

#include "api/policy_editor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "support/temp_dir.h"

namespace pgw::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kConfig = R"(# top comment
listen: { http: "127.0.0.1:18080" }
connections:
  prod:
    host: 127.0.0.1
    credentials: { ro: { user: ro } }

policies:
  # the first policy
  - name: readers
    subjects: { groups: [analysts] }
    connections: [prod]
    limits: { max_rows: 100 }

# comment about api
api:
  roles: { admin: [platform] }
)";

constexpr const char* kReplacement = R"(policies:
  # replaced
  - name: writers
    subjects: { ids: ["bob"] }
    connections: ["*"]
    access: write
  - name: readers
    subjects: { groups: ["*"] }
    connections: [prod]
)";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class PolicyEditorTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.write("pgwarden.yaml", kConfig); }
  test_support::TempDir dir_;
  std::string path_;
};

TEST_F(PolicyEditorTest, CurrentIsTheSectionAsWritten) {
  PolicyEditor editor(path_);
  auto section = editor.current();
  ASSERT_TRUE(section.ok()) << section.error().message;
  EXPECT_EQ(section->yaml,
            "policies:\n  # the first policy\n  - name: readers\n    subjects: { groups: "
            "[analysts] }\n    connections: [prod]\n    limits: { max_rows: 100 }\n");
  EXPECT_EQ(section->json, json::parse(R"([{"name": "readers",
      "subjects": {"groups": ["analysts"]}, "connections": ["prod"],
      "limits": {"max_rows": 100}}])"));
}

TEST_F(PolicyEditorTest, ReplaceKeepsTheRestOfTheFile) {
  ::chmod(path_.c_str(), 0600);
  PolicyEditor editor(path_);
  auto result = editor.replace(kReplacement);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_TRUE(result->valid) << result->errors.front().message;
  EXPECT_EQ(result->policy_names, (std::vector<std::string>{"writers", "readers"}));

  const std::string text = readFile(path_);
  const std::string expected =
      std::string(kConfig).replace(std::string(kConfig).find("policies:"),
                                   std::string(kConfig).find("\n# comment about api") -
                                       std::string(kConfig).find("policies:") + 1,
                                   std::string(kReplacement) + "\n");
  EXPECT_EQ(text, expected);
  auto loaded = config::loadConfig(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ((*loaded)->policies.size(), 2u);
  EXPECT_EQ((*loaded)->policies[0].name, "writers");
  EXPECT_EQ((*loaded)->api.admins, std::vector<std::string>{"platform"});

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary file left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);

  // Reading it back gives what was sent.
  auto section = editor.current();
  ASSERT_TRUE(section.ok());
  EXPECT_EQ(section->yaml, kReplacement);
}

TEST_F(PolicyEditorTest, InvalidReplacementsLeaveTheFileAlone) {
  PolicyEditor editor(path_);
  const std::string before = readFile(path_);
  struct Case {
    std::string yaml;
    std::string message;
    std::optional<int> line;
  };
  const std::vector<Case> cases = {
      {"policies:\n  - name: a\n    subjects: { groups: [x] }\n    connections: [nope]\n",
       "'nope' is not a connection", 4},
      {"policies:\n  - name: a\n    subjects: { groups: [x] }\n    connections: [prod]\n"
       "    deny: [{ kind: frobnicate }]\n",
       "policies[0].deny[0].kind", 5},
      {"policies:\n  - name: a\n    bogus: 1\n", "bogus", 3},
      {"policies: [\n", "invalid YAML", std::nullopt},
      {"connections: {}\n", "'connections' is another part", 1},
      {"- name: a\n", "mapping whose only key is `policies:`", 1},
      {"policies: []\n---\npolicies: []\n", "one YAML document", std::nullopt},
      {"", "one YAML document", std::nullopt},
  };
  for (const Case& c : cases) {
    auto result = editor.replace(c.yaml);
    ASSERT_TRUE(result.ok()) << c.yaml;
    EXPECT_FALSE(result->valid) << c.yaml;
    ASSERT_EQ(result->errors.size(), 1u) << c.yaml;
    EXPECT_THAT(result->errors[0].message, HasSubstr(c.message)) << c.yaml;
    if (c.line) {
      EXPECT_EQ(result->errors[0].line, c.line) << c.yaml;
    }
    EXPECT_EQ(readFile(path_), before) << c.yaml;
  }
}

TEST_F(PolicyEditorTest, WarningsComeBackWithValidResults) {
  PolicyEditor editor(path_);
  auto result = editor.check("policies: []\n");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->valid);
  EXPECT_FALSE(result->warnings.empty());
}

TEST_F(PolicyEditorTest, AFileWithoutPoliciesGetsTheSectionAppended) {
  path_ =
      dir_.write("nopol.yaml",
                 "connections:\n  prod:\n    host: 127.0.0.1\n    credentials: { ro: { user: ro "
                 "} }\n# trailing comment\n");
  PolicyEditor editor(path_);
  auto result = editor.replace(kReplacement);
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->valid) << result->errors.front().message;
  const std::string text = readFile(path_);
  EXPECT_THAT(text, HasSubstr("# trailing comment\npolicies:\n  # replaced"));
  ASSERT_TRUE(config::loadConfig(path_).ok());
}

TEST_F(PolicyEditorTest, AFlowStyleFileIsReEmitted) {
  path_ = dir_.write("flow.yaml",
                     "{connections: {prod: {host: 127.0.0.1, credentials: {ro: {user: ro}}}}, "
                     "policies: []}\n");
  PolicyEditor editor(path_);
  auto result = editor.replace(kReplacement);
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->valid) << result->errors.front().message;
  auto loaded = config::loadConfig(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)->policies.size(), 2u);
  EXPECT_EQ((*loaded)->connections.count("prod"), 1u);
}

TEST_F(PolicyEditorTest, WritesThroughASymlink) {
  const std::string link = dir_.file("link.yaml");
  std::filesystem::create_symlink(path_, link);
  PolicyEditor editor(link);
  auto result = editor.replace(kReplacement);
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->valid);
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_THAT(readFile(path_), HasSubstr("# replaced"));
}

TEST_F(PolicyEditorTest, MissingFilesAndBrokenFilesAreStateErrors) {
  PolicyEditor missing(dir_.file("missing.yaml"));
  auto r = missing.check(kReplacement);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "409");
  EXPECT_FALSE(missing.current().ok());

  PolicyEditor broken(dir_.write("broken.yaml", "connections: [\n"));
  r = broken.check(kReplacement);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "409");
}

TEST(YamlToJson, CoreSchemaTyping) {
  auto j = yamlToJson(
      "a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: hello\ng: [x, \"true\"]\nh: 0x10\ni: -7\n"
      "j: yes\nk: 1e3\nl: .inf\nm: \"\"\nn:\n");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(*j, json::parse(R"({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5,
      "f": "hello", "g": ["x", "true"], "h": 16, "i": -7, "j": "yes", "k": 1000.0,
      "l": ".inf", "m": "", "n": null})"));
  EXPECT_FALSE(yamlToJson("a: [").ok());
}

}  // namespace
}  // namespace pgw::api
