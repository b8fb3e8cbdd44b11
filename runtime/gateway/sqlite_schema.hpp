// The store's schema and its versions (docs/DESIGN.md, Durability): a new file gets the
// first release's schema and then every migration; an older file gets the migrations it
// lacks, forward only, each in one transaction with its version; a file newer than this
// gateway knows is refused, never guessed at.
#pragma once

#include <sqlite3.h>

#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

// The version this build writes and reads.
int latest_schema_version();

// Brings the open database to latest_schema_version(), logging each migration. Throws
// std::runtime_error (naming `path`) when the file is newer than this gateway or a
// migration fails; a failed migration leaves the file at the version before it.
void migrate_schema(sqlite3* db, Log& log, const std::string& path);

}  // namespace lifeline::runtime
