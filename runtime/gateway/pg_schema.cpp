#include "runtime/gateway/pg_schema.hpp"

#include <charconv>
#include <iterator>
#include <optional>
#include <stdexcept>

namespace lifeline::runtime {

namespace {

// Version 1. Never edited: a change is a migration below. Strings a client may send
// (commands) and a worker may print (output) are bytea: kept byte for byte, NUL included,
// which a text column refuses.
const char* base_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id text PRIMARY KEY,
  session_key text NOT NULL,
  title text NOT NULL,
  close_on_disconnect bigint NOT NULL,
  created_at bigint NOT NULL,
  ended_at bigint,
  end_reason text,
  instance text NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_key ON sessions (session_key);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (instance) WHERE ended_at IS NULL;
CREATE TABLE IF NOT EXISTS transcript (
  session_key text NOT NULL,
  seq bigint NOT NULL,
  at bigint NOT NULL,
  command bytea NOT NULL,
  ok bigint NOT NULL,
  text bytea NOT NULL,
  PRIMARY KEY (session_key, seq)
);
)sql";

struct Migration {
  int to;
  const char* why;
  const char* sql;
};

// Forward only, in order; each one's `to` is the next version (version 1 is the base).
constexpr Migration migrations[] = {
    {1, "", ""},
    {2, "instance leases, and at most one open session per history (docs/DESIGN.md rule 15)",
     "CREATE TABLE leases (instance text PRIMARY KEY, holder text NOT NULL, expires_at bigint "
     "NOT NULL, lost boolean NOT NULL DEFAULT false);"
     "CREATE UNIQUE INDEX sessions_one_open_per_key ON sessions (session_key) WHERE ended_at IS "
     "NULL;"},
};

// An arbitrary constant: the lock every lifeline gateway takes to check the schema.
constexpr const char* schema_lock = "SELECT pg_advisory_xact_lock(7310567264312245001)";

[[noreturn]] void refuse(const std::string& where, const std::string& what) {
  throw std::runtime_error("store " + where + ": " + what);
}

}  // namespace

int latest_pg_schema_version() {
  return migrations[std::size(migrations) - 1].to;
}

void migrate_pg_schema(PgConnection& db, Log& log, const std::string& where, PgDeadline deadline) {
  auto give_up = [&](const std::string& what) {
    std::string why = db.error();
    if (db.connected()) db.exec("ROLLBACK", deadline);
    refuse(where, what + ": " + why);
  };
  auto step = [&](const std::string& sql, const std::string& what) {
    if (!db.exec(sql, deadline)) give_up(what);
  };
  step("BEGIN", "cannot begin the schema check");
  step(schema_lock, "cannot lock the schema");
  step(base_schema, "cannot create the base schema");
  std::optional<std::string> stored;
  if (!db.run_sql("SELECT value FROM meta WHERE key='schema_version'", {}, deadline,
                  [&stored](const PgRow& row) { stored = row.bytes(0); })
           .ok)
    give_up("cannot read the schema version");
  int version = 1;
  if (!stored) {
    step("INSERT INTO meta(key, value) VALUES('schema_version', '1')",
         "cannot record the schema version");
  } else {
    auto [end, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), version);
    if (ec != std::errc() || end != stored->data() + stored->size() || version < 1) {
      db.exec("ROLLBACK", deadline);
      refuse(where, "its schema_version is not a version number");
    }
  }
  if (version > latest_pg_schema_version()) {
    db.exec("ROLLBACK", deadline);
    refuse(where, "has schema version " + std::to_string(version) +
                      ", newer than this gateway knows (" +
                      std::to_string(latest_pg_schema_version()) +
                      "): run the newer gateway, or restore a backup");
  }
  for (const Migration& m : migrations) {
    if (m.to <= version) continue;
    step(m.sql, "migrating the schema to version " + std::to_string(m.to));
    step("UPDATE meta SET value='" + std::to_string(m.to) + "' WHERE key='schema_version'",
         "recording schema version " + std::to_string(m.to));
    log.write(LogLevel::info, "store: schema migrated from version " + std::to_string(version) +
                                  " to " + std::to_string(m.to) + " (" + m.why + ")");
    version = m.to;
  }
  step("COMMIT", "cannot commit the schema check");
}

}  // namespace lifeline::runtime
