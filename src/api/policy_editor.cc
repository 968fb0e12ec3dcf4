#include "api/policy_editor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "config/config.h"
#include "policy/policy_set.h"

namespace pgw::api {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kKey = "policies";

// ---- YAML -> JSON ------------------------------------------------------------

bool isOneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (std::string_view o : options) {
    if (s == o) return true;
  }
  return false;
}

/// A plain scalar as YAML 1.2's core schema reads it.
json plainScalar(const std::string& s) {
  if (isOneOf(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (isOneOf(s, {"true", "True", "TRUE"})) return true;
  if (isOneOf(s, {"false", "False", "FALSE"})) return false;
  std::string_view digits = s;
  const bool negative = !digits.empty() && digits[0] == '-';
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  int base = 10;
  if (digits.size() > 2 && (digits.substr(0, 2) == "0x" || digits.substr(0, 2) == "0o")) {
    base = digits[1] == 'x' ? 16 : 8;
    digits.remove_prefix(2);
  }
  if (!digits.empty()) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec == std::errc() && end == digits.data() + digits.size()) {
      if (!negative) return v;
      if (v <= static_cast<uint64_t>(INT64_MAX)) return -static_cast<int64_t>(v);
    }
  }
  // A float: digits, at most one '.', an optional exponent — and finite.
  if (s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos) {
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && end == s.data() + s.size()) return d;
  }
  return s;
}

json toJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return plainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const YAML::Node& item : node) out.push_back(toJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        out[kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first)] = toJson(kv.second);
      }
      return out;
    }
    default:
      return nullptr;
  }
}

// ---- the section's lines -------------------------------------------------------

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    eol = eol == std::string_view::npos ? text.size() : eol + 1;
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol;
  }
  return lines;
}

bool blankOrTopComment(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || line[0] == '#';
}

bool documentMarker(std::string_view line) {
  return line.substr(0, 3) == "---" || line.substr(0, 3) == "...";
}

/// Where `policies:` is in the file: lines [begin, end), 0-based; begin ==
/// end == the line count when the key is absent (append). nullopt when the
/// top level is not a block mapping whose keys start their lines.
struct Block {
  size_t begin = 0;
  size_t end = 0;
  bool found = false;
};

std::optional<Block> findBlock(const YAML::Node& root, const std::vector<std::string_view>& lines) {
  if (!root.IsMap() || root.Style() == YAML::EmitterStyle::Flow) return std::nullopt;
  std::vector<size_t> key_lines;
  std::optional<size_t> at;
  for (const auto& kv : root) {
    const YAML::Mark mark = kv.first.Mark();
    if (mark.line < 0 || mark.column != 0 || !kv.first.IsScalar()) return std::nullopt;
    key_lines.push_back(static_cast<size_t>(mark.line));
    if (kv.first.Scalar() == kKey) at = static_cast<size_t>(mark.line);
  }
  Block b;
  if (!at) {
    b.begin = b.end = lines.size();
    // Before a trailing document end marker, if any.
    while (b.begin > 0 && documentMarker(lines[b.begin - 1])) b.begin = b.end = b.begin - 1;
    return b;
  }
  b.found = true;
  b.begin = *at;
  b.end = lines.size();
  for (size_t l : key_lines) {
    if (l > b.begin && l < b.end) b.end = l;
  }
  for (size_t l = b.begin + 1; l < b.end; ++l) {
    if (documentMarker(lines[l])) b.end = l;
  }
  // Comments at the left margin just before the next key belong to it.
  while (b.end > b.begin + 1 && blankOrTopComment(lines[b.end - 1])) --b.end;
  return b;
}

std::string joinLines(const std::vector<std::string_view>& lines, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < lines.size(); ++i) out += lines[i];
  return out;
}

