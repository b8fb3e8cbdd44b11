#include "runtime/gateway/sqlite_schema.hpp"

#include <charconv>
#include <stdexcept>

namespace lifeline::runtime {

namespace {

// Version 1, the first release's schema. Never edited: a change is a migration below.
const char* base_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  session_key TEXT NOT NULL,
  title TEXT NOT NULL,
  close_on_disconnect INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  ended_at INTEGER,
  end_reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_key ON sessions(session_key);
CREATE TABLE IF NOT EXISTS transcript (
  session_key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  command TEXT NOT NULL,
  ok INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (session_key, seq)
);
CREATE TABLE IF NOT EXISTS children (
  pid INTEGER NOT NULL,
  start_ticks INTEGER NOT NULL,
  pgid INTEGER NOT NULL,
  cgroup TEXT NOT NULL,
  PRIMARY KEY (pid, start_ticks)
);
)sql";

struct Migration {
  int to;
  const char* why;
  const char* sql;
};

// Forward only, in order; each one's `to` is the next version.
constexpr Migration migrations[] = {
    {2, "record which gateway (--instance) ran each session; index the sessions left open",
     "ALTER TABLE sessions ADD COLUMN instance TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX IF NOT EXISTS sessions_open ON sessions(ended_at) WHERE ended_at IS NULL;"},
};

bool exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
}

// The stored version: 0 for a new file, -1 when the row is not a version number.
int stored_version(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st,
                         nullptr) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    std::string value = text ? text : "";
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), version);
    if (ec != std::errc() || end != value.data() + value.size() || version < 1) version = -1;
  }
  sqlite3_finalize(st);
  return version;
}

[[noreturn]] void refuse(sqlite3* db, const std::string& path, const std::string& what) {
  std::string detail = sqlite3_errmsg(db);
  throw std::runtime_error("store " + path + ": " + what +
                           (detail == "not an error" ? "" : " (" + detail + ")"));
}

}  // namespace

int latest_schema_version() {
  return migrations[std::size(migrations) - 1].to;
}

void migrate_schema(sqlite3* db, Log& log, const std::string& path) {
  if (!exec(db, base_schema)) refuse(db, path, "cannot create the base schema");
  int version = stored_version(db);
  if (version < 0) refuse(db, path, "its schema_version is not a version number");
  if (version == 0) {
    if (!exec(db, "INSERT INTO meta(key, value) VALUES('schema_version', '1')"))
      refuse(db, path, "cannot record the schema version");
    version = 1;
  }
  if (version > latest_schema_version())
    refuse(db, path,
           "has schema version " + std::to_string(version) + ", newer than this gateway knows (" +
               std::to_string(latest_schema_version()) +
               "): run the newer gateway, or restore a backup");
  for (const Migration& m : migrations) {
    if (m.to <= version) continue;
    std::string step = std::string("BEGIN IMMEDIATE;") + m.sql + "UPDATE meta SET value='" +
                       std::to_string(m.to) + "' WHERE key='schema_version';COMMIT;";
    if (!exec(db, step)) {
      std::string detail = sqlite3_errmsg(db);
      exec(db, "ROLLBACK");
      std::string what = "store " + path;
      what += ": migrating the schema to version " + std::to_string(m.to);
      what += " failed: " + detail;
      throw std::runtime_error(what);
    }
    std::string line = "store: schema migrated from version " + std::to_string(version);
    line += " to " + std::to_string(m.to);
    line += std::string(" (") + m.why + ")";
    log.write(LogLevel::info, line);
    version = m.to;
  }
}

}  // namespace lifeline::runtime
