#include "policy/kind_names.h"

#include <array>
#include <cctype>

#include "sql/kind_table.h"

namespace pgw::policy {
namespace {

using K = sql::StatementKind;
using sql::kinds::KindEntry;
using sql::kinds::kKinds;

std::string upperWords(std::string_view snake) {
  std::string out;
  out.reserve(snake.size());
  for (char c : snake) {
    out += c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

/// Kinds whose display takes the object type ("DROP" + "table" -> "DROP TABLE").
bool takesObjectType(K kind) {
  return kind == K::Create || kind == K::Alter || kind == K::Drop || kind == K::Comment;
}

}  // namespace

std::string_view kindName(sql::StatementKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < kKinds.size() ? kKinds[i].name : std::string_view("unknown");
}

std::optional<sql::StatementKind> kindFromName(std::string_view name) {
  for (const KindEntry& e : kKinds) {
    if (e.name == name) return e.kind;
  }
  return std::nullopt;
}

std::string kindDisplay(sql::StatementKind kind, std::string_view object_type) {
  const auto i = static_cast<std::size_t>(kind);
  if (i >= kKinds.size()) return "an unknown statement";
  const KindEntry& e = kKinds[i];
  std::string out = e.display.empty() ? upperWords(e.name) : std::string(e.display);
  if (takesObjectType(kind) && !object_type.empty()) {
    out += ' ';
    out += upperWords(object_type);
  }
  return out;
}

}  // namespace pgw::policy
