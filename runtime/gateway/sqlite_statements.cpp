#include "runtime/gateway/sqlite_statements.hpp"

#include <sqlite3.h>

namespace lifeline::runtime {

Statements::~Statements() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
}

sqlite3_stmt* Statements::get(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return nullptr;
  }
  cache_.emplace(sql, s);
  return s;
}

bool Statements::run(const char* sql) {
  Stmt s(*this, sql);
  return s.step() == SQLITE_DONE;
}

Stmt::~Stmt() {
  if (!s_) return;
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::bind(int i, const std::string& v) {
  if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (s_) sqlite3_bind_int64(s_, i, v);
  return *this;
}

int Stmt::step() {
  return s_ ? sqlite3_step(s_) : SQLITE_ERROR;
}

std::int64_t Stmt::i64(int col) {
  return sqlite3_column_int64(s_, col);
}

std::string Stmt::text(int col) {
  auto* p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : "";
}

bool Stmt::null(int col) {
  return sqlite3_column_type(s_, col) == SQLITE_NULL;
}

}  // namespace lifeline::runtime
