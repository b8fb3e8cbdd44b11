#include "runtime/gateway/pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

namespace lifeline::runtime {

namespace {

constexpr unsigned int8_oid = 20;
constexpr unsigned text_oid = 25;
constexpr unsigned bytea_oid = 17;

// libpq's messages end with a newline and may span lines: one log line.
std::string one_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s.empty() ? std::string("unknown error") : s;
}

}  // namespace

PgParam PgParam::i64(std::int64_t v) {
  std::string b(8, '\0');
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i, u >>= 8)
    b[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
  return {int8_oid, std::move(b)};
}

PgParam PgParam::text(std::string_view v) {
  return {text_oid, std::string(v)};
}

PgParam PgParam::bytea(std::string_view v) {
  return {bytea_oid, std::string(v)};
}

bool PgRow::null(int col) const {
  return PQgetisnull(r_, row_, col) != 0;
}

std::int64_t PgRow::i64(int col) const {
  if (null(col) || PQgetlength(r_, row_, col) != 8) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row_, col));
  std::uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
  return static_cast<std::int64_t>(u);
}

std::string PgRow::bytes(int col) const {
  if (null(col)) return {};
  return std::string(PQgetvalue(r_, row_, col),
                     static_cast<std::size_t>(PQgetlength(r_, row_, col)));
}

PgConnection::PgConnection(std::string conninfo, std::vector<Statement> statements)
    : conninfo_(std::move(conninfo)), statements_(std::move(statements)) {}

PgConnection::~PgConnection() {
  close();
}

void PgConnection::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

bool PgConnection::fail(std::string why) {
  error_ = std::move(why);
  // A connection whose state we no longer know is not reused: the server rolls back
  // whatever it held when the socket closes.
  close();
  return false;
}

bool PgConnection::wait(short events, PgDeadline deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{PQsocket(conn_), events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool PgConnection::connect(PgDeadline deadline, std::initializer_list<const char*> setup) {
  close();
  conn_ = PQconnectStart(conninfo_.c_str());
  if (!conn_) return fail("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) return fail(one_line(PQerrorMessage(conn_)));
  for (;;) {
    PostgresPollingStatusType st = PQconnectPoll(conn_);
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) return fail(one_line(PQerrorMessage(conn_)));
    if (!wait(st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, deadline))
      return fail("connecting timed out");
  }
  if (PQsetnonblocking(conn_, 1) != 0) return fail(one_line(PQerrorMessage(conn_)));
  for (const char* sql : setup)
    if (!exec(sql, deadline)) return false;
  for (const auto& s : statements_) {
    if (!PQsendPrepare(conn_, s.name, s.sql, static_cast<int>(s.types.size()), s.types.data()))
      return fail(one_line(PQerrorMessage(conn_)));
    if (!flush(deadline) || !collect(deadline, {}).ok) {
      if (conn_) close();
      error_ = "preparing " + std::string(s.name) + ": " + error_;
      return false;
    }
  }
  return true;
}

bool PgConnection::flush(PgDeadline deadline) {
  for (;;) {
    int f = PQflush(conn_);
    if (f == 0) return true;
    if (f < 0) return fail(one_line(PQerrorMessage(conn_)));
    if (!wait(POLLIN | POLLOUT, deadline)) return fail("sending timed out");
    if (!PQconsumeInput(conn_)) return fail(one_line(PQerrorMessage(conn_)));
  }
}

PgOutcome PgConnection::collect(PgDeadline deadline,
                                const std::function<void(const PgRow&)>& on_row) {
  PgOutcome out{true, 0};
  std::string statement_error;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!wait(POLLIN, deadline)) {
        fail("the database did not answer in time");
        return {};
      }
      if (!PQconsumeInput(conn_)) {
        fail(one_line(PQerrorMessage(conn_)));
        return {};
      }
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    switch (PQresultStatus(r)) {
      case PGRES_SINGLE_TUPLE:
      case PGRES_TUPLES_OK:
        if (on_row)
          for (int i = 0; i < PQntuples(r); ++i) on_row(PgRow(r, i));
        break;
      case PGRES_COMMAND_OK: {
        const char* n = PQcmdTuples(r);
        if (n && *n) out.affected = std::strtoll(n, nullptr, 10);
        break;
      }
      default:
        out.ok = false;
        statement_error = one_line(PQresultErrorMessage(r));
        break;
    }
    PQclear(r);
  }
  if (PQstatus(conn_) == CONNECTION_BAD) {
    fail(statement_error.empty() ? one_line(PQerrorMessage(conn_)) : statement_error);
    return {};
  }
  if (!out.ok) error_ = statement_error;
  return out;
}

bool PgConnection::exec(std::string_view sql, PgDeadline deadline) {
  if (!conn_) return fail(error_.empty() ? "not connected" : error_);
  std::string text(sql);
  if (!PQsendQuery(conn_, text.c_str())) return fail(one_line(PQerrorMessage(conn_)));
  if (!flush(deadline)) return false;
  return collect(deadline, {}).ok;
}

PgOutcome PgConnection::send_and_collect(const std::function<int(pg_conn*)>& send,
                                         PgDeadline deadline,
                                         const std::function<void(const PgRow&)>& on_row) {
  if (!conn_) {
    fail(error_.empty() ? "not connected" : error_);
    return {};
  }
  if (!send(conn_)) {
    fail(one_line(PQerrorMessage(conn_)));
    return {};
  }
  if (on_row) PQsetSingleRowMode(conn_);
  if (!flush(deadline)) return {};
  return collect(deadline, on_row);
}

namespace {

struct Binary {
  std::vector<unsigned> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  explicit Binary(const std::vector<PgParam>& params) : formats(params.size(), 1) {
    for (const auto& p : params) {
      types.push_back(p.oid);
      values.push_back(p.bytes.data());
      lengths.push_back(static_cast<int>(p.bytes.size()));
    }
  }
  int n() const { return static_cast<int>(values.size()); }
};

}  // namespace

PgOutcome PgConnection::run(const char* name, const std::vector<PgParam>& params,
                            PgDeadline deadline, const std::function<void(const PgRow&)>& on_row) {
  Binary b(params);
  return send_and_collect(
      [&](pg_conn* c) {
        return PQsendQueryPrepared(c, name, b.n(), b.values.data(), b.lengths.data(),
                                   b.formats.data(), /*resultFormat=*/1);
      },
      deadline, on_row);
}

PgOutcome PgConnection::run_sql(const std::string& sql, const std::vector<PgParam>& params,
                                PgDeadline deadline,
                                const std::function<void(const PgRow&)>& on_row) {
  Binary b(params);
  return send_and_collect(
      [&](pg_conn* c) {
        return PQsendQueryParams(c, sql.c_str(), b.n(), b.types.data(), b.values.data(),
                                 b.lengths.data(), b.formats.data(), /*resultFormat=*/1);
      },
      deadline, on_row);
}

}  // namespace lifeline::runtime