std::string withNewline(std::string text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

/// `lines` with [b.begin, b.end) replaced by `section`.
std::string splice(const std::vector<std::string_view>& lines, const Block& b,
                   const std::string& section) {
  std::string prefix = joinLines(lines, 0, b.begin);
  if (!prefix.empty() && prefix.back() != '\n') prefix += '\n';
  return prefix + withNewline(section) + joinLines(lines, b.end, lines.size());
}

std::string emit(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return withNewline(out.c_str());
}

/// `text` is one YAML mapping holding `root`'s keys with their values,
/// except `policies:`, which holds `policies`.
bool sameExceptPolicies(const std::string& text, const YAML::Node& root,
                        const YAML::Node& policies) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() != 1 || !docs[0].IsMap()) return false;
    const YAML::Node& got = docs[0];
    size_t expected = 1;
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      if (key == kKey) continue;
      ++expected;
      if (!got[key] || YAML::Dump(got[key]) != YAML::Dump(kv.second)) return false;
    }
    return got.size() == expected && got[std::string(kKey)] &&
           YAML::Dump(got[std::string(kKey)]) == YAML::Dump(policies);
  } catch (const YAML::Exception&) {
    return false;
  }
}

/// The new config text: the sent section spliced in verbatim where that
/// reads back the same, else the section emitted by yaml-cpp, else the
/// whole file re-emitted.
std::string rewrite(const std::string& original, const YAML::Node& root,
                    const std::string& section_text, const YAML::Node& policies) {
  const std::vector<std::string_view> lines = splitLines(original);
  if (auto block = findBlock(root, lines)) {
    std::string text = splice(lines, *block, section_text);
    if (sameExceptPolicies(text, root, policies)) return text;
    YAML::Node only;
    only[std::string(kKey)] = policies;
    text = splice(lines, *block, emit(only));
    if (sameExceptPolicies(text, root, policies)) return text;
  }
  YAML::Node copy = YAML::Clone(root);
  copy[std::string(kKey)] = policies;
  return emit(copy);
}

/// The key path of "config: <key path>: <problem>".
std::string keyPathOf(std::string_view message) {
  constexpr std::string_view kPrefix = "config: ";
  if (message.substr(0, kPrefix.size()) == kPrefix) message.remove_prefix(kPrefix.size());
  const size_t colon = message.find(": ");
  return colon == std::string_view::npos ? std::string() : std::string(message.substr(0, colon));
}

/// An issue of the whole file, with its line in the sent YAML when it is
/// about the policies.
PolicyIssue issue(const std::string& message, const std::string& sent) {
  const std::string where = keyPathOf(message);
  if (where.substr(0, kKey.size()) == kKey) return {message, config::errorLine(sent, message)};
  return {message, std::nullopt};
}

Error stateError(std::string message) {
  return fail("409", std::move(message));
}

}  // namespace

Result<json> yamlToJson(const std::string& yaml) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml);
    if (docs.empty()) return json(nullptr);
    if (docs.size() > 1) return fail("400", "more than one YAML document");
    return toJson(docs[0]);
  } catch (const YAML::Exception& e) {
    return fail("400", "invalid YAML: " + e.msg);
  }
}

PolicyEditor::PolicyEditor(std::string config_path) : path_(std::move(config_path)) {}

Result<std::string> PolicyEditor::read() const {
  auto text = config::readConfigText(path_);
  if (!text) return stateError(text.error().message);
  return text;
}

Result<PolicySection> PolicyEditor::current() const {
  auto text = read();
  if (!text) return text.takeError();
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(*text);
    if (docs.size() != 1 || !docs[0].IsMap()) {
      return stateError(path_ + " does not hold one YAML mapping");
    }
    const YAML::Node& root = docs[0];
    PolicySection section;
    const YAML::Node policies = root[std::string(kKey)];
    if (!policies) return section;
    section.json = toJson(policies);
    const std::vector<std::string_view> lines = splitLines(*text);
    auto block = findBlock(root, lines);
    if (block && block->found) {
      section.yaml = withNewline(joinLines(lines, block->begin, block->end));
    } else {
      YAML::Node only;
      only[std::string(kKey)] = policies;
      section.yaml = emit(only);
    }
    return section;
  } catch (const YAML::Exception& e) {
    return stateError(path_ + " is not valid YAML: " + e.msg);
  }
}

