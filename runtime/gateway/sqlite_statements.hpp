// Prepared statements for the store thread, each prepared once and reused: parsing the
// SQL costs more than running these small statements, and a warm slash.exec pays for
// every statement of its batch. Used by one thread at a time (the store's).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace lifeline::runtime {

class Statements {
 public:
  explicit Statements(sqlite3* db) : db_(db) {}
  ~Statements();  // finalizes every statement: destroy before closing the database
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;

  sqlite3* db() const { return db_; }
  // The statement for sql, prepared on first use; null if it does not prepare.
  sqlite3_stmt* get(const char* sql);
  // Runs one statement that returns no rows; false on error.
  bool run(const char* sql);

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// One use of a cached statement: bind, step, read; reset and unbound when it goes.
class Stmt {
 public:
  Stmt(Statements& statements, const char* sql) : s_(statements.get(sql)) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, std::int64_t v);
  int step();  // an SQLite result code (SQLITE_ERROR when it did not prepare)
  std::int64_t i64(int col);
  std::string text(int col);
  bool null(int col);

 private:
  sqlite3_stmt* s_;
};

}  // namespace lifeline::runtime
