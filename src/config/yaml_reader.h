#pragma once
/// Internal to the config module: typed, path-aware reading of yaml-cpp nodes.
/// Every reader throws `LoadError` naming the key path; `parseConfig` catches
/// it at the edge and turns it into an `Error`. Nothing here may put a
/// secret's value into a `LoadError`.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace pgw::config::detail {

/// A validation failure at `path` (dotted key path, "" = the whole document).
struct LoadError {
  std::string path;
  std::string problem;
};

[[noreturn]] void failAt(const std::string& path, std::string problem);

/// "listen" + "http" -> "listen.http"; "" + "listen" -> "listen".
std::string childPath(const std::string& path, std::string_view key);
/// "identity.users" + 2 -> "identity.users[2]".
std::string indexPath(const std::string& path, size_t index);

/// A scalar as read from the file, after secret references are resolved.
struct Scalar {
  std::string value;
  /// The `${env:NAME}` / `${file:PATH}` text the value came from; empty for
  /// a literal. A value with a reference is never shown in an error.
  std::string reference;

  /// How an error message may refer to this value: `'text'` for a literal,
  /// `the value of ${env:NAME}` for a resolved reference.
  std::string shown() const;
};

/// What the readers need to know about the file being loaded.
class Context {
 public:
  /// `base_dir` resolves relative paths; empty means the working directory.
  explicit Context(const std::string& base_dir);

  /// `path` made absolute against the base directory (and normalized).
  std::string absolutePath(const std::string& path) const;
  /// Resolves `${env:NAME}` / `${file:PATH}` when `raw` is exactly one such
  /// reference; otherwise returns `raw` as a literal.
  Scalar resolve(const std::string& raw, const std::string& path) const;

 private:
  std::string base_dir_;
};

/// A YAML mapping with its key path. Rejects duplicate keys, non-scalar keys
/// and (when `allowed` is given) any key not in `allowed`. A null node (an
/// empty section such as `tls:`) reads as an empty mapping.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path,
            std::initializer_list<std::string_view> allowed);
  /// A mapping whose keys are names chosen by the user (`connections:`).
  MapReader(const YAML::Node& node, std::string path);

  bool has(std::string_view key) const;
  /// The value under `key`; an undefined node when absent.
  YAML::Node get(std::string_view key) const;
  std::string pathOf(std::string_view key) const { return childPath(path_, key); }
  const std::string& path() const { return path_; }
  const std::vector<std::pair<std::string, YAML::Node>>& entries() const { return entries_; }

 private:
  void load(const YAML::Node& node, const std::vector<std::string_view>* allowed);

  std::string path_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

/// The items of a YAML sequence (a null node reads as an empty list).
std::vector<YAML::Node> readList(const YAML::Node& node, const std::string& path);

Scalar readScalar(const Context& ctx, const YAML::Node& node, const std::string& path);
/// A non-empty string.
std::string readString(const Context& ctx, const YAML::Node& node, const std::string& path);
bool readBool(const Context& ctx, const YAML::Node& node, const std::string& path);
int64_t readInt(const Context& ctx, const YAML::Node& node, const std::string& path, int64_t min,
                int64_t max);
std::chrono::milliseconds readDuration(const Context& ctx, const YAML::Node& node,
                                       const std::string& path, bool allow_zero);
size_t readSize(const Context& ctx, const YAML::Node& node, const std::string& path, size_t min,
                size_t max);
HostPort readHostPort(const Context& ctx, const YAML::Node& node, const std::string& path);
/// One of `choices`; returns its index.
size_t readChoice(const Context& ctx, const YAML::Node& node, const std::string& path,
                  std::span<const std::string_view> choices);
/// A non-empty list of non-empty strings, or an empty list.
std::vector<std::string> readStringList(const Context& ctx, const YAML::Node& node,
                                        const std::string& path);
/// A path to an existing, readable regular file; returned absolute.
std::string readFilePath(const Context& ctx, const YAML::Node& node, const std::string& path);
/// A secret: any string, never echoed in an error.
Secret readSecret(const Context& ctx, const YAML::Node& node, const std::string& path);

/// Letters, digits, '_' and '-', 1..63 characters (a PostgreSQL database
/// name a client can type after `dbname=`).
bool isIdentifier(std::string_view name);

}  // namespace pgw::config::detail