Result<PolicyCheck> PolicyEditor::check(const std::string& yaml) const {
  PolicyCheck out;
  auto refuse = [&out](std::string message, std::optional<int> line) {
    out.errors.push_back({std::move(message), line});
    return out;
  };

  // The caller's document: `policies:` and nothing else.
  YAML::Node sent;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml);
    if (docs.size() != 1) {
      return refuse("send one YAML document whose only key is `policies:`", std::nullopt);
    }
    sent = docs[0];
  } catch (const YAML::ParserException& e) {
    return refuse("invalid YAML: " + e.msg,
                  e.mark.line >= 0 ? std::optional<int>(e.mark.line + 1) : std::nullopt);
  } catch (const YAML::Exception& e) {
    return refuse("invalid YAML: " + e.msg, std::nullopt);
  }
  if (!sent.IsMap()) {
    return refuse("the document must be a mapping whose only key is `policies:`", 1);
  }
  for (const auto& kv : sent) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != kKey) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "(complex key)";
      return refuse("only `policies:` can be replaced here; '" + key.substr(0, 64) +
                        "' is another part of the config file",
                    kv.first.Mark().line + 1);
    }
  }
  const YAML::Node policies = static_cast<const YAML::Node&>(sent)[std::string(kKey)];
  if (!policies) return refuse("the document has no `policies:` key", 1);

  // The file with the new section, parsed and compiled as a reload would.
  auto original = read();
  if (!original) return original.takeError();
  YAML::Node root;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(*original);
    if (docs.size() != 1 || !docs[0].IsMap()) {
      return stateError(path_ + " does not hold one YAML mapping; fix the file first");
    }
    root = docs[0];
  } catch (const YAML::Exception& e) {
    return stateError(path_ + " is not valid YAML (" + e.msg + "); fix the file first");
  }
  std::string text = rewrite(*original, root, yaml, policies);
  auto cfg = config::parseConfigFile(text, path_);
  if (!cfg) {
    const PolicyIssue i = issue(cfg.error().message, yaml);
    return refuse(i.message, i.line);
  }
  auto set = policy::PolicySet::compile(**cfg);
  if (!set) {
    const PolicyIssue i = issue(set.error().message, yaml);
    return refuse(i.message, i.line);
  }
  for (const std::string& w : (*set)->warnings()) out.warnings.push_back(issue(w, yaml));
  for (const config::PolicyConfig& p : (*cfg)->policies) out.policy_names.push_back(p.name);
  out.valid = true;
  out.config_text = std::move(text);
  return out;
}

Result<PolicyCheck> PolicyEditor::replace(const std::string& yaml) const {
  auto checked = check(yaml);
  if (!checked || !checked->valid) return checked;
  if (auto st = write(checked->config_text); !st) return st.takeError();
  return checked;
}

Status PolicyEditor::write(const std::string& text) const {
  std::error_code ec;
  const fs::path target = fs::canonical(path_, ec);
  if (ec) return fail("", path_ + ": " + ec.message());
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    return fail("", target.string() + ": " + std::strerror(errno));
  }
  std::string tmp =
      (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    return fail("", "cannot create a temporary file next to " + target.string() + ": " +
                        std::strerror(errno));
  }
  auto abandon = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail("", "cannot write " + target.string() + " (" + what + "): " + std::strerror(err));
  };
  if (::fchmod(fd, st.st_mode & 07777) != 0) return abandon("chmod");
  // Keep the owner when running as root; otherwise the file is ours anyway.
  if (::fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) return abandon("chown");
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return abandon("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail("", "cannot write " + target.string() + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail("", "cannot replace " + target.string() + ": " + std::strerror(err));
  }
  // Make the rename itself durable.
  if (const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace pgw::api
