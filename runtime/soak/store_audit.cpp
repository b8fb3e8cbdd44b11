#include "runtime/soak/store_audit.hpp"

#include <sqlite3.h>

#include <map>
#include <unordered_map>

namespace lifeline::soak {

namespace {

class Db {
 public:
  Db(const std::string& path, bool writable) {
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      sqlite3_close(db_);
      db_ = nullptr;
    } else {
      sqlite3_busy_timeout(db_, 5000);
    }
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

std::string text_at(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}

}  // namespace

bool unique_command(const std::string& c) {
  return c.rfind("/echo ", 0) == 0;
}

void StoredEntries::add(const std::string& key, std::int64_t seq, const std::string& command) {
  by_entry[key + "\n" + std::to_string(seq)] = command;
  if (unique_command(command)) ++copies[{key, command}];
}

void judge_entries(const StoredEntries& rows, const std::vector<Ack>& acks, StoreReport& r) {
  for (const auto& a : acks) {
    ++r.checked;
    auto it = rows.by_entry.find(a.session_key + "\n" + std::to_string(a.seq));
    if (it == rows.by_entry.end() || it->second != a.command) {
      ++r.lost;
      if (r.examples.size() < 5)
        r.examples.push_back(
            "acknowledged entry " + a.session_key + "#" + std::to_string(a.seq) + " (" + a.command +
            ") is " + (it == rows.by_entry.end() ? "missing" : "another command: " + it->second));
    }
  }
  for (const auto& [entry, n] : rows.copies)
    if (n > 1) {
      r.duplicated += n - 1;
      if (r.examples.size() < 5)
        r.examples.push_back("entry '" + entry.second + "' of " + entry.first + " is stored " +
                             std::to_string(n) + " times");
    }
}

StoreReport audit_store(const std::string& db_path, const std::vector<Ack>& acks) {
  StoreReport r;
  Db db(db_path, false);
  if (!db.get()) return r;
  r.opened = true;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(), "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK) {
    r.integrity.clear();
    while (sqlite3_step(s) == SQLITE_ROW)
      r.integrity += (r.integrity.empty() ? "" : "; ") + text_at(s, 0);
    if (r.integrity.empty()) r.integrity = "no answer";
  }
  sqlite3_finalize(s);

  StoredEntries rows;
  if (sqlite3_prepare_v2(db.get(), "SELECT session_key, seq, command FROM transcript", -1, &s,
                         nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string key = text_at(s, 0), command = text_at(s, 2);
      rows.add(key, sqlite3_column_int64(s, 1), command);
    }
  }
  sqlite3_finalize(s);
  judge_entries(rows, acks, r);
  if (sqlite3_prepare_v2(db.get(), "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL", -1, &s,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    r.sessions_open = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return r;
}

namespace {
bool run(const std::string& db_path, const char* sql, const Ack& ack) {
  Db db(db_path, true);
  sqlite3_stmt* s = nullptr;
  bool ok = db.get() && sqlite3_prepare_v2(db.get(), sql, -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_bind_text(s, 1, ack.session_key.c_str(), -1, SQLITE_TRANSIENT) == SQLITE_OK &&
            sqlite3_bind_int64(s, 2, ack.seq) == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE &&
            sqlite3_changes(db.get()) == 1;
  sqlite3_finalize(s);
  return ok;
}
}  // namespace

bool plant_lost_entry(const std::string& db_path, const Ack& ack) {
  return run(db_path, "DELETE FROM transcript WHERE session_key = ? AND seq = ?", ack);
}

bool plant_duplicate_entry(const std::string& db_path, const Ack& ack) {
  return run(db_path,
             "INSERT INTO transcript(session_key, seq, at, command, ok, text) "
             "SELECT session_key, seq + 1000000, at, command, ok, text FROM transcript "
             "WHERE session_key = ? AND seq = ?",
             ack);
}

}  // namespace lifeline::soak
