#pragma once
/// What the SQLite sink's two files share: sqlite_sink.cc reads and writes
/// segments, sqlite_schema.cc creates, opens and converts the file.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pgw::audit::sqlite {

/// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void text(int i, const std::string& v) { bindText(s_, i, v); }
  void i64(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }

  static void bindText(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

inline std::string columnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p == nullptr ? std::string()
                      : std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

}  // namespace pgw::audit::sqlite
