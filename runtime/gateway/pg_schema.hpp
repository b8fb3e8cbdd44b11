// The PostgreSQL store's schema and its versions, on the SQLite store's rules
// (docs/DESIGN.md, Durability): version 1 is created whole, later versions are forward
// migrations, and a database newer than this gateway knows is refused. The fleet's
// gateways may start together: the whole check runs in one transaction under an
// advisory lock, so exactly one of them migrates.
#pragma once

#include <string>

#include "core/ports.hpp"
#include "runtime/gateway/pg_connection.hpp"

namespace lifeline::runtime {

int latest_pg_schema_version();

// Throws std::runtime_error naming `where` (the redacted URL) when the database is newer
// than this gateway, malformed, or a migration fails (rolled back whole).
void migrate_pg_schema(PgConnection& db, Log& log, const std::string& where, PgDeadline deadline);

}  // namespace lifeline::runtime
