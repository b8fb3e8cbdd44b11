// JSON-RPC 2.0 codec: decode one client message into a request or an error reply,
// and render responses and events. Pure functions; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/json.hpp"

namespace lifeline::rpc {

// Error codes of docs/PROTOCOL.md.
enum Code : int {
  parse_error = -32700,
  invalid_request = -32600,
  method_not_found = -32601,
  invalid_params = -32602,
  internal_error = -32603,
  session_not_found = 4001,
  empty_command = 4004,
  nothing_to_resume = 4007,
  pty_not_found = 4008,
  session_taken_over = 4009,
  session_not_held = 4010,
  session_elsewhere = 4011,
  limit_reached = 4290,
  input_limit = 4291,
  message_too_large = 4130,
  worker_spawn_failed = 5030,
  worker_exited = 5031,
  worker_timed_out = 5032,
  store_unavailable = 5033,
};

// Nesting deeper than this is refused before parsing: a recursive parser must not be
// handed a megabyte of '['.
inline constexpr int max_json_depth = 64;

struct Request {
  Json id;                    // string, integer or null
  bool notification = false;  // no "id" member: no reply is sent
  std::string method;
  Json params = Json::object();
};

struct DecodeError {
  Json id;  // null unless the id could be read
  int code;
  std::string message;
};

// Parses text as JSON without exceptions; nullopt when malformed or too deep.
std::optional<Json> parse_json_bounded(std::string_view text, int max_depth = max_json_depth);

std::variant<Request, DecodeError> decode(std::string_view text, std::size_t max_bytes);

std::string result(const Json& id, Json result);
std::string error(const Json& id, int code, std::string_view message, const Json& data = Json());
std::string event(std::string_view type, const std::string* session_id, Json payload);
// The same text as event() with payload[field] = base64, without dump() looking at each
// byte of it (base64 needs no escaping): a terminal's output is most of what the gateway
// sends, and escaping it was its largest cost (docs/BENCHMARKS.md, the terminal path).
std::string event_with_base64(std::string_view type, const std::string* session_id, Json payload,
                              const std::string& field, std::string_view base64);

}  // namespace lifeline::rpc
