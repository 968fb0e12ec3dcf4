#pragma once
/// A scratch directory for unit tests (databases, key files, configs),
/// removed with everything in it when the test ends. Shared by the module
/// test binaries (tests/CMakeLists.txt puts tests/unit on their include path).

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace pgw::test_support {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgw_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// The absolute path of `rel` inside the directory (not created).
  std::string file(const std::string& rel) const { return path_ + "/" + rel; }
  /// Writes `content` to `rel` (parents created); returns the absolute path.
  std::string write(const std::string& rel, const std::string& content) const {
    const std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace pgw::test_support
